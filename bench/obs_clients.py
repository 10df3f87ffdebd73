"""How to read OBS from the FunctionGraph zip: the alternatives side by side.

Each alternative is a real zip built the way ``make package`` builds it (for this
interpreter's version, so every package installs), then unpacked and run in a fresh
interpreter with nothing but the zip on ``sys.path`` (``python -S``) and no bytecode cache
(the code folder of a function is read-only, so each cold start compiles what it imports),
as FunctionGraph runs it: import the handler and the client, build the client with
temporary credentials, read one object from moto server through a recording forwarder. The
forwarder shows what reached the server: the object's bytes came back, and the security
token was on the request.

* ``boto3``          today's zip (``EXTRAS=aws``): boto3 through OBS's S3 API — the baseline;
* ``boto3_trimmed``  the same with botocore's service models cut to S3 alone;
* ``esdk_obs_v4``    Huawei's OBS SDK (``esdk-obs-python``), AWS V4 signature, ``x-amz-security-token``
                     (its own OBS signature, with ``x-obs-security-token``, needs virtual-host
                     addressing — the SDK falls back to V2 with path style — which a server on
                     127.0.0.1 cannot take; its zip and import are the same);
* ``ocrflow_obs``    the product's zip: the ``obs://`` store, signed requests over ``requests``.

Run alone: ``python bench/obs_clients.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AK, SK, TOKEN = "TEMPAKBENCH", "TEMPSKBENCH", "TEMPTOKENBENCH"
BASELINE = "boto3"

PRELUDE = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
endpoint, bucket, key, ak, sk, token = sys.argv[2:8]
import handler  # the function's own import, paid by every alternative
"""
CLIENTS = {
    "boto3": """
import boto3
from botocore.config import Config
client = boto3.session.Session().client(
    "s3", endpoint_url=endpoint, region_name="cn-north-4", aws_access_key_id=ak,
    aws_secret_access_key=sk, aws_session_token=token, config=Config(s3={"addressing_style": "path"}))
t1 = time.perf_counter()
body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
""",
    "esdk_obs_v4": """
from obs import ObsClient
client = ObsClient(access_key_id=ak, secret_access_key=sk, security_token=token, server=endpoint,
                   signature="v4", region="cn-north-4", path_style=True, is_signature_negotiation=False)
t1 = time.perf_counter()
body = client.getObject(bucket, key, loadStreamInMemory=True).body.buffer
""",
    "ocrflow_obs": """
from ocrflow.core.signer import Credentials
from ocrflow.adapters.stores.obs import open_store
client = open_store("obs://?endpoint=" + endpoint).scoped(Credentials(ak, sk, token), "cn-north-4")
t1 = time.perf_counter()
body = client.get(bucket, key)
""",
}
CLIENTS["boto3_trimmed"] = CLIENTS["boto3"]
CLIENTS = {k: CLIENTS[k] for k in ("boto3", "boto3_trimmed", "esdk_obs_v4", "ocrflow_obs")}
ZIPS = {"boto3": "boto3", "boto3_trimmed": "boto3_trimmed", "esdk_obs_v4": "esdk_obs",
        "ocrflow_obs": "ocrflow_obs"}
EPILOGUE = """
t2 = time.perf_counter()
import hashlib, json
print(json.dumps({"import_ms": (t1 - t0) * 1000, "read_ms": (t2 - t1) * 1000,
                  "sha256": hashlib.sha256(body).hexdigest()}))
"""


def _package(out: Path, extras: str) -> None:
    env = {**os.environ, "EXTRAS": extras, "VENV": str(Path(sys.executable).parents[1]),
           "FG_PYTHON": f"{sys.version_info.major}.{sys.version_info.minor}"}
    subprocess.run(["bash", "scripts/package_functiongraph.sh", str(out)], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True)


def _unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(into)
    return into


def _zip(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, path.relative_to(folder).as_posix())
    return out


def build(work: Path) -> dict[str, Path]:
    """One zip per alternative; the unpacked folder of each."""
    zips = {}
    _package(work / "ocrflow_obs.zip", "")
    zips["ocrflow_obs"] = work / "ocrflow_obs.zip"
    _package(work / "boto3.zip", "aws")
    zips["boto3"] = work / "boto3.zip"

    trimmed = _unpack(zips["boto3"], work / "boto3_trimmed.d")
    data = trimmed / "botocore" / "data"
    for service in data.iterdir():
        if service.is_dir() and service.name != "s3":  # top-level files (endpoints, partitions) stay
            shutil.rmtree(service)
    zips["boto3_trimmed"] = _zip(trimmed, work / "boto3_trimmed.zip")

    esdk = _unpack(zips["ocrflow_obs"], work / "esdk_obs.d")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--target", str(esdk),
                    "esdk-obs-python==3.26.6"], check=True, capture_output=True, text=True)
    shutil.rmtree(esdk / "bin", ignore_errors=True)
    zips["esdk_obs"] = _zip(esdk, work / "esdk_obs.zip")

    folders = {}
    for name, path in zips.items():
        folder = work / f"{name}.run"
        shutil.rmtree(folder, ignore_errors=True)
        folders[name] = _unpack(path, folder)
        folders[name + ".zip"] = path
    return folders


def measure(runs: int) -> dict[str, Any]:
    import boto3

    from tests.integration.conftest import free_port, port_open
    from tests.support.recording_forwarder import RecordingForwarder

    port = free_port()
    moto = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="ocrflow-obs-bench-"))
    forwarder = None
    try:
        for _ in range(100):
            if port_open(port):
                break
            time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")  # noqa: S106 - moto
        s3.create_bucket(Bucket="bench-obs")
        payload = os.urandom(256 * 1024)
        s3.put_object(Bucket="bench-obs", Key="uploads/scan 01.png", Body=payload)
        forwarder = RecordingForwarder(endpoint)
        folders = build(work)
        samples: dict[str, dict[str, list[float]]] = {n: {"import": [], "read": [], "cold": []}
                                                      for n in CLIENTS}
        checks: dict[str, dict[str, Any]] = {}
        env = {"PATH": os.environ.get("PATH", ""), "RUNTIME_CODE_ROOT": "/tmp",  # noqa: S108
               "POWERTOOLS_LOG_LEVEL": "ERROR", "PYTHONDONTWRITEBYTECODE": "1"}
        for _ in range(runs):  # interleaved: every alternative sees the same machine state
            for name, code in CLIENTS.items():
                before = len(forwarder.requests)
                script = textwrap.dedent(PRELUDE + code + EPILOGUE)
                run = subprocess.run([sys.executable, "-S", "-c", script, str(folders[ZIPS[name]]),
                                      forwarder.url, "bench-obs", "uploads/scan 01.png", AK, SK, TOKEN],
                                     env=env, capture_output=True, text=True, timeout=120)
                if run.returncode != 0:
                    checks[name] = {"error": run.stderr.strip().splitlines()[-1][:200]}
                    continue
                got = json.loads(run.stdout.strip().splitlines()[-1])
                samples[name]["import"].append(got["import_ms"])
                samples[name]["read"].append(got["read_ms"])
                samples[name]["cold"].append(got["import_ms"] + got["read_ms"])
                sent = forwarder.requests[before:]
                token_headers = sorted({h for r in sent for h, v in r.headers.items() if v == TOKEN})
                checks[name] = {"read_ok": got["sha256"] == __import__("hashlib").sha256(payload).hexdigest(),
                                "requests": len(sent), "token_header": ",".join(token_headers) or None}
        out: dict[str, Any] = {"runs": runs, "baseline": BASELINE, "alternatives": {}}
        for name in CLIENTS:
            zip_path = folders[ZIPS[name] + ".zip"]
            with zipfile.ZipFile(zip_path) as z:
                files = len(z.namelist())
            row: dict[str, Any] = {"zip_mb": round(zip_path.stat().st_size / 1e6, 2), "files": files,
                                   **checks.get(name, {})}
            if samples[name]["import"]:
                row["import_ms"] = round(statistics.median(samples[name]["import"]), 1)
                row["first_read_ms"] = round(statistics.median(samples[name]["read"]), 1)
                # what a cold start pays in all: ours imports requests on the first read,
                # the SDKs import their HTTP stack with the client
                row["cold_read_ms"] = round(statistics.median(samples[name]["cold"]), 1)
            out["alternatives"][name] = row
        base = out["alternatives"][BASELINE]
        for row in out["alternatives"].values():
            row["zip_ratio"] = round(row["zip_mb"] / base["zip_mb"], 3)
            row["files_ratio"] = round(row["files"] / base["files"], 3)
            if "cold_read_ms" in row and "cold_read_ms" in base:
                row["cold_ratio"] = round(row["cold_read_ms"] / base["cold_read_ms"], 3)
        return out
    finally:
        if forwarder is not None:
            forwarder.stop()
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def print_rows(result: dict[str, Any]) -> None:
    print(f"\nreading OBS from the FunctionGraph zip ({result['runs']} fresh processes each; "
          f"ratios against {result['baseline']}):")
    print(f"  {'alternative':15s} {'zip MB':>7s} {'files':>6s} {'import ms':>10s} {'+1st read ms':>13s} "
          f"{'zip':>6s} {'files':>6s} {'cold':>6s}  read, token header")
    for name, r in result["alternatives"].items():
        print(f"  {name:15s} {r['zip_mb']:>7} {r['files']:>6} {r.get('import_ms', '-')!s:>10} "
              f"{r.get('cold_read_ms', '-')!s:>13} {r['zip_ratio']:>6} {r['files_ratio']:>6} "
              f"{r.get('cold_ratio', '-')!s:>6}  "
              f"{'ok' if r.get('read_ok') else r.get('error', 'FAILED')}, {r.get('token_header')}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "shared"))
    sys.path.insert(0, str(ROOT))
    result = measure(args.runs)
    print(json.dumps(result, indent=2))
    print_rows(result)


if __name__ == "__main__":
    main()
