"""The Kafka adapter when the broker goes away: crashed, frozen, restarted.

The broker's storage (S3 on a local moto server) outlives the broker process, so after a
restart the topic and everything acknowledged before the crash must still be there. The
rule checked throughout: a message reported as published is on the topic; a message that
was not confirmed raises PublishError within the delivery timeout (plus a small grace).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from ocrflow.adapters.queues.kafka import KafkaPublishError, open_queue
from ocrflow.core.errors import PublishError
from ocrflow.core.models import OutgoingMessage
from tests.integration.kafka_broker import TansuBroker, event, read_topic

pytest_plugins = ["tests.integration.kafka_broker"]  # the Kafka broker fixtures, only where used

TIMEOUT_MS = 2000
#: publish gives up at the delivery timeout; librdkafka's report may lag it a little.
BOUND_S = TIMEOUT_MS / 1000 + 2.0


def ids_on(broker: TansuBroker, topic: str) -> list[str]:
    return [json.loads(r.value)["id"] for r in read_topic(broker.bootstrap, topic)]


def test_crash_and_restart(durable_kafka_broker: TansuBroker) -> None:
    broker = durable_kafka_broker
    broker.create_topic("results", 2)
    queue = open_queue(broker.url("results", delivery_timeout_ms=TIMEOUT_MS))
    confirmed: list[str] = []
    try:
        for i in range(5):
            m = event(f"before/{i}", i)
            queue.publish(m)
            confirmed.append(m.id)

        broker.kill()
        lost = event("during/0")
        started = time.monotonic()
        with pytest.raises(PublishError) as caught:
            queue.publish(lost)
        assert time.monotonic() - started < BOUND_S
        assert isinstance(caught.value, KafkaPublishError) and caught.value.retriable
        during = [event(f"during/{i}", i) for i in range(1, 4)]
        started = time.monotonic()
        outcomes = queue.publish_many(during)
        assert time.monotonic() - started < BOUND_S
        assert all(isinstance(o, KafkaPublishError) for o in outcomes)

        broker.start()  # same port, same storage
        for i in range(5):  # the same adapter goes on
            m = event(f"after/{i}", i)
            queue.publish(m)
            confirmed.append(m.id)
    finally:
        queue.close()

    fresh = open_queue(broker.url("results"))
    try:
        m = event("after/new-adapter")
        fresh.publish(m)
        confirmed.append(m.id)
        dumped = [e["id"] for e in fresh.dump()]
    finally:
        fresh.close()
    on_topic = ids_on(broker, "results")
    assert sorted(on_topic) == sorted(confirmed)  # nothing lost, nothing unconfirmed
    assert sorted(dumped) == sorted(confirmed)


def test_crash_mid_stream_never_reports_an_unwritten_message(
        durable_kafka_broker: TansuBroker) -> None:
    broker = durable_kafka_broker
    broker.create_topic("stream", 3)
    queue = open_queue(broker.url("stream", delivery_timeout_ms=TIMEOUT_MS))
    confirmed: list[str] = []
    failed: list[str] = []
    slow: list[float] = []
    stop = threading.Event()

    def publish_continuously() -> None:
        n = 0
        while not stop.is_set():
            batch = [event(f"doc/{n + j}", n + j) for j in range(3)]
            n += 3
            started = time.monotonic()
            if n % 2:
                outcomes: list[Exception | None] = queue.publish_many(batch)
            else:
                outcomes = []
                for m in batch:
                    try:
                        queue.publish(m)
                        outcomes.append(None)
                    except PublishError as exc:
                        outcomes.append(exc)
            if time.monotonic() - started > BOUND_S * len(batch):
                slow.append(time.monotonic() - started)
            for m, outcome in zip(batch, outcomes, strict=True):
                (confirmed if outcome is None else failed).append(m.id)

    worker = threading.Thread(target=publish_continuously)
    worker.start()
    try:
        wait_for(lambda: len(confirmed) >= 30, 10, "30 confirmed before the crash")
        broker.kill()
        wait_for(lambda: len(failed) >= 3, BOUND_S * 3, "failures while the broker is down")
        broker.start()
        mark = len(confirmed)
        wait_for(lambda: len(confirmed) >= mark + 30, 20, "30 more confirmed after restart")
    finally:
        stop.set()
        worker.join(BOUND_S * 3)
        queue.close()
    assert not slow
    on_topic = ids_on(broker, "stream")
    assert set(confirmed) <= set(on_topic)  # every confirmed message was written
    assert len(on_topic) == len(set(on_topic))  # and none twice
    # A message that failed may still have been written (the broker stored it but its
    # answer was lost with the connection); the pipeline republishes it with the same
    # CloudEvent id, so consumers can tell. Here it must at least not be confirmed too.
    assert not set(confirmed) & set(failed)


def test_frozen_broker_times_out_then_recovers(durable_kafka_broker: TansuBroker) -> None:
    broker = durable_kafka_broker
    broker.create_topic("frozen", 1)
    queue = open_queue(broker.url("frozen", delivery_timeout_ms=TIMEOUT_MS))
    confirmed: list[str] = []
    try:
        first = event("a")
        queue.publish(first)
        confirmed.append(first.id)
        broker.pause()  # connections stay open; nothing answers
        started = time.monotonic()
        with pytest.raises(KafkaPublishError) as caught:
            queue.publish(event("b"))
        assert time.monotonic() - started < BOUND_S
        assert caught.value.code == "_MSG_TIMED_OUT" and caught.value.retriable
        broker.resume()
        for i in range(3):
            m = event("c", i)
            queue.publish(m)
            confirmed.append(m.id)
    finally:
        queue.close()
    on_topic = ids_on(broker, "frozen")
    assert set(confirmed) <= set(on_topic)
    # "b" may be there too: the frozen broker had it in its socket buffer and stored it
    # once it ran again, after the producer had given up (at-least-once).
    assert len(on_topic) - len(confirmed) in (0, 1)


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_message_type_is_kept(durable_kafka_broker: TansuBroker) -> None:
    """A restarted broker serves what it stored before, byte for byte."""
    broker = durable_kafka_broker
    broker.create_topic("kept", 1)
    m: OutgoingMessage = event("kept/ü.png")
    queue = open_queue(broker.url("kept"))
    try:
        queue.publish(m)
    finally:
        queue.close()
    broker.restart()
    records = read_topic(broker.bootstrap, "kept")
    assert [(r.key, r.value) for r in records] == [(m.key.encode(), m.body)]
