"""The Kafka queue adapter against a real Kafka-compatible broker (Tansu, in memory).

Everything is read back with an independent client (kafka-python, by partition assignment)
and compared byte for byte: values, keys, headers, partitions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict

import pytest
from kafka.partitioner.default import murmur2

from ocrflow.adapters.queues.kafka import KafkaPublishError, KafkaReadError, open_queue
from ocrflow.adapters.registry import open_queue as open_registered_queue
from ocrflow.core.errors import PublishError
from tests.integration.kafka_broker import TansuBroker, event, read_topic, record_batches

pytest_plugins = ["tests.integration.kafka_broker"]  # the Kafka broker fixtures, only where used


def topic_for(broker: TansuBroker, partitions: int = 1) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    broker.create_topic(name, partitions)
    return name


def test_message_value_key_and_cloudevents_headers(kafka_broker: TansuBroker) -> None:
    topic = topic_for(kafka_broker, 3)
    queue = open_registered_queue(kafka_broker.url(topic))
    messages = [event("scans/2026/invoice 01.pdf", 1), event("報告/ü+ß.png", 2),
                event(None, 3)]  # a failure without an object: no key
    try:
        for m in messages:
            queue.publish(m)
    finally:
        queue.close()

    records = {json.loads(r.value)["id"]: r for r in read_topic(kafka_broker.bootstrap, topic)}
    assert len(records) == 3
    for m in messages:
        record = records[m.id]
        assert record.value == m.body  # the CloudEvent JSON, byte for byte
        assert record.key == (m.key.encode("utf-8") if m.key else None)
        body = json.loads(m.body)
        expected = [(f"ce_{name}", str(body[name]).encode()) for name in
                    ("specversion", "id", "source", "type", "time", "subject") if name in body]
        assert sorted(record.headers) == sorted(
            [*expected, ("content-type", b"application/cloudevents+json; charset=UTF-8")])


def test_keys_land_where_java_clients_put_them_and_stay_in_order(
        kafka_broker: TansuBroker) -> None:
    partitions = 4
    topic = topic_for(kafka_broker, partitions)
    keys = [f"in/doc-{i}.png" for i in range(12)]
    queue = open_queue(kafka_broker.url(topic))
    sent: dict[str, list[str]] = defaultdict(list)
    try:
        for round_ in range(3):  # one by one, then as batches: order per key must hold
            batch = [event(k, round_) for k in keys]
            if round_ == 1:
                assert queue.publish_many(batch) == [None] * len(batch)
            else:
                for m in batch:
                    queue.publish(m)
            for m in batch:
                sent[m.key].append(m.id)
    finally:
        queue.close()

    records = read_topic(kafka_broker.bootstrap, topic)
    assert len(records) == 36
    seen: dict[str, list[str]] = defaultdict(list)
    used = set()
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert r.key is not None
        # murmur2_random is Java's partitioner (kafka-python's too).
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % partitions
        seen[r.key.decode()].append(json.loads(r.value)["id"])
        used.add(r.partition)
    assert seen == sent
    assert len(used) > 1


def test_idempotent_producer_id_is_on_every_batch(kafka_broker: TansuBroker) -> None:
    topic = topic_for(kafka_broker)
    queue = open_queue(kafka_broker.url(topic))
    try:
        queue.publish(event("a"))
        assert queue.publish_many([event("a", i) for i in range(5)]) == [None] * 5
    finally:
        queue.close()
    plain = open_queue(kafka_broker.url(topic, idempotence="false"))
    try:
        plain.publish(event("a"))
    finally:
        plain.close()

    batches = record_batches(kafka_broker.bootstrap, topic, 0)
    assert [b.records for b in batches] == [1, 5, 1]
    first, second, third = batches
    assert first.producer_id >= 0 and first.producer_epoch >= 0
    assert (second.producer_id, second.base_sequence) == (first.producer_id, 1)
    assert third.producer_id == -1  # ?idempotence=false really turns it off


def test_publish_many_reports_each_message(kafka_broker: TansuBroker) -> None:
    topic = topic_for(kafka_broker, 2)
    queue = open_queue(kafka_broker.url(topic, max_message_bytes=4096))
    big = event("big", data_pad="x" * 5000)
    batch = [event("a", 1), big, event("b", 2)]
    try:
        outcomes = queue.publish_many(batch)
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], KafkaPublishError)
        assert outcomes[1].code == "MSG_SIZE_TOO_LARGE" and not outcomes[1].retriable
        with pytest.raises(PublishError):
            queue.publish(big)
        assert queue.publish_many([]) == []
    finally:
        queue.close()
    ids = {json.loads(r.value)["id"] for r in read_topic(kafka_broker.bootstrap, topic)}
    assert ids == {batch[0].id, batch[2].id}


def test_unreachable_broker_fails_in_bounded_time_without_credentials() -> None:
    from tests.integration.kafka_broker import free_port

    port = free_port()  # nothing listens there
    url = (f"kafka://svc%40ocr:s3cr%2Ft-pw@127.0.0.1:{port}/results"
           "?security_protocol=SASL_PLAINTEXT&sasl_mechanism=SCRAM-SHA-512"
           "&delivery_timeout_ms=1500")
    queue = open_queue(url)
    assert queue.settings.username == "svc@ocr" and queue.settings.password == "s3cr/t-pw"
    started = time.monotonic()
    try:
        with pytest.raises(KafkaPublishError) as caught:
            queue.publish(event("a"))
        outcomes = queue.publish_many([event("b"), event("c")])
    finally:
        queue.close()
    assert time.monotonic() - started < 2 * 1.5 + 5
    assert caught.value.code == "_MSG_TIMED_OUT" and caught.value.retriable
    assert all(isinstance(o, KafkaPublishError) for o in outcomes)
    for error in (caught.value, *outcomes):
        assert "s3cr" not in str(error) and "pw" not in str(error)
        assert f"127.0.0.1:{port}" in str(error)


def test_dump_reads_every_partition_oldest_first_without_consuming(
        kafka_broker: TansuBroker) -> None:
    topic = topic_for(kafka_broker, 3)
    queue = open_queue(kafka_broker.url(topic))
    try:
        assert list(queue.dump()) == []
        published = []
        for i in range(9):
            m = event(f"k{i}", i)
            queue.publish(m)
            published.append(json.loads(m.body))
            time.sleep(0.002)  # distinct millisecond timestamps: one true order
        batch = [event(f"b{i}", i) for i in range(6)]  # same-millisecond batch
        assert queue.publish_many(batch) == [None] * 6
        first = list(queue.dump())
        again = list(queue.dump())
    finally:
        queue.close()
    assert first == again  # nothing consumed, no offsets moved
    assert first[:9] == published
    assert sorted(e["id"] for e in first[9:]) == sorted(m.id for m in batch)
    records = read_topic(kafka_broker.bootstrap, topic)
    order = sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
    assert [json.loads(r.value) for r in order] == first


def test_dump_stops_at_the_end_it_saw_while_others_publish(kafka_broker: TansuBroker) -> None:
    topic = topic_for(kafka_broker, 2)
    queue = open_queue(kafka_broker.url(topic))
    writer = open_queue(kafka_broker.url(topic))
    stop = threading.Event()

    def keep_publishing() -> None:
        n = 0
        while not stop.is_set():
            writer.publish(event(f"w{n % 5}", n))
            n += 1

    try:
        assert queue.publish_many([event(f"k{i}", i) for i in range(50)]) == [None] * 50
        thread = threading.Thread(target=keep_publishing)
        thread.start()
        try:
            time.sleep(0.3)
            started = time.monotonic()
            dumped = list(queue.dump())
            assert time.monotonic() - started < 10
        finally:
            stop.set()
            thread.join(10)
    finally:
        queue.close()
        writer.close()
    assert len(dumped) >= 50


def test_dump_of_a_missing_topic_is_an_error(kafka_broker: TansuBroker) -> None:
    queue = open_queue(kafka_broker.url("no-such-topic-for-dump"))
    try:
        with pytest.raises(KafkaReadError):
            list(queue.dump())
    finally:
        queue.close()


def test_dump_gives_a_record_that_is_not_a_message_as_unreadable_and_goes_on(
        kafka_broker: TansuBroker) -> None:
    import confluent_kafka

    topic = topic_for(kafka_broker, 1)
    queue = open_queue(kafka_broker.url(topic))
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka_broker.bootstrap})
    try:
        first, last = event("first", 1), event("last", 2)
        queue.publish(first)
        for body in (b"not json", b"[1, 2]"):  # another producer's records
            producer.produce(topic, body)
            producer.flush(10)
        queue.publish(last)
        dumped = list(queue.dump())
    finally:
        queue.close()
    assert [m.get("id") for m in dumped] == [first.id, None, None, last.id]
    assert dumped[1]["unreadable"]["reason"].startswith("not JSON")
    assert dumped[2]["unreadable"]["reason"] == "JSON, but list rather than an object"
    assert dumped[1]["unreadable"]["where"] == "partition 0 offset 1"
