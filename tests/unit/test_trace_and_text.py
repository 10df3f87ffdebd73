"""The upload's trace continued into the CloudEvent, its attributes and the log lines; the
recognized text beside the provider's result — through ``ocrflow invoke`` and the handler."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ocrflow.adapters.queues.kafka import cloudevent_headers
from ocrflow.consumer import OcrResult, parse_message
from ocrflow.contract.messages import outgoing
from tests.conftest import ROOT, load_event
from tests.support.harness import make_harness
from tests.support.replay_server import ReplayServer
from tests.unit.test_cli import base_env, ocrflow
from tests.unit.test_pipeline import png_bytes

UPLOAD_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
CONTINUED = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"


def sqs_event(root: Path, keys: list[str]) -> dict[str, Any]:
    """The documented SQS batch of S3 notifications, for files under ``root``; the first
    record carries the upload's X-Ray trace as SQS delivers it."""
    event = load_event("sqs_batch_s3.json")
    event["Records"] = event["Records"][:len(keys)]
    for record, key in zip(event["Records"], keys):
        path = root / "ocrflow-uploads" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes())
        body = json.loads(record["body"])
        body["Records"][0]["s3"]["object"].update(
            key=key, size=path.stat().st_size,
            eTag=hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest())
        record["body"] = json.dumps(body)
    event["Records"][0]["attributes"]["AWSTraceHeader"] = UPLOAD_TRACE
    return event


def test_invoke_continues_the_sqs_records_trace_in_the_event_and_the_logs(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    event = sqs_event(tmp_path / "buckets", ["traced.png", "untraced.png"])
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = base_env(tmp_path, replay)
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    dump = ocrflow("queue", "dump", "sqlite:///.ocrflow/queues.db?queue=results", cwd=tmp_path, env=env)
    messages = {m["subject"]: validate_message(m) for m in map(json.loads, dump.stdout.splitlines())}
    assert messages["traced.png"]["traceparent"] == CONTINUED
    # a record that brought no trace (and no invocation trace): a trace of its own
    other = messages["untraced.png"]["traceparent"]
    assert other != CONTINUED and other.split("-")[1] != "5759e988bd862e3fe1be46a994272793"
    lines = [json.loads(line) for line in run.stderr.splitlines() if '"level"' in line]
    processed = {line["key"]: line for line in lines if line.get("message") == "record processed"}
    assert processed["traced.png"]["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert processed["untraced.png"]["xray_trace_id"] == "1-{}-{}".format(
        other.split("-")[1][:8], other.split("-")[1][8:])
    # text in reading order beside the verbatim provider result
    data = messages["traced.png"]["data"]
    assert data["text"] == "hello" and data["result"]["words_block_list"][0]["words"] == "hello"


def test_the_invocations_trace_when_the_record_has_none(tmp_path: Path, replay: ReplayServer) -> None:
    event = sqs_event(tmp_path / "buckets", ["a.png", "b.png"])
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = {**base_env(tmp_path, replay),
           "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1"}
    assert ocrflow("invoke", "event.json", cwd=tmp_path, env=env).returncode == 0
    dump = ocrflow("queue", "dump", "sqlite:///.ocrflow/queues.db?queue=results", cwd=tmp_path, env=env)
    by_key = {m["subject"]: m["traceparent"] for m in map(json.loads, dump.stdout.splitlines())}
    assert by_key == {"a.png": CONTINUED,
                      "b.png": "00-67891233abcdef012345678912345678-463ac35c9f6413ad-01"}


def test_trace_context_in_every_bindings_headers(tmp_path: Path, replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url)
    event = sqs_event(h.root, ["x.png"])
    event["Records"][0]["attributes"].pop("AWSTraceHeader")
    event["Records"][0]["messageAttributes"] = {
        "traceparent": {"dataType": "String",
                        "stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        "tracestate": {"dataType": "String", "stringValue": "congo=t61rcWkgMzE"}}
    h.invoke(event)
    [message] = h.results()
    h.close()
    assert message["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert message["tracestate"] == "congo=t61rcWkgMzE"
    out = outgoing(message)  # SQS message attributes, AMQP headers, Redis Streams fields
    assert out.attributes["traceparent"] == message["traceparent"]
    assert out.attributes["tracestate"] == "congo=t61rcWkgMzE"
    headers = dict(cloudevent_headers(out))
    assert headers["ce_traceparent"] == headers["traceparent"] == message["traceparent"].encode()
    assert headers["ce_tracestate"] == b"congo=t61rcWkgMzE"


def test_functiongraph_eventgrid_event_continues_its_trace(tmp_path: Path, replay: ReplayServer) -> None:
    class FunctionGraphContext:  # the documented methods; none of them names a trace
        def getRequestID(self) -> str: return "fg-req-1"  # noqa: E704
        def getRemainingTimeInMilliSeconds(self) -> int: return 60_000  # noqa: E704
        def getFunctionName(self) -> str: return "ocrflow-recognize"  # noqa: E704
        def getMemorySize(self) -> int: return 512  # noqa: E704

    h = make_harness(tmp_path, replay.url)
    event = load_event("eventgrid_obs.json")
    obs = event["data"]["obs"]
    path = h.put(obs["bucket"]["name"], "scans/扫描 件.png", png_bytes())
    obs["object"].update(size=path.stat().st_size,
                         eTag=hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest())
    event["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    answer = h.invoke({"events": [event]}, FunctionGraphContext())
    assert answer["counts"]["results"] == 1
    [message] = h.results()
    h.close()
    assert message["traceparent"] == event["traceparent"]
    parsed = parse_message(json.dumps(message))
    assert isinstance(parsed, OcrResult) and parsed.traceparent == event["traceparent"]


def test_schemas_document_the_trace_and_text() -> None:
    for name in ("ocr.result.v1.json", "ocr.failure.v1.json"):
        schema = json.loads((ROOT / "shared/ocrflow/data/schemas" / name).read_text())
        assert "traceparent" in schema["required"] and "tracestate" in schema["properties"]
    result = json.loads((ROOT / "shared/ocrflow/data/schemas/ocr.result.v1.json").read_text())
    assert result["properties"]["data"]["properties"]["text"]["type"] == "string"


def test_a_documents_text_per_page_and_whole(tmp_path: Path, replay: ReplayServer,
                                             validate_message: Any) -> None:
    from tests.unit.test_documents import pdf_of
    from tests.unit.test_pages import answer, s3_event

    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1")
    replay.script(answer(1), answer(2), answer(3))
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    assert h.invoke(s3_event("doc.pdf"))["counts"]["results"] == 1
    [message] = [validate_message(m) for m in h.results()]
    h.close()
    assert [p["text"] for p in message["data"]["pages"]] == ["page 1", "page 2", "page 3"]
    assert message["data"]["text"] == "page 1\npage 2\npage 3"


def test_a_claim_checked_documents_text_is_recomputed_by_the_consumer(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    from ocrflow.consumer import resolved, text
    from tests.support.replay_server import Answer
    from tests.unit.test_documents import pdf_of
    from tests.unit.test_pages import s3_event

    line = "x" * 3000
    big = Answer(200, {"result": {"words_block_list": [{"words": line}] * 10}})
    replay.script(big, big)
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1")
    h.rt.message_limits["result"] = 32 * 1024
    h.put("ocrflow-uploads", "big.pdf", pdf_of(2))
    h.invoke(s3_event("big.pdf"))
    [message] = [validate_message(m) for m in h.results()]
    h.close()
    # 60 KB of text would not fit in 32 KiB either: left out, computed from the stored pages
    assert "result_ref" in message["data"] and "text" not in message["data"]
    parsed = parse_message(json.dumps(message))
    assert isinstance(parsed, OcrResult)
    store = h.settings.object_store_url
    assert text(parsed, store) == "\n".join([line] * 20)
    assert [p["text"] for p in resolved(message, store)["data"]["pages"]] == ["\n".join([line] * 10)] * 2
