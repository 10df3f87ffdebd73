"""The recognize function under AWS's own runtime interface client (``awslambdaric``), laid
out as Lambda lays it out — the handler module in the task root, the library as a layer in
``/opt/python`` — against a local Lambda Runtime API (the HTTP protocol of
``/2018-06-01/runtime/invocation/…``) served by the test."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.registry import open_queue
from tests.conftest import ROOT, load_event
from tests.integration.conftest import free_port
from tests.integration.test_aws_adapters import png
from tests.support.replay_server import ReplayServer

API = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ocrflow-recognize"
INVOCATION_TRACE = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1"
UPLOAD_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@dataclass
class Invocation:
    request_id: str
    event: Any
    trace_id: str | None = None
    client_context: dict[str, Any] | None = None
    answer: Any = None
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class RuntimeApi:
    """The Lambda Runtime API, as the Lambda service serves it to a runtime: ``next`` blocks
    until an invocation is queued, then the runtime posts its response or error."""

    def __init__(self) -> None:
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.by_id: dict[str, Invocation] = {}
        self.init_error: Any = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{API}/invocation/next":
                    self._reply(404)
                    return
                inv = api.pending.get()
                headers = {"Lambda-Runtime-Aws-Request-Id": inv.request_id,
                           "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                           "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                           "Content-Type": "application/json"}
                if inv.trace_id:
                    headers["Lambda-Runtime-Trace-Id"] = inv.trace_id
                if inv.client_context is not None:
                    headers["Lambda-Runtime-Client-Context"] = json.dumps(inv.client_context)
                self._reply(200, json.dumps(inv.event).encode(), headers)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(f"{API}/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = json.loads(body or b"null")
                    self._reply(202)
                    return
                if len(parts) != 3 or parts[0] != "invocation" or parts[1] not in api.by_id:
                    self._reply(404)
                    return
                inv = api.by_id[parts[1]]
                inv.answer = json.loads(body or b"null")
                if parts[2] == "error":
                    inv.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
                self._reply(202)
                inv.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: Any, trace_id: str | None = None,
               client_context: dict[str, Any] | None = None, timeout: float = 60) -> Invocation:
        inv = Invocation(str(uuid.uuid4()), event, trace_id, client_context)
        self.by_id[inv.request_id] = inv
        self.pending.put(inv)
        assert inv.done.wait(timeout), \
            f"no answer to invocation {inv.request_id} (init error: {self.init_error})"
        return inv

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Function:
    api: RuntimeApi
    process: subprocess.Popen[bytes]
    log: Path
    buckets: Path
    state: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text("utf-8", "replace").splitlines():
            raw = raw.strip()
            if raw.startswith("{") and '"level"' in raw:
                lines.append(json.loads(raw))
        return lines

    def results(self) -> list[dict[str, Any]]:
        q = open_queue(f"sqlite:///{self.state / 'queues.db'}?queue=results")
        try:
            return list(q.dump())
        finally:
            q.close()


def lay_out(tmp: Path) -> tuple[Path, Path]:
    """``/var/task`` holds the handler module, ``/opt/python`` the layer (the library)."""
    task, layer = tmp / "var" / "task", tmp / "opt" / "python"
    task.mkdir(parents=True)
    shutil.copy(ROOT / "functions" / "recognize" / "handler.py", task / "handler.py")
    shutil.copytree(ROOT / "shared" / "ocrflow", layer / "ocrflow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return task, layer


@pytest.fixture
def function(tmp_path: Path, replay: ReplayServer) -> Iterator[Function]:
    yield from start_function(tmp_path, replay)


def start_function(tmp_path: Path, replay: ReplayServer, **overrides: str) -> Iterator[Function]:
    task, layer = lay_out(tmp_path)
    buckets, state = tmp_path / "buckets", tmp_path / "state"
    buckets.mkdir()
    state.mkdir()
    api = RuntimeApi()
    # the layer and the task root come first, as in Lambda; the test interpreter's own
    # site-packages stand in for the runtime's (requests, pydantic, structlog, awslambdaric)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCR", "RESULT_", "FAILURE_"))}
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(task),
        "PYTHONPATH": os.pathsep.join([str(task), str(layer)]),
        "AWS_LAMBDA_FUNCTION_NAME": "ocrflow-recognize",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "ocrflow",
        "OBJECT_STORE_URL": buckets.as_uri(),
        "RESULT_QUEUE_URL": f"sqlite:///{state / 'queues.db'}?queue=results",
        "FAILURE_QUEUE_URL": f"sqlite:///{state / 'queues.db'}?queue=failures",
        "IDEMPOTENCY_STORE_URL": f"sqlite:///{state / 'idempotency.db'}",
        "OCR_ENDPOINT": replay.url + "/{region}",
        "OCR_PROJECT_ID": "0123456789abcdef0123456789abcdef",
        "HUAWEICLOUD_SDK_AK": "TESTAK0000000000",
        "HUAWEICLOUD_SDK_SK": "test-secret-key-0000000000000000",
    })
    env.update(overrides)
    env.pop("_X_AMZN_TRACE_ID", None)
    log = tmp_path / "function.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "awslambdaric", "handler.handler"],
                                   cwd=task, env=env, stdout=out, stderr=subprocess.STDOUT)
    fn = Function(api, process, log, buckets, state)
    try:
        yield fn
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        api.stop()


def upload(fn: Function, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    path = fn.buckets / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"size": len(data), "eTag": hashlib.md5(data, usedforsecurity=False).hexdigest()}


def sqs_batch(fn: Function) -> dict[str, Any]:
    event = load_event("sqs_batch_s3.json")
    for i, record in enumerate(event["Records"][:2]):
        body = json.loads(record["body"])
        obj = body["Records"][0]["s3"]["object"]
        obj.update(upload(fn, "ocrflow-uploads", obj["key"].replace("+", " "), png(120 + i, 60)))
        record["body"] = json.dumps(body)
    event["Records"][0]["attributes"]["AWSTraceHeader"] = UPLOAD_TRACE
    return event


def s3_event(fn: Function) -> dict[str, Any]:
    event = load_event("s3_put.json")
    obj = event["Records"][0]["s3"]["object"]
    obj.pop("versionId")
    obj.update(upload(fn, "ocrflow-uploads", "invoices/2026/scan 01.png", png(140, 60)))
    return event


def test_sqs_batch_then_s3_event_under_awslambdaric(function: Function) -> None:
    fn = function
    batch = fn.api.invoke(sqs_batch(fn), trace_id=INVOCATION_TRACE)
    assert batch.error_type is None, batch.answer
    assert batch.answer == {"batchItemFailures": []}
    second_trace = INVOCATION_TRACE.replace("463ac35c9f6413ad", "563ac35c9f6413ae")
    put = fn.api.invoke(s3_event(fn), trace_id=second_trace)
    assert put.error_type is None, put.answer
    assert put.answer["counts"] == {"records": 1, "results": 1, "failures": 0, "duplicates": 0,
                                    "ignored": 0, "unpublished": 0}
    assert put.answer["outcomes"][0]["key"] == "invoices/2026/scan 01.png"

    lines = fn.log_lines()
    by_request: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_request.setdefault(line.get("function_request_id", "-"), []).append(line)
    assert set(by_request) >= {batch.request_id, put.request_id}
    # the first invocation is the cold start, the second runs in the same process, warm
    assert {line["cold_start"] for line in by_request[batch.request_id]} == {True}
    assert {line["cold_start"] for line in by_request[put.request_id]} == {False}
    for line in by_request[batch.request_id] + by_request[put.request_id]:
        assert line["function_name"] == "ocrflow-recognize"
        assert line["function_arn"] == FUNCTION_ARN
        assert line["function_memory_size"] == "512"
    started = [line for line in by_request[put.request_id] if line["message"] == "invocation started"]
    assert started and started[0]["xray_trace_id"] == "1-67891233-abcdef012345678912345678"

    # the SQS record's AWSTraceHeader is continued; the record without one, and the S3
    # event, continue the invocation's trace (Lambda-Runtime-Trace-Id → _X_AMZN_TRACE_ID)
    results = {m["subject"]: m for m in fn.results()}
    assert set(results) == {"batch/one.png", "batch/two words.png", "invoices/2026/scan 01.png"}
    assert results["batch/one.png"]["traceparent"] == \
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    assert results["batch/two words.png"]["traceparent"] == \
        "00-67891233abcdef012345678912345678-463ac35c9f6413ad-01"
    assert results["invoices/2026/scan 01.png"]["traceparent"] == \
        "00-67891233abcdef012345678912345678-563ac35c9f6413ae-01"
    processed = {line["key"]: line for line in lines if line["message"] == "record processed"}
    assert processed["batch/one.png"]["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert processed["batch/two words.png"]["xray_trace_id"] == "1-67891233-abcdef012345678912345678"
    # the batch's records ran in worker threads: their lines still name the invocation
    assert processed["batch/one.png"]["function_request_id"] == batch.request_id
    assert all(m["data"]["text"] == "hello" for m in results.values())


def test_the_invocations_w3c_trace_from_the_client_context(function: Function) -> None:
    fn = function
    w3c = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
           "tracestate": "congo=t61rcWkgMzE"}
    inv = fn.api.invoke(s3_event(fn), trace_id=INVOCATION_TRACE, client_context={"w3c": w3c})
    assert inv.error_type is None, inv.answer
    [message] = fn.results()
    assert (message["traceparent"], message["tracestate"]) == (w3c["traceparent"], w3c["tracestate"])


def test_an_s3_batch_operations_invocation_is_answered_in_the_jobs_shape(function: Function) -> None:
    """The schema 2.0 request of the S3 User Guide's "Invoke AWS Lambda function", its key
    URL-encoded: the answer is the JSON the runtime posts back to the job."""
    fn = function
    upload(fn, "amzn-s3-demo-bucket", "scans/receipt march 01.png", png(140, 60))
    inv = fn.api.invoke(load_event("s3_batch_operations_v2.json"), trace_id=INVOCATION_TRACE)
    assert inv.error_type is None, inv.answer
    [message] = fn.results()
    assert message["subject"] == "scans/receipt march 01.png"
    assert message["data"]["text"] == "hello"
    assert inv.answer == {
        "invocationSchemaVersion": "2.0",
        "treatMissingKeysAs": "TemporaryFailure",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "results": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded",
                     "resultString": f"result message {message['id']}"}],
    }
    assert message["traceparent"] == "00-67891233abcdef012345678912345678-463ac35c9f6413ad-01"


def test_the_layer_copy_of_the_library_is_the_one_imported(tmp_path: Path) -> None:
    task, layer = lay_out(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(task), str(layer)])}
    out = subprocess.run([sys.executable, "-c", "import handler, ocrflow; print(ocrflow.__file__)"],
                         cwd=task, env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).is_relative_to(layer)


def test_unpublished_records_are_the_runtimes_error_and_partial_batch_failures(
        tmp_path: Path, replay: ReplayServer) -> None:
    """The result queue is down: an S3 event's invocation fails (Lambda retries it), an SQS
    batch names its messages as batch item failures (SQS redelivers them)."""
    down = f"redis://127.0.0.1:{free_port()}/0?stream=results"
    running = start_function(tmp_path, replay, RESULT_QUEUE_URL=down)
    fn = next(running)
    try:
        put = fn.api.invoke(s3_event(fn))
        assert put.error_type is not None  # posted to …/invocation/{id}/error
        assert put.answer["errorType"] == "RecordsNotPublished"
        assert "1 of 1 records were not published" in put.answer["errorMessage"]
        event = sqs_batch(fn)
        batch = fn.api.invoke(event)
        assert batch.error_type is None
        assert batch.answer == {"batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"][:2]]}
    finally:
        running.close()  # stops the function and the Runtime API
