"""Where a record's message goes and how its outcome is counted when a queue or a store
fails, through the handler and ``ocrflow invoke`` with real brokers (RabbitMQ, SQS and S3
on moto, the embedded sqlite queue)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from ocrflow.handler import RecordsNotPublished
from tests.support.amqp import drain
from tests.support.harness import make_harness
from tests.support.replay_server import Answer, ReplayServer
from tests.support.tcp_proxy import TcpProxy
from tests.unit.test_cli import ocrflow
from tests.unit.test_pipeline import png_bytes, s3_event


def test_a_result_published_on_redelivery_is_counted_as_a_result(
        tmp_path: Path, rabbitmq: str, replay: ReplayServer, validate_message: Any) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    h = make_harness(tmp_path, replay.url + "/{region}",
                     RESULT_QUEUE_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F?queue={name}")
    h.put("ocrflow-uploads", "late.png", png_bytes())
    event = s3_event("late.png")
    try:
        proxy.cut()
        with pytest.raises(RecordsNotPublished):
            h.invoke(event)
        proxy.restore()
        answer = h.invoke(event)
        assert answer["counts"] == {"records": 1, "results": 1, "failures": 0, "duplicates": 0,
                                    "ignored": 0, "unpublished": 0}
        [outcome] = answer["outcomes"]
        assert outcome["status"] == "result" and "code" not in outcome
        [message] = [validate_message(m) for m in drain(rabbitmq, name)]
        assert message["id"] == outcome["message_id"]
        assert len(replay.received) == 1 and h.failures() == []
    finally:
        h.close()
        proxy.close()


@pytest.fixture
def aws(moto_endpoint: str) -> Any:
    kw = {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}
    return boto3.client("s3", **kw), boto3.client("sqs", **kw)


def test_a_failure_to_store_a_claim_check_goes_to_the_failure_queue(
        tmp_path: Path, aws: Any, replay: ReplayServer, validate_message: Any) -> None:
    s3, sqs = aws
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="big.png", Body=png_bytes())
    results = sqs.create_queue(QueueName=f"r-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    failures = sqs.create_queue(QueueName=f"f-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    # over the SQS limit, and the claim check's bucket does not exist
    replay.script(Answer(200, {"result": {"words_block_list": [{"words": "x" * 5000}] * 60}}))
    h = make_harness(tmp_path, replay.url + "/{region}", OBJECT_STORE_URL="s3://",
                     RESULT_QUEUE_URL=results, FAILURE_QUEUE_URL=failures,
                     CLAIM_CHECK_URL=f"s3://missing-{uuid.uuid4().hex[:8]}/results/")
    try:
        answer = h.invoke(s3_event("big.png", bucket=bucket))
    finally:
        h.close()
    assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
    assert answer["outcomes"][0]["code"] == "OCRFLOW.RESULT_STORE_FAILED"
    got = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=1).get("Messages", [])
    [failure] = [validate_message(m["Body"]) for m in got]
    assert failure["data"]["error"]["code"] == "OCRFLOW.RESULT_STORE_FAILED"
    assert failure["data"]["request_id"] and failure["data"]["attempts"] == 1
    assert sqs.receive_message(QueueUrl=results, WaitTimeSeconds=0).get("Messages", []) == []
    assert len(replay.received) == 1


def test_a_paid_answer_survives_a_result_queue_that_cannot_be_opened(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    """``ocrflow invoke`` with the result queue's folder blocked by a file: the answer is
    kept, and once the queue can be opened the redelivery publishes it without a call."""
    folder = tmp_path / "buckets" / "ocrflow-uploads"
    folder.mkdir(parents=True)
    (folder / "paid.png").write_bytes(png_bytes())
    event = s3_event("paid.png")
    event["Records"][0]["s3"]["object"].pop("size")
    (tmp_path / "event.json").write_text(json.dumps(event))
    blocked = tmp_path / "queues"
    blocked.write_text("not a folder")
    env = {"OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(), "OCR_ENDPOINT": replay.url,
           "OCR_PROJECT_ID": "proj", "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK",
           "RESULT_QUEUE_URL": f"sqlite:///{blocked}/results.db?queue=results"}

    first = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert first.returncode == 1, first.stderr
    assert len(replay.received) == 1
    lines = [json.loads(line) for line in first.stderr.splitlines()]
    [record] = [line for line in lines if line.get("message", "").startswith("record not published")]
    assert record["code"] == "OCRFLOW.PUBLISH_FAILED"
    assert not any(line.get("code") == "OCRFLOW.INTERNAL_ERROR" for line in lines)

    blocked.unlink()
    second = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["counts"]["results"] == 1
    assert len(replay.received) == 1  # published from the saved answer, not paid again
    dump = ocrflow("queue", "dump", env["RESULT_QUEUE_URL"], cwd=tmp_path, env=env)
    [message] = [validate_message(json.loads(line)) for line in dump.stdout.splitlines()]
    assert message["id"] == summary["outcomes"][0]["message_id"]


def test_a_store_cut_while_the_call_is_in_flight_pays_once(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch,
        validate_message: Any) -> None:
    """Redis (behind a TCP proxy) goes down when the OCR call arrives and is back 2 s later,
    well within the record's deadline: the answer is saved once the store is back and
    published by the same delivery; a redelivery after the claim's lease pays nothing."""
    import threading
    import time

    from ocrflow.flow import pipeline

    proxy = TcpProxy("127.0.0.1", 6379)
    calls: list[Any] = []

    def cut_during_call(received: Any) -> Answer:
        calls.append(received)
        if len(calls) == 1:  # one blip, during the first call
            proxy.cut()
            threading.Timer(2.0, proxy.restore).start()
        return Answer()

    replay = ReplayServer(respond=cut_during_call, hold_s=0.3)
    monkeypatch.setattr(pipeline, "CLAIM_GRACE_S", 1.0)  # a lost claim is taken over soon
    store = f"redis://127.0.0.1:{proxy.port}/0?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:"
    h = make_harness(tmp_path, replay.url + "/{region}", IDEMPOTENCY_STORE_URL=store,
                     OCR_DEADLINE_S="8")
    h.put("ocrflow-uploads", "blip.png", png_bytes())
    event = s3_event("blip.png")
    try:
        try:
            first: dict[str, Any] | None = h.invoke(event)
        except RecordsNotPublished:
            first = None
        time.sleep(8 + 1.0 + 0.5)  # the first claim's whole lease
        second = h.invoke(event)
        assert len(replay.received) == 1  # paid once
        assert first is not None and first["counts"]["results"] == 1  # published at once
        assert second["counts"]["duplicates"] == 1
        [message] = [validate_message(m) for m in h.results()]
        assert message["id"] == first["outcomes"][0]["message_id"]
    finally:
        h.close()
        replay.stop()
        proxy.close()
