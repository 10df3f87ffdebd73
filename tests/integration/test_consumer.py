"""The consumer helper reads back what the pipeline publishes on every backend — results,
failures and claim-checked results — through the example consumers of docs/consuming.md, run
against the real brokers."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pika
import pytest
import redis

from ocrflow.consumer import (
    ConsumerGuard,
    OcrFailure,
    OcrResult,
    ResultRefError,
    fetch_ref,
    parse_message,
    result_of,
)
from tests.conftest import ROOT
from tests.integration.kafka_broker import TansuBroker, read_topic
from tests.integration.test_aws_adapters import png
from tests.integration.test_kafka import topic_for
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer

pytest_plugins = ["tests.integration.kafka_broker"]  # the Kafka broker fixtures, only where used

CONSUMING = (ROOT / "docs" / "consuming.md").read_text("utf-8")
BIG_TEXT = "y" * 300_000


def example(name: str) -> str:
    match = re.search(rf"<!-- consumer:{name} -->\n```python\n(.*?)```", CONSUMING, re.S)
    assert match, f"docs/consuming.md has no consumer example {name!r}"
    return match.group(1)


class Seen:
    """Stands in for the example handler's ``index`` / ``alert``: records what reached them."""

    def __init__(self) -> None:
        self.results: dict[str, tuple[str | None, Any]] = {}
        self.failures: dict[str, str] = {}

    def index(self, key: str, text: str | None, result: Any) -> None:
        assert key not in self.results, f"{key} handled twice"
        self.results[key] = (text, result)

    def alert(self, key: str | None, code: str, message: str) -> None:
        assert str(key) not in self.failures, f"{key} handled twice"
        self.failures[str(key)] = code


def consumer_namespace(tmp_path: Path, backend: str, seen: Seen) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"readme_consumer_{backend}"}
    exec(compile(example("handler"), "docs/consuming.md:handler", "exec"), namespace)  # noqa: S102
    namespace["guard"].close()
    namespace["guard"] = ConsumerGuard(f"sqlite:///{tmp_path / 'consumer-state.db'}")
    namespace.update(index=seen.index, alert=seen.alert)
    exec(compile(example(backend), f"docs/consuming.md:{backend}", "exec"), namespace)  # noqa: S102
    return namespace


def publish_three(h: Harness, replay: ReplayServer, bucket: str, put: Any) -> None:
    """A small result, a result too large for a message (claim check where the queue has a
    limit), and a failure (the object is gone), each delivered twice (at least once)."""
    put(bucket, "small.png", png())
    put(bucket, "big.png", png(130, 70))
    for key, answer in (("small.png", Answer()),
                        ("big.png", Answer(200, {"result": {"words_block_list": [{"words": BIG_TEXT}]}})),
                        ("gone.png", None)):
        if answer is not None:
            replay.script(answer)
        event = {"Records": [{"eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]}
        assert h.invoke(event)["counts"]["unpublished"] == 0


def check_seen(seen: Seen, claim_checked: bool, messages: list[Any]) -> None:
    assert set(seen.results) == {"small.png", "big.png"}
    assert seen.results["small.png"][1]["words_block_list"][0]["words"] == "hello"
    assert seen.results["big.png"][1]["words_block_list"][0]["words"] == BIG_TEXT
    assert seen.results["small.png"][0] == "hello"
    assert seen.results["big.png"][0] == BIG_TEXT  # left out of a claim-checked message, recomputed
    assert seen.failures == {"gone.png": "OCRFLOW.OBJECT_NOT_FOUND"}
    parsed = [parse_message(m) for m in messages]
    big = [m for m in parsed if isinstance(m, OcrResult) and m.subject == "big.png"]
    assert len(big) == 1 and (big[0].data.result_ref is not None) == claim_checked
    assert sum(isinstance(m, OcrFailure) for m in parsed) == 1


def file_harness(tmp_path: Path, replay: ReplayServer, result_url: str, failure_url: str) -> Harness:
    return make_harness(tmp_path, replay.url + "/{region}", RESULT_QUEUE_URL=result_url,
                        FAILURE_QUEUE_URL=failure_url)


def test_sqs_consumer_with_a_claim_check_in_s3(tmp_path: Path, moto_endpoint: str,
                                              replay: ReplayServer) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"r-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    h = make_harness(tmp_path, replay.url + "/{region}", OBJECT_STORE_URL="s3://",
                     RESULT_QUEUE_URL=queue_url, FAILURE_QUEUE_URL=queue_url)
    publish_three(h, replay, bucket, lambda b, k, data: s3.put_object(Bucket=b, Key=k, Body=data))
    h.close()
    entries = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  VisibilityTimeout=0)["Messages"]
    seen = Seen()
    ns = consumer_namespace(tmp_path, "sqs", seen)
    ns["drain"](queue_url)
    check_seen(seen, claim_checked=True, messages=entries)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)  # all deleted


def test_lambda_consumer_of_an_sqs_event_reports_only_failed_handlers(tmp_path: Path) -> None:
    from ocrflow.contract.messages import ResultMessage
    from ocrflow.core.models import ObjectRef

    bodies = [ResultMessage(function="recognize", ref=ObjectRef("b", f"k{i}.png", None, "e", 1),
                            api="general-text", region="cn-north-4",
                            result={"words_block_list": [{"words": f"line {i}"}]}).body().decode()
              for i in range(3)]
    bodies.append('{"specversion": "1.0", "type": "ocr.result.v1", "data": ' + "[" * 100_000)
    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": body,
                          "attributes": {}, "messageAttributes": {}} for i, body in enumerate(bodies)]}
    seen = Seen()
    ns = consumer_namespace(tmp_path, "lambda", seen)

    def index(key: str, text: str | None, result: Any) -> None:
        if key == "k1.png" and "k1.png" not in failed_once:
            failed_once.add(key)
            raise RuntimeError("the index is down")
        seen.index(key, text, result)

    failed_once: set[str] = set()
    ns["index"] = index
    # a message that is not ocrflow's (here nested 100,000 deep) is reported on its own
    assert ns["lambda_handler"](event, None) == {"batchItemFailures": [{"itemIdentifier": "m1"},
                                                                       {"itemIdentifier": "m3"}]}
    # the whole batch is delivered again: only the failed one runs
    assert ns["lambda_handler"](event, None) == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    assert sorted(seen.results) == ["k0.png", "k1.png", "k2.png"]


def test_amqp_consumer(tmp_path: Path, rabbitmq: str, replay: ReplayServer) -> None:
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    h = file_harness(tmp_path, replay, f"{rabbitmq}?queue={name}", f"{rabbitmq}?queue={name}")
    publish_three(h, replay, "uploads", h.put)
    publish_three(h, replay, "uploads", h.put)  # a duplicate delivery publishes nothing new
    h.close()
    bodies = [json.dumps(m).encode() for m in h.rt.queue("result").dump()]
    assert len(bodies) == 3
    # the official CloudEvents SDK reads what the broker delivers (RabbitMQ binding)
    from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq
    from cloudevents.core.formats.json import JSONFormat

    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    for _ in bodies:
        method, props, body = conn.channel().basic_get(name, auto_ack=False)
        event = from_rabbitmq(RabbitMQMessage(props.headers, props.content_type, body), JSONFormat())
        assert event.get_id() == json.loads(body)["id"] and "object" in event.get_data()
        assert event.get_extension("traceparent") == props.headers["traceparent"]
    conn.close()  # unacknowledged: back on the queue
    seen = Seen()
    consumer_namespace(tmp_path, "amqp", seen)["drain"](rabbitmq, name)
    check_seen(seen, claim_checked=False, messages=bodies)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    assert conn.channel().queue_declare(queue=name, durable=True, passive=True).method.message_count == 0
    conn.channel().queue_delete(name)
    conn.close()


def test_redis_streams_consumer_in_a_group(tmp_path: Path, redis_url: str, replay: ReplayServer) -> None:
    stream = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    h = file_harness(tmp_path, replay, f"{redis_url}?stream={stream}", f"{redis_url}?stream={stream}")
    publish_three(h, replay, "uploads", h.put)
    h.close()
    client = redis.Redis.from_url(redis_url)
    entries = [fields for _, fields in client.xrange(stream)]
    seen = Seen()
    ns = consumer_namespace(tmp_path, "redis", seen)
    ns["drain"](redis_url, stream)
    check_seen(seen, claim_checked=False, messages=entries)
    assert client.xpending(stream, "indexer")["pending"] == 0
    ns["drain"](redis_url, stream)  # nothing new for the group
    client.delete(stream)


def test_kafka_consumer_with_a_claim_check_in_a_file_store(tmp_path: Path, kafka_broker: TansuBroker,
                                                          replay: ReplayServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    topic = topic_for(kafka_broker)
    url = kafka_broker.url(topic, max_message_bytes=100000)
    h = file_harness(tmp_path, replay, url, url)
    publish_three(h, replay, "uploads", h.put)
    h.close()
    records = list(h.rt.queue("result").dump())
    # the official CloudEvents SDK reads the records as the Kafka binding says: content-type
    # application/cloudevents+json means structured mode. (Its from_kafka() checks for ce_
    # headers first and would take the whole envelope for the data: docs/consuming.md says so.)
    from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
    from cloudevents.core.formats.json import JSONFormat

    for record in read_topic(kafka_broker.bootstrap, topic):
        headers = dict(record.headers)
        assert headers["content-type"].startswith(b"application/cloudevents+json")
        event = from_structured(KafkaMessage(headers, record.key, record.value), JSONFormat())
        assert event.get_id() == json.loads(record.value)["id"] and "object" in event.get_data()
        assert headers["ce_traceparent"] == headers["traceparent"] == \
            event.get_extension("traceparent").encode()
    seen = Seen()
    # the consumer runs with the producer's OBJECT_STORE_URL: file:// claim checks are read
    # through that folder store only
    monkeypatch.setenv("OBJECT_STORE_URL", h.settings.object_store_url)
    consumer_namespace(tmp_path, "kafka", seen)["drain"](kafka_broker.bootstrap, topic, idle_s=8.0)
    check_seen(seen, claim_checked=True, messages=[json.dumps(r) for r in records])


def test_a_claim_check_whose_bytes_changed_is_refused(tmp_path: Path) -> None:
    from ocrflow.consumer import parse
    from ocrflow.contract.messages import ResultMessage
    from ocrflow.core.models import ObjectRef

    message = ResultMessage(function="recognize", ref=ObjectRef("b", "k.png", None, "e", 1),
                            api="general-text", region="cn-north-4", result={})
    stored = tmp_path / "b" / "ocrflow-results" / f"{message.id}.json"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b'{"words_block_list": []}')
    parsed = parse(message.stored_at({"url": stored.as_uri(), "bytes": stored.stat().st_size,
                                      "sha256": hashlib.sha256(stored.read_bytes()).hexdigest()}).body())
    assert isinstance(parsed, OcrResult)
    assert fetch_ref(parsed, tmp_path.as_uri()) == stored.read_bytes()
    stored.write_bytes(b'{"words_block_list": {}}')  # as long, not the same
    with pytest.raises(ResultRefError, match="not the stored result"):
        fetch_ref(parsed, tmp_path.as_uri())
    other = parse(message.stored_at({"url": "https://example.com/x", "bytes": 1,
                                     "sha256": "0" * 64}).body())
    with pytest.raises(ResultRefError, match="unsupported"):
        fetch_ref(other)  # type: ignore[arg-type]


def test_a_claim_check_in_obs_is_fetched_through_the_obs_store(moto_endpoint: str) -> None:
    """OBS speaks the S3 API: moto stands in for it behind the obs:// store (SigV4)."""
    from ocrflow.consumer import parse, text
    from ocrflow.contract.messages import ResultMessage
    from ocrflow.core.models import ObjectRef

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    result = {"words_block_list": [{"words": "stored in OBS"}]}
    data = json.dumps(result).encode()
    message = ResultMessage(function="recognize", ref=ObjectRef(bucket, "k.png", None, "e", 1),
                            api="general-text", region="cn-north-4", result=result)
    s3.put_object(Bucket=bucket, Key=f"ocrflow-results/{message.id}.json", Body=data)
    message = message.stored_at({"url": f"obs://{bucket}/ocrflow-results/{message.id}.json",
                                 "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    parsed = parse(message.body())
    assert isinstance(parsed, OcrResult)
    store = f"obs://?endpoint={moto_endpoint}"
    assert result_of(parsed, store) == result
    assert text(parsed, store) == "stored in OBS"
