"""ocrflow benchmarks: every figure is a median of repeated runs, with its baseline measured
in the same run, interleaved. Run through ``make bench`` (which installs the official
Huawei SDK in its own virtualenv as the baseline).

    python bench/run.py --sdk-python bench/.venv-sdk/bin/python \
        --runtime-python bench/.venv-runtime/bin/python [--quick] [--only a,b]

Figures that start a fresh process (cold start, first result, memory) run ocrflow from
``--runtime-python``: a virtualenv holding only ``shared/requirements.txt``, as the deployed
function does, the same way the SDK runs from a virtualenv holding only the SDK.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(ROOT))

from bench import obs_clients  # noqa: E402 - after the paths above

AK, SK, PROJECT = "BENCHAK", "BENCHSK", "bench-project"
ENV_BASE = {"PYTHONPATH": str(ROOT / "shared"), "PATH": os.environ.get("PATH", "")}


# --- helpers ------------------------------------------------------------------------------------
class Emulator:
    """The emulator in its own process, so it does not share the measured process's GIL."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocrflow.cli", "emulator", "--port", "0",
             "--credentials", json.dumps({AK: SK}), *args],
            env={**os.environ, **ENV_BASE}, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        self.url = line.split(" on ")[1].split()[0]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def png(width: int = 200, height: int = 80, noise: bool = False) -> bytes:
    from PIL import Image

    if noise:
        img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        img = Image.new("L", (width, height), 255)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def ratio(ours: list[float], baseline: list[float]) -> float:
    """Median against median, both from the same run."""
    return round(statistics.median(ours) / statistics.median(baseline), 3)


#: CPU seconds (user + system) of the last process timed_process ran: on a shared machine
#: its wall time also holds the time others' work kept it waiting; its CPU time does not
LAST_CPU = [0.0]


def timed_process(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, out.stdout


def settings_env(tmp: Path, endpoint: str, **extra: str) -> dict[str, str]:
    return {"OBJECT_STORE_URL": (tmp / "buckets").as_uri(), "OCRFLOW_STATE_DIR": str(tmp / "state"),
            "OCR_ENDPOINT": endpoint + "/{region}", "OCR_PROJECT_ID": PROJECT,
            "HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "POWERTOOLS_LOG_LEVEL": "ERROR",
            **extra}


SDK_IMPORT = ("from huaweicloudsdkocr.v1 import OcrClient, RecognizeGeneralTextRequest, "
              "GeneralTextRequestBody\nfrom huaweicloudsdkcore.auth.credentials import BasicCredentials")
RSS = "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"

# Peak memory of the processing alone: the kernel's high-water mark (VmHWM) is reset just
# before the work (``5`` into /proc/self/clear_refs), so what the import touched does not
# hide it, and read after; the multiple is (peak - resident at reset) / file size.
MEMORY = '''
def _status(field):
    import re
    return int(re.search(field + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))
def reset_peak():
    open("/proc/self/clear_refs", "w").write("5")
    return _status("VmRSS")
'''

SDK_CALL = MEMORY + textwrap.dedent('''
    import base64, sys, time
    t0 = time.perf_counter()
    from huaweicloudsdkocr.v1 import OcrClient, RecognizeGeneralTextRequest, GeneralTextRequestBody
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkcore.region.region import Region
    endpoint, path, ak, sk, project, n = sys.argv[1:7]
    config = HttpConfig.get_default_config()
    client = (OcrClient.new_builder().with_http_config(config)
              .with_credentials(BasicCredentials(ak, sk, project))
              .with_region(Region("cn-north-4", endpoint)).build())
    def call(path):
        data = open(path, "rb").read()
        body = GeneralTextRequestBody(image=base64.b64encode(data).decode())
        client.recognize_general_text(RecognizeGeneralTextRequest(body=body))
    if len(sys.argv) > 7:
        call(sys.argv[7])  # warm-up: a small image, so that both measure the image alone
    base = reset_peak()
    for _ in range(int(n)):
        data = open(path, "rb").read()
        body = GeneralTextRequestBody(image=base64.b64encode(data).decode())
        client.recognize_general_text(RecognizeGeneralTextRequest(body=body))
        del data, body
    print(time.perf_counter() - t0, base, _status("VmHWM"))
''')

# one record of any outcome: the counts of the handler's answer, the peak and the process's
# absolute high-water mark (the interpreter and the libraries included)
ANY_OUTCOME_CALL = MEMORY + textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import handler
    def event(key):
        return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bench"},
                "object": {"key": key}}}]}
    handler.handler(event(sys.argv[3]), None)  # warm-up: a small image
    base = reset_peak()
    out = handler.handler(event(sys.argv[2]), None)
    print(json.dumps({"counts": out["counts"], "base_kb": base, "peak_kb": _status("VmHWM")}))
''')

BATCH_CALL = MEMORY + textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import handler
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bench"},
             "object": {"key": key}}} for key in sys.argv[2:]]}
    out = handler.handler(event, None)
    print(json.dumps({"counts": out["counts"], "peak_kb": _status("VmHWM")}))
''')

OURS_CALL = MEMORY + textwrap.dedent('''
    import sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, sys.argv[1])
    import handler
    def event(key):
        return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bench"},
                "object": {"key": key}}}]}
    if len(sys.argv) > 3:
        handler.handler(event(sys.argv[3]), None)  # warm-up: a small image
    base = reset_peak()
    out = handler.handler(event(sys.argv[2]), None)
    assert out["counts"]["results"] == 1, out
    print(time.perf_counter() - t0, base, _status("VmHWM"))
''')


# --- 1. cold start ------------------------------------------------------------------------------
# what any handler built on the project's named packages pays before its own first line:
# structlog, and pydantic with one model built (the validated configuration)
FLOOR_IMPORT = ("import structlog\nfrom pydantic import BaseModel\n"
                "class Settings(BaseModel):\n    region: str = 'cn-north-4'\n")


def cold_start(sdk_python: str, runtime_python: str, runs: int) -> dict[str, Any]:
    cmds = {"ours": ([runtime_python, "-c", "import handler" + RSS], ROOT / "functions" / "recognize"),
            "sdk": ([sdk_python, "-c", SDK_IMPORT + RSS], None),
            "floor": ([runtime_python, "-c", FLOOR_IMPORT + RSS], None),
            "interpreter": ([runtime_python, "-c", "pass" + RSS], None)}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[int]] = {k: [] for k in cmds}
    for _ in range(runs):  # interleaved: all see the same machine state
        for name, (cmd, cwd) in cmds.items():
            t, stdout = timed_process(cmd, ENV_BASE, cwd)
            times[name].append(t)
            cpu[name].append(LAST_CPU[0])
            rss[name].append(int(stdout.split()[-1]))
    out: dict[str, Any] = {"runs": runs}
    for name in cmds:
        out[f"{name}_ms"] = median_ms(times[name])
        out[f"{name}_rss_mb"] = round(statistics.median(rss[name]) / 1024, 1)
    out["ratio"] = ratio(times["ours"], times["sdk"])
    out["floor_ratio"] = ratio(times["floor"], times["sdk"])
    out["ours_cpu_ms"], out["sdk_cpu_ms"] = median_ms(cpu["ours"]), median_ms(cpu["sdk"])
    out["floor_cpu_ms"] = median_ms(cpu["floor"])
    out["cpu_ratio"] = ratio(cpu["ours"], cpu["sdk"])
    return out


def first_message(sdk_python: str, runtime_python: str, runs: int) -> dict[str, Any]:
    """Fresh process → first result: import + configuration + one call (+ publish for ours)."""
    emu = Emulator("--no-recognition")
    try:
        ours_t, sdk_t, ours_c, sdk_c = [], [], [], []
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            image = png()
            (tmp / "img.png").write_bytes(image)
            for i in range(runs):
                (tmp / "buckets" / "bench").mkdir(parents=True, exist_ok=True)
                (tmp / "buckets" / "bench" / f"f{i}.png").write_bytes(png(200 + i, 80))
                env = {**ENV_BASE, **settings_env(tmp, emu.url, OCRFLOW_STATE_DIR=str(tmp / f"s{i}"))}
                t, _ = timed_process([runtime_python, "-c", OURS_CALL, str(ROOT / "functions" / "recognize"),
                                      f"f{i}.png"], env)
                ours_t.append(t)
                ours_c.append(LAST_CPU[0])
                t, _ = timed_process([sdk_python, "-c", SDK_CALL, emu.url, str(tmp / "img.png"), AK, SK,
                                      PROJECT, "1"], {"PATH": ENV_BASE["PATH"]})
                sdk_t.append(t)
                sdk_c.append(LAST_CPU[0])
    finally:
        emu.stop()
    return {"runs": runs, "ours_ms": median_ms(ours_t), "sdk_ms": median_ms(sdk_t),
            "ratio": ratio(ours_t, sdk_t), "ours_cpu_ms": median_ms(ours_c),
            "sdk_cpu_ms": median_ms(sdk_c), "cpu_ratio": ratio(ours_c, sdk_c)}


# --- 1b. the layout: the same handler in the tree before the move into layered packages ------------
#: The last commit before ocrflow's modules moved into layered subpackages (``--baseline-ref``).
PRE_LAYOUT_REF = "dd7c69f"


def layout_vs_baseline(runtime_python: str, ref: str, runs: int) -> dict[str, Any]:
    """Importing the handler, and a fresh process → first result, in this tree and in the tree
    at ``ref`` (a temporary git worktree): interleaved, the same interpreter, the same
    emulator, so the ratios say what the layout costs."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = tmp / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), ref],
                       check=True, capture_output=True)
        emu = Emulator("--no-recognition")
        try:
            trees = {"ours": ROOT, "baseline": base}
            imports: dict[str, list[float]] = {k: [] for k in trees}
            firsts: dict[str, list[float]] = {k: [] for k in trees}
            (tmp / "buckets" / "bench").mkdir(parents=True)
            for i in range(runs):
                for name, tree in trees.items():
                    env = {**ENV_BASE, "PYTHONPATH": str(tree / "shared")}
                    t, _ = timed_process([runtime_python, "-c", "import handler" + RSS], env,
                                         tree / "functions" / "recognize")
                    imports[name].append(t)
                for name, tree in trees.items():
                    key = f"{name}{i}.png"
                    (tmp / "buckets" / "bench" / key).write_bytes(png(200 + i, 80))
                    env = {**ENV_BASE, "PYTHONPATH": str(tree / "shared"),
                           **settings_env(tmp, emu.url, OCRFLOW_STATE_DIR=str(tmp / f"s-{name}{i}"))}
                    t, _ = timed_process([runtime_python, "-c", OURS_CALL,
                                          str(tree / "functions" / "recognize"), key], env)
                    firsts[name].append(t)
        finally:
            emu.stop()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False, capture_output=True)
    return {"ref": ref, "runs": runs,
            "import_ms": median_ms(imports["ours"]), "baseline_import_ms": median_ms(imports["baseline"]),
            "import_ratio": ratio(imports["ours"], imports["baseline"]),
            "first_result_ms": median_ms(firsts["ours"]),
            "baseline_first_result_ms": median_ms(firsts["baseline"]),
            "first_result_ratio": ratio(firsts["ours"], firsts["baseline"])}


# --- 2. overhead per record ------------------------------------------------------------------------
def overhead(records: int, repeats: int) -> dict[str, Any]:
    import requests

    from ocrflow.config.settings import load_settings
    from ocrflow.core.signer import Credentials, sign
    from ocrflow.handler import handle
    from ocrflow.observability.log import configure
    from ocrflow.runtime import build_runtime

    emu = Emulator("--no-recognition")
    ours, bare = [], []
    try:
        for rep in range(repeats):
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                folder = tmp / "buckets" / "bench"
                folder.mkdir(parents=True)
                images = [png(200 + (i % 50), 80 + rep) for i in range(records)]
                for i, data in enumerate(images):
                    (folder / f"r{i}.png").write_bytes(data)
                settings = load_settings(settings_env(tmp, emu.url, OCR_MAX_CONCURRENCY="1"))
                configure("bench", "ERROR", io.StringIO())
                rt = build_runtime(settings)
                rt.metrics.stream = io.StringIO()
                # as S3 sends them: with the object's size and ETag
                events = [{"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                    "bucket": {"name": "bench"}, "object": {
                        "key": f"r{i}.png", "size": len(data),
                        "eTag": hashlib.md5(data, usedforsecurity=False).hexdigest()}}}]}
                    for i, data in enumerate(images)]
                # bare: the same bodies, signed, one session, no pipeline
                session = requests.Session()
                creds = Credentials(AK, SK)
                url = f"{emu.url}/cn-north-4/v2/{PROJECT}/ocr/general-text"
                bodies = [json.dumps({"image": base64.b64encode(d).decode()}).encode() for d in images]
                handle(events[0], None, rt=rt)  # warm: connections, sqlite files
                session.post(url, data=bodies[0], headers=sign("POST", url, {
                    "Content-Type": "application/json;charset=utf8"}, bodies[0], creds), timeout=10)
                # interleaved in blocks of 20, so that both sides see the same machine state
                bare_s = ours_s = 0.0
                for start in range(1, records, 20):
                    t0 = time.perf_counter()
                    for body in bodies[start:start + 20]:
                        headers = sign("POST", url, {"Content-Type": "application/json;charset=utf8"},
                                       body, creds)
                        r = session.post(url, data=body, headers=headers, timeout=10)
                        assert r.status_code == 200
                    t1 = time.perf_counter()
                    for event in events[start:start + 20]:
                        out = handle(event, None, rt=rt)
                        assert out["counts"]["results"] == 1, out
                    ours_s += time.perf_counter() - t1
                    bare_s += t1 - t0
                bare.append(bare_s / (records - 1))
                ours.append(ours_s / (records - 1))
                rt.close()
    finally:
        emu.stop()
    return {"records": records, "repeats": repeats, "ours_ms_per_record": median_ms(ours),
            "bare_ms_per_record": median_ms(bare),
            "ratio": ratio(ours, bare)}


# --- 3. burst -----------------------------------------------------------------------------------------
def burst(repeats: int, concurrency: int = 10, latency_ms: int = 200) -> dict[str, Any]:
    from ocrflow.config.settings import load_settings
    from ocrflow.handler import handle
    from ocrflow.observability.log import configure
    from ocrflow.runtime import build_runtime

    emu = Emulator("--no-recognition", "--latency-ms", str(latency_ms))
    one: list[float] = []
    ten: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            folder.mkdir(parents=True)
            configure("bench", "ERROR", io.StringIO())
            rt = build_runtime(load_settings(
                settings_env(tmp, emu.url, OCR_MAX_CONCURRENCY=str(concurrency))))
            rt.metrics.stream = io.StringIO()
            n = 0

            def batch(size: int) -> dict[str, Any]:
                nonlocal n
                records = []
                for _ in range(size):
                    n += 1
                    (folder / f"b{n}.png").write_bytes(png(100 + n % 300, 60 + n // 300))
                    records.append({"messageId": f"m{n}", "eventSource": "aws:sqs", "body": json.dumps(
                        {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                            "bucket": {"name": "bench"}, "object": {"key": f"b{n}.png"}}}]})})
                return {"Records": records}

            handle(batch(1), None, rt=rt)  # warm
            for _ in range(repeats):
                for size, out in ((1, one), (10, ten)):
                    event = batch(size)
                    t0 = time.perf_counter()
                    assert handle(event, None, rt=rt) == {"batchItemFailures": []}
                    out.append(time.perf_counter() - t0)
            rt.close()
    finally:
        emu.stop()
    return {"latency_ms": latency_ms, "concurrency": concurrency, "one_record_ms": median_ms(one),
            "batch_of_ten_ms": median_ms(ten),
            "ratio": ratio(ten, one)}


# A local stand-in for Cloud Eye's metric-data endpoint: answers 201 after ``latency`` seconds,
# in its own process like the emulator, and counts what it took.
CES_SERVER = textwrap.dedent('''
    import sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    latency = float(sys.argv[1])
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        def log_message(self, *args): pass
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(latency)
            signed = "SDK-HMAC-SHA256" in self.headers.get("Authorization", "")
            ok = self.path.endswith("/metric-data") and signed
            self.send_response(201 if ok else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
''')


def cloud_eye_metrics(invocations: int, latency_ms: int = 30) -> dict[str, Any]:
    """One upload per invocation, OCR_METRICS=ces (one signed request to a local Cloud Eye
    answering after ``latency_ms``) against emf (a line on a stream), interleaved. Also when
    each invocation's records were done (published), which the metrics must not delay."""
    from ocrflow.config.settings import load_settings
    from ocrflow.handler import handle
    from ocrflow.observability.log import configure
    from ocrflow.runtime import build_runtime

    emu = Emulator("--no-recognition")
    ces = subprocess.Popen([sys.executable, "-c", CES_SERVER, str(latency_ms / 1000)],
                           stdout=subprocess.PIPE, text=True)
    ces_url = ces.stdout.readline().strip()  # type: ignore[union-attr]
    total: dict[str, list[float]] = {"emf": [], "ces": []}
    records_done: dict[str, list[float]] = {"emf": [], "ces": []}
    warnings = io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            folder.mkdir(parents=True)
            configure("bench", "WARNING", warnings)
            runtimes = {mode: build_runtime(load_settings(settings_env(
                tmp / mode, emu.url, OCR_METRICS=mode, CES_ENDPOINT=ces_url,
                OBJECT_STORE_URL=(tmp / "buckets").as_uri()))) for mode in total}
            runtimes["emf"].metrics.stream = io.StringIO()
            flushed_at = [0.0]
            for rt in runtimes.values():
                flush = rt.metrics.flush

                def timed_flush(*args: Any, _flush: Callable[..., Any] = flush) -> Any:
                    flushed_at[0] = time.perf_counter()  # every record is published by now
                    return _flush(*args)

                rt.metrics.flush = timed_flush
            n = 0

            def upload() -> dict[str, Any]:
                nonlocal n
                n += 1
                data = png(100 + n % 300, 60 + n // 300)
                (folder / f"c{n}.png").write_bytes(data)
                return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                    "bucket": {"name": "bench"}, "object": {
                        "key": f"c{n}.png", "size": len(data),
                        "eTag": hashlib.md5(data, usedforsecurity=False).hexdigest()}}}]}

            for mode in total:  # warm: connections, sqlite files
                handle(upload(), None, rt=runtimes[mode])
            for i in range(invocations):
                for mode in (("emf", "ces") if i % 2 == 0 else ("ces", "emf")):
                    event = upload()
                    t0 = time.perf_counter()
                    out = handle(event, None, rt=runtimes[mode])
                    total[mode].append(time.perf_counter() - t0)
                    records_done[mode].append(flushed_at[0] - t0)
                    assert out["counts"]["results"] == 1, out
            for rt in runtimes.values():
                rt.close()
    finally:
        emu.stop()
        ces.terminate()
        ces.wait(10)
    assert "metrics not sent" not in warnings.getvalue(), warnings.getvalue()[-500:]
    return {"invocations": invocations, "latency_ms": latency_ms,
            "ces_ms": median_ms(total["ces"]), "emf_ms": median_ms(total["emf"]),
            "added_ms": round(median_ms(total["ces"]) - median_ms(total["emf"]), 2),
            "ratio": ratio(total["ces"], total["emf"]),
            "records_done_ces_ms": median_ms(records_done["ces"]),
            "records_done_emf_ms": median_ms(records_done["emf"]),
            "records_done_ratio": ratio(records_done["ces"], records_done["emf"])}


def run_folder(files: int, latency_ms: int = 100) -> dict[str, Any]:
    emu = Emulator("--no-recognition", "--latency-ms", str(latency_ms))
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "docs"
            folder.mkdir()
            for i in range(files):
                (folder / f"doc{i:04d}.png").write_bytes(png(100 + i % 300, 60 + i // 300))
            env = {**os.environ, **ENV_BASE, **settings_env(tmp, emu.url)}
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "ocrflow.cli", "run", str(folder)], env=env,
                                 cwd=tmp, capture_output=True, text=True, check=True)
            elapsed = time.perf_counter() - t0
            assert f"{files} results" in out.stdout, out.stdout[-500:]
    finally:
        emu.stop()
    return {"files": files, "latency_ms": latency_ms, "concurrency": 8, "seconds": round(elapsed, 2),
            "files_per_s": round(files / elapsed, 1), "ideal_files_per_s": round(8 * 1000 / latency_ms, 1)}


# --- 3b. fleet-wide rate limit ---------------------------------------------------------------------
def _shared_store(tag: str, tmp: Path) -> tuple[str, str]:
    """Redis when it is up (as a fleet would share it), else one sqlite file (one machine)."""
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        return f"redis://127.0.0.1:6379/0?prefix=ocrflow-bench-{tag}-{os.getpid()}-{time.time_ns()}:", "redis"
    except Exception:  # noqa: BLE001 - no Redis here: the machine-local store
        return f"sqlite:///{tmp / 'shared-idempotency.db'}", "sqlite"


#: (figure, OCR_MAX_CALLS_PER_SECOND as a multiple of the gateway's limit, the gateway's window)
FLEET_MODES = (("without", None, "second"), ("with", 1, "second"), ("too_high", 2, "second"),
               ("sliding_without", None, "sliding"), ("sliding_with", 1, "sliding"))


def fleet(processes: int, uploads: int, qps: int, concurrency: int = 8,
          latency_ms: int = 100, modes: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``processes`` × ``ocrflow run`` (standing in for function instances) on ``uploads``
    files against an emulator that throttles above ``qps`` calls/s: without a limit, with
    OCR_MAX_CALLS_PER_SECOND = qps, and with it set twice too high (the AIMD decrease has
    to find the real rate); against a gateway counting each second of its clock, and one
    counting any one-second window (without a limit, the baseline, and with it)."""
    import requests

    out: dict[str, Any] = {"processes": processes, "concurrency": concurrency, "uploads": uploads,
                           "qps": qps, "latency_ms": latency_ms,
                           "ideal_s": round(uploads / qps, 2)}
    for mode, multiple, window in FLEET_MODES:
        if modes is not None and mode not in modes:
            continue
        limit = None if multiple is None else multiple * qps
        emu = Emulator("--no-recognition", "--latency-ms", str(latency_ms), "--qps", str(qps),
                       "--qps-window", window)
        try:
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                store, out["store"] = _shared_store(mode, tmp)
                procs = []
                for p in range(processes):
                    folder = tmp / f"instance{p}"
                    folder.mkdir()
                    for i in range(p, uploads, processes):
                        (folder / f"doc{i:05d}.png").write_bytes(png(100 + i % 300, 60 + i // 300))
                env = {**os.environ, **ENV_BASE, **settings_env(tmp, emu.url),
                       "IDEMPOTENCY_STORE_URL": store, "OCR_MAX_CONCURRENCY": str(concurrency)}
                if limit is not None:
                    env["OCR_MAX_CALLS_PER_SECOND"] = str(limit)
                t0 = time.perf_counter()
                for p in range(processes):
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "ocrflow.cli", "run", str(tmp / f"instance{p}")],
                        env={**env, "OCRFLOW_STATE_DIR": str(tmp / f"state{p}")}, cwd=tmp,
                        stdout=open(tmp / f"out{p}.txt", "w"), stderr=subprocess.DEVNULL))  # noqa: SIM115
                # the calling period, seen from the provider's side: first call to last success
                first = last = None
                seen = 0
                while any(proc.poll() is None for proc in procs):
                    stats = requests.get(f"{emu.url}/_emulator/stats", timeout=10).json()
                    now = time.perf_counter()
                    if first is None and stats["total"]:
                        first = now
                    if stats["success"] != seen:
                        seen, last = stats["success"], now
                    time.sleep(0.05)
                elapsed = time.perf_counter() - t0
                texts = [(tmp / f"out{p}.txt").read_text() for p in range(processes)]
            stats = requests.get(f"{emu.url}/_emulator/stats", timeout=10).json()
        finally:
            emu.stop()
        calling = (last or elapsed) - (first or 0.0)
        counts = [_run_counts(text) for text in texts]
        results = sum(c["results"] for c in counts)
        out[mode] = {
            "seconds": round(elapsed, 2),
            "wall_vs_ideal": round(elapsed / (uploads / qps), 3),
            "calling_s": round(calling, 2),
            # successful calls per second while the fleet was calling (start-up is in "seconds")
            "goodput_per_s": round(stats["success"] / calling, 2),
            "goodput_vs_qps": round(stats["success"] / calling / qps, 3),
            "calls": stats["total"],
            "throttled": stats["failed"],  # the only refusals this emulator makes
            "throttled_share": round(stats["failed"] / max(stats["total"], 1), 4),
            "uploads_ok": results,
            # a failure message published; a record given back (unpublished) is not failed:
            # on a platform the queue redelivers it, ``ocrflow run`` only reports it
            "uploads_failed": sum(c["failures"] for c in counts),
            "uploads_given_back": sum(c["unpublished"] for c in counts),
        }
    return out


def _run_counts(text: str) -> dict[str, int]:
    """The counts on ``ocrflow run``'s summary line."""
    import re

    m = re.search(r"(\d+) results, (\d+) failures, (\d+) already processed, (\d+) not published", text)
    assert m, text[-500:]
    return dict(zip(("results", "failures", "duplicates", "unpublished"), map(int, m.groups())))


# --- 4. memory ----------------------------------------------------------------------------------------
def memory(sdk_python: str, runtime_python: str, runs: int) -> dict[str, Any]:
    """Peak RSS growth while one large image is processed, as a multiple of its size. The
    largest file the API takes: 10 MB after base64 → about 7.5 MB; a 10 MB file is refused
    locally (OCRFLOW.FILE_TOO_LARGE) before it is downloaded."""
    emu = Emulator("--no-recognition")
    ours, sdk = [], []
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            folder.mkdir(parents=True)
            image = png(1560, 1560, noise=True)  # incompressible: the PNG is ~7.3 MB
            size = len(image)
            small = png()
            (tmp / "small.png").write_bytes(small)
            (tmp / "big.png").write_bytes(image)
            for i in range(runs):
                (folder / f"big{i}.png").write_bytes(image)
                (folder / f"small{i}.png").write_bytes(small)
                env = {**ENV_BASE, **settings_env(tmp, emu.url, OCRFLOW_STATE_DIR=str(tmp / f"s{i}"))}
                handler_dir = str(ROOT / "functions" / "recognize")
                _, out = timed_process([runtime_python, "-c", OURS_CALL, handler_dir,
                                        f"big{i}.png", f"small{i}.png"], env)
                _, base, peak = out.split()
                ours.append((int(peak) - int(base)) * 1024 / size)
                _, out = timed_process([sdk_python, "-c", SDK_CALL, emu.url, str(tmp / "big.png"), AK, SK,
                                        PROJECT, "1", str(tmp / "small.png")], {"PATH": ENV_BASE["PATH"]})
                _, base, peak = out.split()
                sdk.append((int(peak) - int(base)) * 1024 / size)
    finally:
        emu.stop()
    return {"file_mb": round(size / 1e6, 2), "runs": runs, "ours_multiple": round(statistics.median(ours), 2),
            "sdk_multiple": round(statistics.median(sdk), 2)}


def photo(width: int, height: int, sigma: float = 60) -> bytes:
    """A photo-like JPEG: a gradient under strong noise, so it compresses like a detailed
    photo (8160×6120 gives about 33 MB at quality 92)."""
    from PIL import Image

    grad = Image.linear_gradient("L").resize((width, height))
    bands = [Image.blend(Image.effect_noise((width, height), sigma), grad, 0.5) for _ in range(3)]
    buf = io.BytesIO()
    Image.merge("RGB", bands).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def long_pdf(pages: int, target_bytes: int) -> bytes:
    """A PDF of ``pages`` pages of noise images, about ``target_bytes`` in all."""
    from PIL import Image

    side = int((target_bytes / pages / 1.1) ** 0.5)  # noise in a PDF's JPEG: ~1.1 bytes/pixel
    images = [Image.merge("RGB", [Image.effect_noise((side, side), 60 + i % 5) for _ in range(3)])
              for i in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], quality=95)
    return buf.getvalue()


def documents_memory(runtime_python: str, runs: int) -> dict[str, Any]:
    """Peak RSS growth while a 50-page PDF of about 7 MB (split page by page) and a ~33 MB
    photo (fitted) are processed through the handler, beside the largest image the API takes
    whole (a 7.3 MB PNG) in the same run: absolute peaks, and each as a multiple of its file.

    ``warm``: the process first handled a small file of the same kind (as the image figure
    does), so the figure is the document's alone; ``first``: it handled only a small image
    before, so the figure includes importing pypdf (which imports Pillow) or Pillow."""
    from PIL import Image

    emu = Emulator("--no-recognition")
    files = {"image": png(1560, 1560, noise=True), "pdf": long_pdf(50, 7_000_000),
             "photo": photo(8160, 6120)}
    strip = io.BytesIO()
    Image.new("L", (31000, 16), 255).save(strip, "PNG")  # over 30000 px: fitted, in no time
    warm_ups = {"image": ("small.png", png()), "pdf": ("small.pdf", long_pdf(2, 1_300_000)),  # split
                "photo": ("strip.png", strip.getvalue())}
    suffix = {"image": "png", "pdf": "pdf", "photo": "jpg"}
    peaks: dict[str, list[float]] = {f"{k}/{w}": [] for k in files for w in ("warm", "first")}
    handler_dir = str(ROOT / "functions" / "recognize")
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            folder.mkdir(parents=True)
            for name, data in warm_ups.values():
                (folder / name).write_bytes(data)
            n = 0
            for _ in range(runs):
                for name, data in files.items():  # interleaved
                    for warm in ("warm", "first"):
                        if name == "image" and warm == "first":
                            continue  # the image's warm-up is the small image itself
                        n += 1
                        key = f"{name}{n}.{suffix[name]}"
                        (folder / key).write_bytes(data)
                        state = str(tmp / f"s{n}")
                        env = {**ENV_BASE, **settings_env(tmp, emu.url, OCRFLOW_STATE_DIR=state)}
                        before = warm_ups[name if warm == "warm" else "image"][0]
                        cmd = [runtime_python, "-c", OURS_CALL, handler_dir, key, before]
                        _, printed = timed_process(cmd, env)
                        _, base, peak = printed.split()
                        peaks[f"{name}/{warm}"].append((int(peak) - int(base)) / 1024)
    finally:
        emu.stop()
    out: dict[str, Any] = {"runs": runs, "pdf_pages": 50}
    for name, data in files.items():
        mb = statistics.median(peaks[f"{name}/warm"])
        out[name] = {"file_mb": round(len(data) / 1e6, 2), "peak_mb": round(mb, 1),
                     "multiple": round(mb * 1024 * 1024 / len(data), 2)}
        if peaks[f"{name}/first"]:
            out[name]["first_peak_mb"] = round(statistics.median(peaks[f"{name}/first"]), 1)
    return out


def hostile_memory(runtime_python: str, runs: int) -> dict[str, Any]:
    """Peak RSS of one record for the worst files, each in a fresh process warmed on a small
    image (the growth, and the process's absolute peak with the interpreter and libraries),
    beside the largest image the API takes whole measured in the same run, and how each
    ended (a coded failure before decoding, or a fitted result)."""
    from ocrflow.adapters.registry import open_queue
    from tests.support import hostile

    cases: dict[str, tuple[Callable[[], bytes], str]] = {
        "13000×13000 RGBA PNG": (lambda: hostile.png(13000, 13000), "png"),
        "13000×13000 16-bit grey PNG": (lambda: hostile.png(13000, 13000, bit_depth=16, colour_type=0),
                                        "png"),
        "PNG whose iCCP inflates to 1 GiB (card)": (lambda: hostile.iccp_bomb(1 << 30, 9000, 600), "png"),
        "PDF of 1.4 million objects": (lambda: hostile.many_objects_pdf(1_400_000, referenced=False), "pdf"),
        "60 MB of PDF page markers": (lambda: hostile.page_markers_pdf(60_000_000), "pdf"),
        "ZIP of 600,000 entries": (lambda: hostile.many_entries_zip(600_000), "zip"),
        "TIFF listing 15 million strips": (lambda: hostile.tiff_tag_flood(15_000_000), "tif"),
        "50-megapixel photo (fitted)": (lambda: photo(8160, 6120), "jpg"),
        "24-megapixel HEIC (fitted)": (lambda: hostile.heic_photo(5712, 4284), "heic"),
        "largest image taken whole (baseline)": (lambda: png(1560, 1560, noise=True), "png"),
    }
    emu = Emulator("--no-recognition")
    handler_dir = str(ROOT / "functions" / "recognize")
    out: dict[str, Any] = {"runs": runs, "target_mb": 256}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            (folder / "card").mkdir(parents=True)
            (folder / "small.png").write_bytes(png())
            routes = json.dumps([{"prefix": "card/", "api": "id-card"}])
            for n, (label, (make, suffix)) in enumerate(cases.items()):
                data = make()
                key = f"{'card/' if '(card)' in label else ''}file{n}.{suffix}"
                (folder / key).write_bytes(data)
                growth, absolute, outcome = [], [], ""
                for i in range(runs):
                    state = tmp / f"s{n}-{i}"
                    env = {**ENV_BASE, **settings_env(tmp, emu.url, OCRFLOW_STATE_DIR=str(state),
                                                      OCR_ROUTES=routes)}
                    _, printed = timed_process([runtime_python, "-c", ANY_OUTCOME_CALL, handler_dir, key,
                                                "small.png"], env)
                    report = json.loads(printed.strip().splitlines()[-1])
                    growth.append((report["peak_kb"] - report["base_kb"]) / 1024)
                    absolute.append(report["peak_kb"] / 1024)
                    failures = open_queue(f"sqlite:///{state / 'queues.db'}?queue=failures")
                    codes = [m["data"]["error"]["code"] for m in failures.dump() if m["subject"] == key]
                    failures.close()
                    outcome = codes[0] if codes else ("result" if report["counts"]["results"] else "none")
                out[label] = {"file_mb": round(len(data) / 1e6, 2), "outcome": outcome,
                              "peak_mb": round(statistics.median(growth), 1),
                              "process_peak_mb": round(statistics.median(absolute), 1)}
    finally:
        emu.stop()
    return out


def batch_memory(runtime_python: str, runs: int, size: int = 8) -> dict[str, Any]:
    """Peak RSS of one invocation of ``size`` large uploads, each process fresh: as the
    function runs it (its records reserving memory within OCR_MEMORY_MB=512), beside one
    record of the same file (the baseline) and the same batch with the reservations off
    (OCR_MEMORY_MB=65536)."""
    from tests.support import hostile

    cases: dict[str, tuple[Callable[[], bytes], str]] = {
        "63 MB scanned PDFs of 50 pages": (hostile.scanned_pdf, "pdf"),
        "50-megapixel photos, fitted": (lambda: hostile.noise_jpeg(8160, 6120), "jpg"),
    }
    emu = Emulator("--no-recognition")
    handler_dir = str(ROOT / "functions" / "recognize")
    out: dict[str, Any] = {"runs": runs, "batch": size, "function_mb": 512}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            folder = tmp / "buckets" / "bench"
            folder.mkdir(parents=True)
            for n, (label, (make, suffix)) in enumerate(cases.items()):
                data = make()
                keys = [f"batch{n}-{i}.{suffix}" for i in range(size)]
                for key in keys:
                    (folder / key).write_bytes(data)
                figures: dict[str, list[float]] = {"batch": [], "one": [], "unreserved": []}
                for i in range(runs):
                    for name, chosen, memory_mb in (("batch", keys, "512"), ("one", keys[:1], "512"),
                                                    ("unreserved", keys, "65536")):
                        env = {**ENV_BASE, **settings_env(tmp, emu.url, OCR_MEMORY_MB=memory_mb,
                                                          OCRFLOW_STATE_DIR=str(tmp / f"s{n}-{i}-{name}"))}
                        _, printed = timed_process([runtime_python, "-c", BATCH_CALL, handler_dir, *chosen],
                                                   env)
                        report = json.loads(printed.strip().splitlines()[-1])
                        assert report["counts"]["results"] == len(chosen), report
                        figures[name].append(report["peak_kb"] / 1024)
                out[label] = {"file_mb": round(len(data) / 1e6, 1),
                              **{f"{k}_peak_mb": round(statistics.median(v), 1) for k, v in figures.items()}}
    finally:
        emu.stop()
    return out


# --- 5. queue publish throughput ----------------------------------------------------------------------
def publish_throughput(n: int) -> dict[str, Any]:
    from ocrflow.adapters.registry import open_queue
    from ocrflow.contract.messages import ResultMessage, outgoing
    from ocrflow.core.models import ObjectRef

    def messages() -> list[Any]:
        ref = ObjectRef("bench", "k.png", None, "e" * 32, 100)
        return [outgoing(ResultMessage(function="recognize", ref=ref, api="general-text",
                                       region="cn-north-4",
                                       result={"words_block_list": [{"words": "x" * 1800}]}).event())
                for _ in range(n)]

    def rate(url: str, setup: Callable[[], None] | None = None) -> float | str:
        try:
            if setup:
                setup()
            queue = open_queue(url)
            msgs = messages()
            queue.publish(msgs[0])
            t0 = time.perf_counter()
            for m in msgs[1:]:
                queue.publish(m)
            elapsed = time.perf_counter() - t0
            queue.close()
            return round((n - 1) / elapsed, 1)
        except Exception as exc:  # noqa: BLE001 - a missing local service is reported, not fatal
            return f"not available ({type(exc).__name__})"

    out: dict[str, Any] = {"messages": n, "message_bytes": len(messages()[0].body)}
    with tempfile.TemporaryDirectory() as d:
        out["sqlite"] = rate(f"sqlite:///{d}/q.db?queue=bench")
    out["rabbitmq"] = rate(f"amqp://guest:guest@127.0.0.1:5672/%2F?queue=ocrflow-bench-{os.getpid()}")
    out["redis_streams"] = rate(f"redis://127.0.0.1:6379/0?stream=ocrflow-bench-{os.getpid()}")
    out["sqs_moto"] = _sqs_rate(rate)
    out["kafka_tansu"] = _kafka_rate(rate)
    return out


def _sqs_rate(rate: Callable[..., Any]) -> Any:
    from tests.integration.conftest import free_port, port_open

    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if port_open(port):
                break
            time.sleep(0.1)
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": "us-east-1"})  # moto accepts any keys
        import boto3
        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        return rate(url)
    finally:
        proc.terminate()


def _kafka_rate(rate: Callable[..., Any]) -> Any:
    """Kafka through the adapter against a real Kafka-protocol broker (Tansu, in memory)."""
    try:
        from tests.integration.kafka_broker import TansuBroker
    except Exception as exc:  # noqa: BLE001
        return f"not available ({type(exc).__name__})"
    with tempfile.TemporaryDirectory() as d:
        broker = TansuBroker(Path(d))
        try:
            broker.start()
            broker.create_topic("bench", partitions=1)
            return rate(broker.url("bench"))
        except Exception as exc:  # noqa: BLE001
            return f"not available ({type(exc).__name__})"
        finally:
            broker.stop()


# --- main -----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sdk-python", help="a Python with huaweicloudsdkocr installed (the baseline)")
    parser.add_argument("--runtime-python", default=sys.executable,
                        help="a Python with only ocrflow's runtime requirements (fresh-process figures)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repetitions, small sizes")
    parser.add_argument("--only", help="comma-separated figure names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--baseline-ref", default=PRE_LAYOUT_REF,
                        help="the git commit layout_vs_baseline compares this tree with "
                             f"(default {PRE_LAYOUT_REF}, before the layered packages)")
    args = parser.parse_args()
    q, sdk, rt = args.quick, args.sdk_python, args.runtime_python
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    steps: dict[str, tuple[bool, Callable[[], Any]]] = {  # name: (needs the SDK, figure)
        "cold_start_import": (True, lambda: cold_start(sdk, rt, 3 if q else 21)),
        "cold_start_first_message": (True, lambda: first_message(sdk, rt, 2 if q else 9)),
        "layout_vs_baseline": (False, lambda: layout_vs_baseline(rt, args.baseline_ref, 3 if q else 21)),
        "overhead_per_record": (False, lambda: overhead(20 if q else 200, 1 if q else 5)),
        "burst_batch_of_ten": (False, lambda: burst(1 if q else 7)),
        "burst_batch_of_ten_default_concurrency": (False, lambda: burst(1 if q else 5, concurrency=8)),
        "run_folder": (False, lambda: run_folder(40 if q else 500)),
        "metrics_cloud_eye": (False, lambda: cloud_eye_metrics(10 if q else 200)),
        "fleet_rate_limit": (False, lambda: fleet(2, 60, 20, concurrency=4) if q else fleet(4, 400, 20)),
        "memory_large_image": (True, lambda: memory(sdk, rt, 1 if q else 3)),
        "memory_documents": (False, lambda: documents_memory(rt, 1 if q else 3)),
        "memory_hostile_files": (False, lambda: hostile_memory(rt, 1 if q else 3)),
        "memory_batch": (False, lambda: batch_memory(rt, 1 if q else 3, 4 if q else 8)),
        "queue_publish": (False, lambda: publish_throughput(50 if q else 1000)),
        "obs_client_alternatives": (False, lambda: obs_clients.measure(2 if q else 9)),
    }
    only = args.only.split(",") if args.only else list(steps)
    unknown = [name for name in only if name not in steps]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(steps)}")
    needs_sdk = [name for name in only if steps[name][0]]
    if needs_sdk and not sdk:
        parser.error(f"--sdk-python is needed for {', '.join(needs_sdk)}")
    for name in only:
        t0 = time.perf_counter()
        results[name] = steps[name][1]()
        print(f"{name:42s} {json.dumps(results[name])}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwritten to {args.out}")


def print_table(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, Any, str]] = []
    if "cold_start_import" in r:
        c = r["cold_start_import"]
        rows += [
            ("cold start: import handler vs SDK client", f"{c['ours_ms']} ms", f"{c['sdk_ms']} ms",
             c["ratio"], "≤ 0.7"),
            ("  the same in CPU time", f"{c['ours_cpu_ms']} ms", f"{c['sdk_cpu_ms']} ms",
             c["cpu_ratio"], ""),
            ("  floor: structlog + one pydantic model", f"{c['floor_ms']} ms", f"{c['sdk_ms']} ms",
             c["floor_ratio"], ""),
            ("  interpreter alone", f"{c['interpreter_ms']} ms", "", "", ""),
            ("resident memory after import", f"{c['ours_rss_mb']} MB", f"{c['sdk_rss_mb']} MB",
             round(c["ours_rss_mb"] / c["sdk_rss_mb"], 3), ""),
        ]
    if "cold_start_first_message" in r:
        f = r["cold_start_first_message"]
        rows.append(("fresh process → first result", f"{f['ours_ms']} ms", f"{f['sdk_ms']} ms",
                     f["ratio"], "≤ 1.0"))
        rows.append(("  the same in CPU time", f"{f['ours_cpu_ms']} ms", f"{f['sdk_cpu_ms']} ms",
                     f["cpu_ratio"], ""))
    if "layout_vs_baseline" in r:
        lay = r["layout_vs_baseline"]
        rows.append((f"import handler vs the tree at {lay['ref']}", f"{lay['import_ms']} ms",
                     f"{lay['baseline_import_ms']} ms", lay["import_ratio"], "≤ 1.0"))
        rows.append(("  fresh process → first result, same", f"{lay['first_result_ms']} ms",
                     f"{lay['baseline_first_result_ms']} ms", lay["first_result_ratio"], "≤ 1.0"))
    if "overhead_per_record" in r:
        o = r["overhead_per_record"]
        rows.append(("per record: pipeline vs bare signed POST", f"{o['ours_ms_per_record']} ms",
                     f"{o['bare_ms_per_record']} ms", o["ratio"], "≤ 1.2"))
    for key, label in (("burst_batch_of_ten", "SQS batch of 10 vs 1 record (200 ms, conc. 10)"),
                       ("burst_batch_of_ten_default_concurrency", "same at the default concurrency 8")):
        if key in r:
            b = r[key]
            rows.append((label, f"{b['batch_of_ten_ms']} ms", f"{b['one_record_ms']} ms", b["ratio"],
                         "≤ 1.3" if key == "burst_batch_of_ten" else ""))
    if "run_folder" in r:
        f = r["run_folder"]
        rows.append((f"ocrflow run, {f['files']} files at 100 ms", f"{f['files_per_s']} files/s",
                     f"{f['ideal_files_per_s']} ideal",
                     round(f["files_per_s"] / f["ideal_files_per_s"], 3), ""))
    if "metrics_cloud_eye" in r:
        m = r["metrics_cloud_eye"]
        rows.append((f"invocation, Cloud Eye at {m['latency_ms']} ms vs EMF", f"{m['ces_ms']} ms",
                     f"{m['emf_ms']} ms", m["ratio"], ""))
        rows.append(("  records published by (metrics after them)", f"{m['records_done_ces_ms']} ms",
                     f"{m['records_done_emf_ms']} ms", m["records_done_ratio"], "1.0"))
    if "memory_large_image" in r:
        m = r["memory_large_image"]
        rows.append((f"peak memory, {m['file_mb']} MB image (× file)", f"{m['ours_multiple']}×",
                     f"{m['sdk_multiple']}×", round(m["ours_multiple"] / m["sdk_multiple"], 3), "≤ 3×"))
    if "memory_documents" in r:
        m = r["memory_documents"]
        image = m["image"]["peak_mb"]
        for name, label in (("image", "largest image taken whole"),
                            ("pdf", f"{m['pdf_pages']}-page PDF, split"), ("photo", "photo, fitted")):
            f = m[name]
            rows.append((f"peak memory, {f['file_mb']} MB {label}", f"{f['peak_mb']} MB ({f['multiple']}×)",
                         f"{image} MB", round(f["peak_mb"] / image, 3), "≤ 3× file"))
            if "first_peak_mb" in f:
                rows.append(("  the same as the process's first of its kind", f"{f['first_peak_mb']} MB",
                             f"{image} MB", round(f["first_peak_mb"] / image, 3), ""))
    if "memory_hostile_files" in r:
        h = r["memory_hostile_files"]
        base = h["largest image taken whole (baseline)"]["peak_mb"]
        for label, f in h.items():
            if isinstance(f, dict) and "baseline" not in label:
                rows.append((f"peak memory, {label}, {f['file_mb']} MB",
                             f"{f['peak_mb']} MB", f"{base} MB", round(f["peak_mb"] / base, 2),
                             f"≤ {h['target_mb']} MB"))
                rows.append((f"  process peak (interpreter included); {f['outcome']}",
                             f"{f['process_peak_mb']} MB", "", "", f"≤ {h['target_mb']} MB"))
    if "memory_batch" in r:
        b = r["memory_batch"]
        for label, f in b.items():
            if isinstance(f, dict):
                rows.append((f"peak, a batch of {b['batch']} {label} ({f['file_mb']} MB)",
                             f"{f['batch_peak_mb']} MB", f"{f['one_peak_mb']} MB (one)",
                             round(f["batch_peak_mb"] / f["one_peak_mb"], 2),
                             f"< {b['function_mb']} MB"))
                off = f["unreserved_peak_mb"]
                rows.append(("  the same batch, reservations off", f"{off} MB",
                             f"{f['batch_peak_mb']} MB", round(off / f["batch_peak_mb"], 2), ""))
    print()
    print(f"{'figure':50s} {'ocrflow':>16s} {'baseline':>16s} {'ratio':>7}  target")
    for name, ours, base, rel, target in rows:
        print(f"{name:50s} {ours:>16s} {base:>16s} {rel!s:>7}  {target}")
    if "fleet_rate_limit" in r:
        f = r["fleet_rate_limit"]
        print(f"\nfleet: {f['processes']} × ocrflow run (concurrency {f['concurrency']}, idempotency in "
              f"{f['store']}), {f['uploads']} uploads, emulator throttling above {f['qps']} calls/s, "
              f"{f['latency_ms']} ms a call; ideal {f['ideal_s']} s:")
        modes = [m for m, _, _ in FLEET_MODES if m in f]
        heads = {"without": "without limit", "with": "limit = Q", "too_high": "limit = 2 Q",
                 "sliding_without": "without limit", "sliding_with": "limit = Q"}
        print(f"  {'gateway counting':32s} " + " ".join(
            f"{'each second' if not m.startswith('sliding') else 'any 1 s window':>15s}" for m in modes))
        print(f"  {'':32s} " + " ".join(f"{heads[m]:>15s}" for m in modes) + "  target (limit = Q)")
        for key, label, target in (("goodput_vs_qps", "goodput / Q", "≥ 0.95"),
                                   ("throttled_share", "throttled share of calls", "≤ 0.02"),
                                   ("uploads_failed", "uploads failed", "0"),
                                   ("uploads_given_back", "uploads given back to redeliver", "0"),
                                   ("wall_vs_ideal", "wall time / ideal", "≤ 1.1"),
                                   ("calls", "calls made", ""), ("seconds", "wall time (s)", ""),
                                   ("calling_s", "first call to last success (s)", "")):
            print(f"  {label:32s} " + " ".join(f"{f[m][key]!s:>15s}" for m in modes) + f"  {target}")
    if "queue_publish" in r:
        qp = r["queue_publish"]
        print(f"\npublish, {qp['messages']} messages of {qp['message_bytes']} bytes, "
              "one confirmed at a time (msg/s):")
        for k in ("sqlite", "rabbitmq", "redis_streams", "sqs_moto", "kafka_tansu"):
            print(f"  {k:14s} {qp[k]}")
    if "obs_client_alternatives" in r:
        obs_clients.print_rows(r["obs_client_alternatives"])


if __name__ == "__main__":
    main()
