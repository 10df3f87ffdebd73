"""Review routing through each broker's own filtering: the recipes of docs/consuming.md, run
against the real services (moto server for SNS and SQS, RabbitMQ, the Tansu Kafka broker,
Redis). Under ``OCR_REVIEW_BELOW`` a result whose confidence is below it reaches the
reviewers, the others do not, and each upload still has one result message."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pika
import redis

from ocrflow.consumer import OcrResult, parse_message
from ocrflow.contract.events import parse_event
from ocrflow.flow.delivery import Outcome
from ocrflow.flow.pipeline import Pipeline
from ocrflow.handler import credentials_for
from tests.conftest import ROOT
from tests.integration.kafka_broker import TansuBroker, read_topic
from tests.integration.test_kafka import topic_for
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_pipeline import png_bytes

pytest_plugins = ["tests.integration.kafka_broker"]  # the Kafka broker fixtures, only where used

CONSUMING = (ROOT / "docs" / "consuming.md").read_text("utf-8")


def recipe(name: str) -> dict[str, Any]:
    match = re.search(rf"<!-- review:{name} -->\n```python\n(.*?)```", CONSUMING, re.S)
    assert match, f"docs/consuming.md has no review recipe {name!r}"
    namespace: dict[str, Any] = {"__name__": f"readme_review_{name}"}
    exec(compile(match.group(1), f"docs/consuming.md:review:{name}", "exec"), namespace)  # noqa: S102
    return namespace


def words(confidence: float) -> Answer:
    return Answer(200, {"result": {"words_block_count": 1, "words_block_list": [
        {"words": "total 42.00", "confidence": confidence}]}})


def publish_two(tmp_path: Path, replay: ReplayServer, result_url: str, **env: str) -> Harness:
    """``unsure.png`` (least confidence 0.42) and ``sure.png`` (0.99) under
    OCR_REVIEW_BELOW=0.8, one upload after the other."""
    h = make_harness(tmp_path, replay.url + "/{region}", RESULT_QUEUE_URL=result_url,
                     OCR_REVIEW_BELOW="0.8", **env)
    for key, confidence in (("unsure.png", 0.42), ("sure.png", 0.99)):
        h.put("uploads", key, png_bytes())
        replay.script(words(confidence))
        event = {"Records": [{"eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": "uploads"}, "object": {"key": key}}}]}
        assert h.invoke(event)["counts"]["results"] == 1
    return h


def one_outcome(h: Harness) -> list[Outcome]:
    h.put("uploads", "a.png", png_bytes())
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "uploads"}, "object": {"key": "a.png"}}}]}
    return Pipeline(h.rt).process(parse_event(event), credentials_for(h.settings, None),
                                  time.monotonic() + 60)


def subjects(messages: list[Any]) -> list[str | None]:
    return sorted(parse_message(m).subject for m in messages)


def test_sns_filter_policy_sends_reviews_to_their_own_queue(tmp_path: Path, moto_endpoint: str,
                                                            replay: ReplayServer) -> None:
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    review_url = sqs.create_queue(QueueName=f"{name}-review")["QueueUrl"]
    results_url = sqs.create_queue(QueueName=f"{name}-results")["QueueUrl"]
    recipe("sns")["route_reviews"](topic, review_url, results_url)
    publish_two(tmp_path, replay, topic).close()

    def drain(url: str) -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        for entry in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=entry["ReceiptHandle"])
        return got  # type: ignore[no-any-return]

    review, results = drain(review_url), drain(results_url)
    assert subjects(review) == ["unsure.png"] and subjects(results) == ["sure.png"]
    [unsure] = [parse_message(m) for m in review]
    assert isinstance(unsure, OcrResult) and unsure.needs_review
    assert unsure.data.confidence is not None and unsure.data.confidence.min == 0.42


def test_a_missing_sns_topic_leaves_the_record_unpublished(tmp_path: Path, moto_endpoint: str,
                                                          replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}",
                     RESULT_QUEUE_URL="arn:aws:sns:us-east-1:123456789012:no-such-topic")
    try:
        [outcome] = one_outcome(h)
        assert (outcome.status, outcome.code) == ("unpublished", "OCRFLOW.PUBLISH_FAILED")
        assert outcome.detail == "result queue: SNS publish failed: NotFound"
    finally:
        h.close()


def test_rabbitmq_headers_exchange_sends_reviews_to_their_own_queue(
        tmp_path: Path, rabbitmq: str, replay: ReplayServer) -> None:
    exchange = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    results, review = f"{exchange}-results", f"{exchange}-review"
    recipe("amqp")["route_reviews"](rabbitmq, exchange, results, review)
    publish_two(tmp_path, replay, f"{rabbitmq}?queue={results}&exchange={exchange}").close()
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    channel = conn.channel()
    try:
        def drain(queue: str) -> list[tuple[Any, bytes]]:
            got = []
            while True:
                method, props, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return got
                got.append((props, body))

        in_review, in_results = drain(review), drain(results)
        assert subjects([b for _, b in in_review]) == ["unsure.png"]
        assert subjects([b for _, b in in_results]) == ["sure.png"]
        assert in_review[0][0].headers["ocrreview"] == "true"
        assert "ocrreview" not in in_results[0][0].headers
    finally:
        for queue in (results, review):
            channel.queue_delete(queue)
        for name in (exchange, f"{exchange}.rest"):
            channel.exchange_delete(name)
        conn.close()


def test_an_amqp_exchange_that_does_not_exist_leaves_the_record_unpublished(
        tmp_path: Path, rabbitmq: str, replay: ReplayServer) -> None:
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    h = make_harness(tmp_path, replay.url + "/{region}",
                     RESULT_QUEUE_URL=f"{rabbitmq}?queue={name}&exchange={name}")
    try:
        [outcome] = one_outcome(h)
        assert (outcome.status, outcome.code) == ("unpublished", "OCRFLOW.PUBLISH_FAILED")
        assert outcome.detail and outcome.detail.endswith(f"exchange {name!r} does not exist")
    finally:
        h.close()


def test_kafka_consumer_filters_reviews_on_the_header(tmp_path: Path, kafka_broker: TansuBroker,
                                                     replay: ReplayServer) -> None:
    topic = topic_for(kafka_broker)
    publish_two(tmp_path, replay, kafka_broker.url(topic)).close()
    headers = {parse_message(r.value).subject: dict(r.headers)
               for r in read_topic(kafka_broker.bootstrap, topic)}
    assert headers["unsure.png"]["ce_ocrreview"] == b"true" and "ce_ocrreview" not in headers["sure.png"]
    reviewed: list[Any] = []
    recipe("kafka")["drain_reviews"](kafka_broker.bootstrap, topic, reviewed.append, idle_s=8.0)
    assert [m.subject for m in reviewed] == ["unsure.png"] and reviewed[0].needs_review


def test_redis_consumer_group_of_reviewers_reads_only_the_marked_entries(
        tmp_path: Path, redis_url: str, replay: ReplayServer) -> None:
    stream = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    publish_two(tmp_path, replay, f"{redis_url}?stream={stream}").close()
    client = redis.Redis.from_url(redis_url)
    try:
        fields = {parse_message(f).subject: f for _, f in client.xrange(stream)}
        assert fields["unsure.png"][b"ocrreview"] == b"true" and b"ocrreview" not in fields["sure.png"]
        assert fields["sure.png"][b"api"] == b"general-text"
        assert fields["sure.png"][b"region"] == b"cn-north-4"
        reviewed: list[Any] = []
        ns = recipe("redis")
        ns["drain_reviews"](redis_url, stream, reviewed.append)
        assert [m.subject for m in reviewed] == ["unsure.png"]
        assert client.xpending(stream, "reviewers")["pending"] == 0  # the others acknowledged
        ns["drain_reviews"](redis_url, stream, reviewed.append)  # nothing new for the group
        assert len(reviewed) == 1
    finally:
        client.delete(stream)
        client.close()
