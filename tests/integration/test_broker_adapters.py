"""RabbitMQ and Redis adapters against the real services on 127.0.0.1, read back with
independent clients; the idempotency store's races; a broker that goes down."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pika
import pytest
import redis

from ocrflow.adapters.idempotency import ClaimState
from ocrflow.adapters.registry import open_idempotency_store, open_queue
from ocrflow.core.errors import PublishError
from tests.integration.test_aws_adapters import message, png
from tests.support.amqp import drain
from tests.support.harness import make_harness
from tests.support.races import claim_race
from tests.support.replay_server import ReplayServer
from tests.support.tcp_proxy import TcpProxy


def test_amqp_persistent_confirmed_byte_for_byte(rabbitmq: str) -> None:
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    queue = open_queue(f"{rabbitmq}?queue={name}")
    msgs = [message(f"k{i}.png") for i in range(3)]
    for m in msgs:
        queue.publish(m)
    assert [m["subject"] for m in queue.dump()] == ["k0.png", "k1.png", "k2.png"]  # not consumed
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    ch = conn.channel()
    declared = ch.queue_declare(queue=name, durable=True, passive=True)
    assert declared.method.message_count == 3
    for m in msgs:
        method, props, body = ch.basic_get(name, auto_ack=True)
        assert body == m.body
        assert props.delivery_mode == 2 and props.message_id == m.id
        assert props.headers == {"type": "ocr.result.v1", "api": "general-text", "region": "cn-north-4",
                                 "traceparent": json.loads(m.body)["traceparent"]}
    ch.queue_delete(name)
    conn.close()
    queue.close()


def test_amqp_unroutable_publish_is_an_error(rabbitmq: str) -> None:
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    queue = open_queue(f"{rabbitmq}?queue={name}")
    queue.publish(message())
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    conn.channel().queue_delete(name)  # someone deletes the queue under us
    conn.close()
    with pytest.raises(PublishError):
        queue.publish(message("b.png"))
    queue.close()


def test_redis_stream_xadd_byte_for_byte(redis_url: str) -> None:
    stream = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    queue = open_queue(f"{redis_url}?stream={stream}")
    msgs = [message(f"k{i}.png") for i in range(3)]
    for m in msgs:
        queue.publish(m)
    client = redis.Redis.from_url(redis_url)
    entries = client.xrange(stream)
    assert [e[1][b"event"] for e in entries] == [m.body for m in msgs]
    assert [e[1][b"type"] for e in entries] == [b"ocr.result.v1"] * 3
    assert [m["id"] for m in queue.dump()] == [m.id for m in msgs]
    queue.remove(msgs[1].id)
    assert [m["id"] for m in queue.dump()] == [msgs[0].id, msgs[2].id]
    client.delete(stream)


@pytest.fixture
def store(redis_url: str) -> Any:
    s = open_idempotency_store(f"{redis_url}?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:")
    yield s
    s.close()


def test_redis_claims_are_atomic_under_races(store: Any) -> None:
    results = claim_race(store, "rec", 16)
    assert results.count(ClaimState.CLAIMED) == 1
    assert results.count(ClaimState.IN_PROGRESS) == 15


def test_redis_claim_lifecycle_and_takeover(store: Any) -> None:
    assert store.claim("a", 0.3).state is ClaimState.CLAIMED
    assert store.claim("a", 0.3).state is ClaimState.IN_PROGRESS
    time.sleep(0.4)
    assert store.claim("a", 30).state is ClaimState.CLAIMED  # the crashed claim expired
    store.save_outcome("a", "result", "msg-1", b'{"x": 1}')
    c = store.claim("a", 30)
    assert (c.state, c.destination, c.message_id, c.message) == (
        ClaimState.OUTCOME_STORED, "result", "msg-1", b'{"x": 1}')
    store.complete("a")
    assert store.claim("a", 30).state is ClaimState.COMPLETED
    assert store.claim("b", 30).state is ClaimState.CLAIMED
    store.release("b")
    assert store.claim("b", 30).state is ClaimState.CLAIMED


def test_redis_counter_stops_at_the_limit_under_races(store: Any) -> None:
    got: list[int | None] = []
    threads = [threading.Thread(target=lambda: got.append(store.increment("budget", 10, 60)))
               for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for v in got if v is not None) == list(range(1, 11))
    assert got.count(None) == 15


def test_queue_down_behind_a_proxy_then_back_publishes_once_without_a_second_call(
        tmp_path: Path, rabbitmq: str, redis_url: str, replay: ReplayServer) -> None:
    """A real RabbitMQ behind a TCP proxy the test cuts and restores; idempotency in Redis."""
    proxy = TcpProxy("127.0.0.1", 5672)
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F?queue={name}"
    h = make_harness(tmp_path, replay.url + "/{region}", RESULT_QUEUE_URL=url,
                     IDEMPOTENCY_STORE_URL=f"{redis_url}?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:")
    h.put("uploads", "doc.png", png())
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": (
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "uploads"}, '
        '"object": {"key": "doc.png"}}}]}')}]}
    try:
        h.rt.queue("result")  # connected while the broker is up
        proxy.cut()
        assert h.invoke(event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert h.invoke(event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert len(replay.received) == 1  # the redelivery did not call again
        proxy.restore()
        assert h.invoke(event) == {"batchItemFailures": []}
        assert h.invoke(event) == {"batchItemFailures": []}  # a late duplicate delivery
        bodies = drain(rabbitmq, name)
        assert len(bodies) == 1 and len(replay.received) == 1
    finally:
        h.close()
        proxy.close()
