"""The embedded sqlite queue and idempotency store: durability is chosen in the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.adapters.idempotency.sqlite import open_store
from ocrflow.adapters.queues.sqlite import open_queue
from ocrflow.core.errors import ConfigError

# PRAGMA synchronous answers 1 for NORMAL, 2 for FULL, 3 for EXTRA
LEVELS = {"": 1, "&synchronous=normal": 1, "&synchronous=full": 2, "&synchronous=EXTRA": 3}


@pytest.mark.parametrize(("suffix", "level"), LEVELS.items())
def test_queue_durability_follows_the_url(tmp_path: Path, suffix: str, level: int) -> None:
    queue = open_queue(f"sqlite:///{tmp_path}/q.db?queue=results{suffix}")
    try:
        assert queue.db.conn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert queue.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        queue.close()


@pytest.mark.parametrize(("suffix", "level"), LEVELS.items())
def test_idempotency_durability_follows_the_url(tmp_path: Path, suffix: str, level: int) -> None:
    url = f"sqlite:///{tmp_path}/i.db" + (("?" + suffix[1:]) if suffix else "")
    store = open_store(url)
    try:
        assert store.storage.db.conn.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        store.close()


def test_an_unknown_durability_names_the_variable_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"RESULT_QUEUE_URL.*normal, full, extra.*'off'"):
        open_queue(f"sqlite:///{tmp_path}/q.db?queue=results&synchronous=off")
    with pytest.raises(ConfigError, match="IDEMPOTENCY_STORE_URL"):
        open_store(f"sqlite:///{tmp_path}/i.db?synchronous=sometimes")


def test_a_state_file_of_an_earlier_release_is_read_and_its_saved_message_published(
        tmp_path: Path) -> None:
    """A file written before records carried a version and a hold: opening it adds both
    columns; what it kept is still found, and a saved message there is taken and held."""
    import sqlite3
    import time

    from ocrflow.adapters.idempotency import ClaimState

    path = tmp_path / "idempotency.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE records (key TEXT PRIMARY KEY, state TEXT NOT NULL,
          expires_at REAL NOT NULL, destination TEXT, message_id TEXT, message BLOB);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL,
          expires_at REAL NOT NULL);""")
    later = time.time() + 3600
    old.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", [
        ("done", "completed", later, "result", "m-1", b"one"),
        ("saved", "outcome_stored", later, "failure", "m-2", b"two")])
    old.commit()
    old.close()
    store = open_store(f"sqlite:///{path}")
    try:
        done = store.claim("done", 30)
        assert (done.state, done.message) == (ClaimState.COMPLETED, b"one")
        taken = store.claim("saved", 30)  # nobody holds it: this delivery publishes it
        assert (taken.state, taken.message_id) == (ClaimState.OUTCOME_STORED, "m-2")
        assert store.claim("saved", 30).state is ClaimState.IN_PROGRESS
    finally:
        store.close()


def test_remove_is_declared_on_the_queue_port_and_says_whether_the_queue_removes(tmp_path: Path) -> None:
    """Redrive removes a replayed failure through the port: a queue that keeps its messages
    (Kafka, SNS) answers False and keeps them; the embedded queue removes and says so."""
    from ocrflow.adapters.queues import Queue
    from ocrflow.adapters.queues.kafka import KafkaQueue
    from ocrflow.adapters.queues.sns import SnsTopic
    from ocrflow.adapters.queues.sqlite import open_queue as open_sqlite_queue
    from ocrflow.core.models import OutgoingMessage

    assert "remove" in Queue.__dict__
    assert KafkaQueue.remove is Queue.remove and SnsTopic.remove is Queue.remove
    queue = open_sqlite_queue(f"sqlite:///{tmp_path / 'q.db'}?queue=failures")
    try:
        queue.publish(OutgoingMessage(id="m-1", type="ocr.failure.v1", body=b'{"id": "m-1"}', key="k"))
        assert queue.remove("m-1") is True and list(queue.dump()) == []
    finally:
        queue.close()
