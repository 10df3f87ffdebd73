"""The FunctionGraph zip imports and runs its handler on a sample OBS event in a clean
virtualenv (no ocrflow installed, no keys in the environment), with a context that has exactly
FunctionGraph's methods: temporary credentials and the request id come from the context, and
the object is read from OBS's S3 API (moto behind a recording forwarder) with them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
import venv
import zipfile
from pathlib import Path
from typing import Any

from ocrflow.core.signer import verify
from tests.conftest import ROOT, load_event
from tests.integration.test_aws_adapters import png
from tests.integration.test_aws_adapters import s3 as s3  # noqa: F401 - fixture
from tests.support.recording_forwarder import RecordingForwarder
from tests.support.replay_server import Answer, ReplayServer

RUNNER = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import handler

    class Context:  # the FunctionGraph Python context's methods
        def getRequestID(self): return "fg-request-1"
        def getRemainingTimeInMilliSeconds(self): return 60000
        def getSecurityAccessKey(self): return "TEMPAKFG"
        def getSecuritySecretKey(self): return "TEMPSKFG"
        def getSecurityToken(self): return "TEMPTOKENFG"
        def getUserData(self, key): return None
        def getFunctionName(self): return "ocrflow-recognize"
        def getLogger(self): return None

    event = json.load(open(sys.argv[2]))
    print(json.dumps(handler.handler(event, Context())))
''')


def test_zip_runs_in_a_clean_virtualenv(tmp_path: Path, replay: ReplayServer, s3: Any,  # noqa: F811
                                        moto_endpoint: str) -> None:
    zip_path = tmp_path / "fg.zip"
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {**os.environ, "FG_PYTHON": py, "VENV": str(Path(sys.executable).parents[1])}
    build = subprocess.run(["bash", "scripts/package_functiongraph.sh", str(zip_path)], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    code = tmp_path / "code"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(code)
    assert (code / "handler.py").exists() and (code / "redrive_handler.py").exists()
    # tools, not function code
    assert (code / "ocrflow" / "handler.py").exists()
    assert not any((code / "ocrflow" / tool).exists() for tool in ("emulator", "chaos", "outputs"))
    # OBS is read with signed requests: no AWS SDK in the zip
    assert not [p for p in ("boto3", "botocore", "s3transfer") if (code / p).exists()]

    clean = tmp_path / "venv"
    venv.create(clean, with_pip=False)
    python = clean / "bin" / "python"
    bare = {"PATH": os.environ.get("PATH", "")}  # no PYTHONPATH: only what the zip carries
    probe = subprocess.run([str(python), "-c", "import ocrflow"], env=bare, capture_output=True, text=True)
    assert probe.returncode != 0  # nothing installed: the zip must carry everything

    event = load_event("obs_native_v3.json")
    bucket = f"ocrflow-obs-{uuid.uuid4().hex[:10]}"
    event["Records"][0]["obs"]["bucket"].update(name=bucket, bucket=bucket)
    obj = event["Records"][0]["obs"]["object"]
    for field in ("eTag", "size"):
        obj.pop(field)
    (tmp_path / "event.json").write_text(json.dumps(event))
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="receipts/2026/小票 01.png", Body=png())
    (tmp_path / "runner.py").write_text(RUNNER)
    forwarder = RecordingForwarder(moto_endpoint)
    ces = ReplayServer()  # Cloud Eye, where metrics go by default on FunctionGraph
    ces.default = Answer(status=201, body=b"")
    run_env = {"PATH": os.environ.get("PATH", ""), "OBJECT_STORE_URL": f"obs://?endpoint={forwarder.url}",
               "OCR_ENDPOINT": replay.url, "OCR_PROJECT_ID": "fg-project", "RUNTIME_CODE_ROOT": str(code),
               "RUNTIME_PROJECT_ID": "fg-function-project", "CES_ENDPOINT": ces.url,
               "OCRFLOW_STATE_DIR": str(tmp_path / "state")}
    try:
        run = subprocess.run([str(python), str(tmp_path / "runner.py"), str(code),
                              str(tmp_path / "event.json")],
                             env=run_env, capture_output=True, text=True, timeout=120)
    finally:
        forwarder.stop()
        ces.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["counts"]["results"] == 1
    sent = replay.received[0]
    assert sent.headers["X-Security-Token"] == "TEMPTOKENFG"
    assert "Access=TEMPAKFG," in sent.headers["Authorization"]
    assert verify("POST", sent.path, "", sent.headers, sent.body, {"TEMPAKFG": "TEMPSKFG"}) == "TEMPAKFG"
    reads = [r for r in forwarder.requests if r.method in ("HEAD", "GET")]
    assert reads and all(r.headers["x-amz-security-token"] == "TEMPTOKENFG" and
                         r.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=TEMPAKFG/")
                         for r in reads)
    # the zip's own code reports to Cloud Eye, signed with the same temporary keys
    [metrics] = ces.received
    assert metrics.path == "/V1.0/fg-function-project/metric-data"
    assert verify("POST", metrics.path, "", metrics.headers, metrics.body,
                  {"TEMPAKFG": "TEMPSKFG"}) == "TEMPAKFG"
    assert '"_aws"' not in run.stderr
    logs = [json.loads(line) for line in run.stderr.splitlines() if line.startswith('{"level"')]
    assert logs and all(line["function_request_id"] == "fg-request-1" for line in logs)
    with sqlite3.connect(tmp_path / "state" / "queues.db") as db:
        [(body,)] = db.execute("SELECT body FROM messages WHERE queue = 'results'").fetchall()
    assert json.loads(body)["subject"] == "receipts/2026/小票 01.png"
