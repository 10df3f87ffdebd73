"""The Lambda layer the template deploys (scripts/build_layer.sh): the library and its
runtime dependencies, without the tools, and the recognize handler runs from it in a clean
virtualenv laid out as Lambda does (layer in python/, function code beside)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_event
from tests.integration.test_aws_adapters import png
from tests.support.replay_server import ReplayServer
from tests.unit.test_template import load

RUNNER = textwrap.dedent('''
    import json, sys
    sys.path[:0] = [sys.argv[1], sys.argv[2]]  # /var/task, then /opt/python
    import handler

    class Context:
        aws_request_id = "lambda-request-1"
        function_name = "ocrflow-recognize"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ocrflow-recognize"
        def get_remaining_time_in_millis(self): return 60000

    print(json.dumps(handler.handler(json.load(open(sys.argv[3])), Context())))
''')


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The layer, built for this interpreter's version, and a clean virtualenv (nothing
    installed: only the layer and the function code are on its path)."""
    tmp = tmp_path_factory.mktemp("layer")
    layer = tmp / "layer"
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {**os.environ, "LAYER_PYTHON": py, "VENV": str(Path(sys.executable).parents[1])}
    build = subprocess.run(["bash", "scripts/build_layer.sh", str(layer)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    venv.create(tmp / "venv", with_pip=False)
    yield layer, tmp / "venv" / "bin" / "python"


def test_layer_lacks_the_tools_and_runs_the_handler(tmp_path: Path, replay: ReplayServer,
                                                    built: tuple[Path, Path]) -> None:
    layer, python = built
    package = layer / "python" / "ocrflow"
    assert (package / "handler.py").exists() and (package / "data" / "catalogue.json").exists()
    assert not any((package / tool).exists() for tool in ("emulator", "chaos", "outputs"))
    # the layer the template deploys is this build
    assert load()["Resources"]["OcrflowLayer"]["Properties"]["ContentUri"] == "dist/layer/"

    event = load_event("s3_put.json")
    obj = event["Records"][0]["s3"]["object"]
    for field in ("eTag", "versionId", "size"):
        obj.pop(field, None)
    (tmp_path / "event.json").write_text(json.dumps(event))
    upload = tmp_path / "buckets" / event["Records"][0]["s3"]["bucket"]["name"] / \
        "invoices" / "2026" / "scan 01.png"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(png())
    (tmp_path / "runner.py").write_text(RUNNER)
    run_env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_FUNCTION_NAME": "ocrflow-recognize",
               "OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(), "OCR_ENDPOINT": replay.url,
               "OCR_PROJECT_ID": "p", "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK",
               "OCRFLOW_STATE_DIR": str(tmp_path / "state")}
    run = subprocess.run([str(python), str(tmp_path / "runner.py"),
                          str(ROOT / "functions" / "recognize"), str(layer / "python"),
                          str(tmp_path / "event.json")],
                         env=run_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["counts"]["results"] == 1, summary
    assert summary["outcomes"][0]["key"] == "invoices/2026/scan 01.png"
    assert len(replay.received) == 1


@pytest.mark.parametrize(("variable", "url", "package", "extra"), [
    ("RESULT_QUEUE_URL", "redis://127.0.0.1:6379/0?stream=results", "redis", "redis"),
    ("FAILURE_QUEUE_URL", "amqp://guest:guest@127.0.0.1:5672/%2F?queue=failures", "pika", "amqp"),
    ("RESULT_QUEUE_URL", "kafka://127.0.0.1:9092/results", "confluent_kafka", "kafka"),
    ("IDEMPOTENCY_STORE_URL", "dynamodb://ocrflow-idempotency", "boto3", "aws"),
    ("OBJECT_STORE_URL", "s3://", "boto3", "aws"),
])
def test_a_backend_whose_extra_is_missing_stops_the_start_in_one_line(
        tmp_path: Path, built: tuple[Path, Path], variable: str, url: str, package: str,
        extra: str) -> None:
    """The layer carries no queue extras (and no boto3): a URL that needs one stops
    ``ocrflow invoke`` before any record, with one line naming the variable and the extra."""
    layer, python = built
    (tmp_path / "event.json").write_text(json.dumps(load_event("s3_put.json")))
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(layer / "python"),
           "OBJECT_STORE_URL": tmp_path.as_uri(), "OCRFLOW_STATE_DIR": str(tmp_path / "state"),
           variable: url}
    run = subprocess.run([str(python), "-m", "ocrflow.cli", "invoke", "event.json"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    scheme = url.split(":")[0]
    assert run.stderr.splitlines() == [
        f"ocrflow: configuration error: {variable}: {scheme}:// needs the {package} package, "
        f"which is not installed: pip install 'ocrflow[{extra}]'"]
    assert run.stdout == "" and not (tmp_path / "state").exists()
