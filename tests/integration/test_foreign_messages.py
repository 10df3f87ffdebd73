"""A queue holds what anyone wrote to it: a message that is not one of ours (another
producer's, a truncated write, a body that is not a JSON object) comes out of ``dump`` as an
``unreadable`` entry naming why, between the messages around it, on every backend's real
service — so ``ocrflow queue dump`` prints the rest and a redrive replays the rest."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import redis

from ocrflow.adapters.queues import Queue
from ocrflow.adapters.registry import open_queue
from ocrflow.flow.redrive import select
from tests.integration.test_aws_adapters import message, sqs  # noqa: F401 - the fixture

FOREIGN = [b"not json at all", b"\xff\xfe binary!", b"[1, 2, 3]", b'"a string"', b"[" * 5000]
REASONS = ["not JSON", "not JSON", "JSON, but list", "JSON, but str", "not JSON"]


def check(queue: Queue, write_foreign: Callable[[bytes], bytes], ordered: bool = True) -> None:
    """Ours, the foreign bodies (``write_foreign`` returns the bytes the queue took), ours
    again: dumped in that order (``ordered``; else as a whole), the foreign ones as
    ``unreadable`` entries, and a redrive's selection skips them."""
    first, last = message("first.png"), message("last.png")
    queue.publish(first)
    stored = [write_foreign(body) for body in FOREIGN]
    queue.publish(last)
    dumped = list(queue.dump())
    ours = [m for m in dumped if "unreadable" not in m]
    foreign = [m for m in dumped if "unreadable" in m]
    assert [m["id"] for m in ours] == [first.id, last.id]
    if ordered:
        assert dumped[0]["id"] == first.id and dumped[-1]["id"] == last.id
    assert all(set(entry) == {"unreadable"} for entry in foreign), foreign
    by_size = sorted((e["unreadable"]["bytes"], e["unreadable"]["reason"]) for e in foreign)
    expected = sorted(zip((len(b) for b in stored), REASONS))
    assert [size for size, _ in by_size] == [size for size, _ in expected]
    for (_, reason), (_, start) in zip(by_size, expected):
        assert reason.startswith(start), (reason, start)
    if ordered:
        assert foreign[0]["unreadable"]["excerpt"] == "not json at all"
    assert select(dumped, None) == ([], 0)  # results and junk: nothing to replay


def test_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    queue = open_queue(f"sqlite:///{db}?queue=results")
    queue.publish(message("warm.png"))  # the table exists

    def write(body: bytes) -> bytes:
        text = body.decode("utf-8", "replace")
        with sqlite3.connect(db) as conn:  # another writer, with its own ids
            conn.execute("INSERT INTO messages (queue, id, type, subject, body, attributes, "
                         "published_at) VALUES ('results', ?, 'x', '', ?, '{}', 0)",
                         (uuid.uuid4().hex, text))
        return text.encode("utf-8")

    try:
        warm = list(queue.dump())
        assert len(warm) == 1
        queue.remove(warm[0]["id"])
        check(queue, write)
    finally:
        queue.close()


def test_redis_streams(redis_url: str) -> None:
    stream = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    queue = open_queue(f"{redis_url}?stream={stream}")
    try:
        check(queue, lambda body: client.xadd(stream, {"event": body}) and body)
        client.xadd(stream, {"other": b"no event field"})  # another producer's entry
        assert list(queue.dump())[-1] == {"unreadable": {"reason": "no message body", "bytes": 0,
                                                         "excerpt": ""}}
    finally:
        client.delete(stream)
        queue.close()


def test_rabbitmq(rabbitmq: str) -> None:
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    queue = open_queue(f"{rabbitmq}?queue={name}")
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    channel = conn.channel()
    channel.confirm_delivery()  # each foreign body on the queue before the next message
    try:
        check(queue, lambda body: channel.basic_publish("", name, body) or body)
    finally:
        channel.queue_delete(name)
        conn.close()
        queue.close()


def test_sqs(sqs: Any) -> None:  # noqa: F811 - the fixture
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue = open_queue(f"sqs://{name}")

    def write(body: bytes) -> bytes:
        text = body.decode("utf-8", "replace")  # SQS takes text only
        sqs.send_message(QueueUrl=url, MessageBody=text)
        return text.encode("utf-8")

    try:
        check(queue, write, ordered=False)  # SQS orders by time, to the millisecond
    finally:
        sqs.delete_queue(QueueUrl=url)
