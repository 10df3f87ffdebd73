"""ocrflow.consumer on its own: framings, typed models, claim checks, the once-per-event guard,
and ``ocrflow queue dump --resolve``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.registry import open_queue
from ocrflow.consumer import (
    ConsumerGuard,
    MessageError,
    OcrFailure,
    OcrResult,
    parse,
    parse_message,
    parse_sqs_event,
    resolved,
    result_of,
    text,
)
from ocrflow.contract.messages import FailureMessage, ResultMessage, outgoing
from ocrflow.core.errors import ocrflow_failure
from ocrflow.core.models import ObjectRef
from tests.unit.test_cli import ocrflow

REF = ObjectRef("uploads", "scans/a b.png", None, "e" * 32, 10)
RESULT = {"words_block_list": [{"words": "first"}, {"words": "second"}]}


def result_message(**extra: Any) -> ResultMessage:
    return ResultMessage(function="recognize", ref=REF, api="general-text", region="cn-north-4",
                         result=RESULT, text="first\nsecond", **extra)


def test_every_framing_gives_the_same_typed_message() -> None:
    message = result_message()
    body = message.body()
    framings: list[Any] = [
        body, body.decode(), json.loads(body),
        {"MessageId": "m1", "ReceiptHandle": "r", "Body": body.decode()},  # boto3 receive_message
        {"messageId": "m1", "eventSource": "aws:sqs", "body": body.decode()},  # Lambda SQS record
        {b"event": body, b"type": b"ocr.result.v1", b"id": message.id.encode()},  # redis-py fields
        type("KafkaMessage", (), {"value": lambda self: body})(),  # confluent-kafka Message
        type("ConsumerRecord", (), {"value": body})(),  # kafka-python ConsumerRecord
    ]
    for framing in framings:
        parsed = parse_message(framing)
        assert isinstance(parsed, OcrResult)
        assert (parsed.id, parsed.subject, parsed.data.text) == (message.id, "scans/a b.png", "first\nsecond")
        assert parsed.traceparent == message.trace.traceparent
        assert parsed.data.object is not None and parsed.data.object.bucket == "uploads"


def test_failures_are_typed_and_unknown_fields_are_kept() -> None:
    failure = FailureMessage(function="recognize", ref=REF, api="general-text", region="cn-north-4",
                             error=ocrflow_failure("OCRFLOW.OBJECT_NOT_FOUND", "gone"))
    event = failure.event()
    event["data"]["added_later"] = 1
    parsed = parse(event)
    assert isinstance(parsed, OcrFailure)
    assert parsed.data.error.code == "OCRFLOW.OBJECT_NOT_FOUND" and not parsed.data.error.retryable
    assert parsed.data.model_extra == {"added_later": 1}


@pytest.mark.parametrize("body, problem", [
    (b"\xff", "not UTF-8"), ("{", "not JSON"), ("[]", "not a JSON object"),
    ('{"type": "com.example"}', "not an ocrflow message"),
    ('{"specversion": "1.0", "type": "ocr.result.v1", "id": "x", "source": "s", "time": "t"}',
     "invalid at data"),
])
def test_what_is_not_an_ocrflow_message_is_a_message_error(body: Any, problem: str) -> None:
    with pytest.raises(MessageError, match=problem):
        parse_message(body)


def test_lambda_sqs_event_pairs() -> None:
    bodies = [result_message().body().decode(), "not json", result_message().body().decode()]
    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": b}
                         for i, b in enumerate(bodies)]}
    pairs = parse_sqs_event(event)
    assert [mid for mid, _ in pairs] == ["m0", "m1", "m2"]
    assert isinstance(pairs[1][1], MessageError)  # the bad record alone, the batch goes on
    assert [m.id for _, m in pairs if isinstance(m, OcrResult)] == [
        json.loads(bodies[0])["id"], json.loads(bodies[2])["id"]]


def claim_checked(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """A result stored where ocrflow stores it (the folder store under ``tmp_path/store``)."""
    message = result_message()
    stored = tmp_path / "store" / "uploads" / "ocrflow-results" / f"{message.id}.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(RESULT).encode()
    stored.write_bytes(data)
    message = message.stored_at({"url": stored.as_uri(), "bytes": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest()})
    event = json.loads(message.body())
    del event["data"]["text"]  # as a claim check leaves it when the message is still too large
    return event, stored


def test_result_and_text_of_a_claim_checked_message(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    event, _ = claim_checked(tmp_path)
    message = parse(event)
    store = (tmp_path / "store").as_uri()
    assert isinstance(message, OcrResult) and message.data.result is None
    assert result_of(message, store) == RESULT
    assert text(message, store) == "first\nsecond"
    assert resolved(event, store)["data"]["result"] == RESULT
    monkeypatch.setenv("OBJECT_STORE_URL", store)  # the consumer's own configuration
    assert result_of(message) == RESULT


def test_queue_dump_resolve_puts_claim_checked_results_back(tmp_path: Path) -> None:
    event, stored = claim_checked(tmp_path)
    url = f"sqlite:///{tmp_path / 'q.db'}?queue=results"
    queue = open_queue(url)
    queue.publish(outgoing(event))
    queue.publish(outgoing(result_message().event()))
    queue.close()
    env = {"OBJECT_STORE_URL": (tmp_path / "store").as_uri()}
    plain = ocrflow("queue", "dump", url, cwd=tmp_path, env=env)
    first = json.loads(plain.stdout.splitlines()[0])
    assert "result" not in first["data"] and first["data"]["result_ref"]["url"] == stored.as_uri()
    run = ocrflow("queue", "dump", "--resolve", url, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["data"]["result"] for line in lines] == [RESULT, RESULT]
    stored.write_bytes(b"{}")  # the stored bytes are not the ones the message names
    refused = ocrflow("queue", "dump", "--resolve", url, cwd=tmp_path, env=env)
    assert refused.returncode == 1 and "not the stored result" in refused.stderr
    # the message after the refused one is still printed
    assert [json.loads(line)["data"]["result"] for line in refused.stdout.splitlines()] == [RESULT]


def test_the_guard_runs_a_handler_once_per_event_and_again_after_a_failure(tmp_path: Path) -> None:
    guard = ConsumerGuard(f"sqlite:///{tmp_path / 'guard.db'}")
    message = parse(result_message().body())
    calls: list[str] = []

    def failing(m: Any) -> None:
        calls.append("failing")
        raise RuntimeError("downstream is down")

    with pytest.raises(RuntimeError):
        guard.once(message, failing)
    assert guard.once(message, lambda m: calls.append("ok") or "done") == (True, "done")
    assert guard.once(message, lambda m: calls.append("again")) == (False, None)  # redelivered
    other = parse(result_message().body())  # another event for the same object
    assert guard.once(other, lambda m: calls.append("other"))[0]
    assert calls == ["failing", "ok", "other"]
    guard.close()
