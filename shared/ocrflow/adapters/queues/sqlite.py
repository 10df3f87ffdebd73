"""``sqlite:///PATH.db?queue=NAME``: the embedded default queue.

Durable (WAL, synchronous=FULL) and transactional: a message is either committed or not
there. A message id is stored once per queue, so republishing the same CloudEvent after a
crash between publish and bookkeeping does not duplicate it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from ..sqlite import SqliteDb, parse_sqlite_url, synchronous_mode
from ..sqlite import check_url as sqlite_check_url
from .port import Queue, decoded

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT NOT NULL,
  published_at REAL NOT NULL,
  UNIQUE (queue, id)
);
"""


class SqliteQueue(Queue):
    def __init__(self, db: SqliteDb, name: str) -> None:
        self.db = db
        self.name = name

    def publish(self, message: OutgoingMessage) -> None:
        try:
            with self.db.lock:
                self.db.conn.execute(
                    "INSERT OR IGNORE INTO messages (queue, id, type, subject, body, attributes,"
                    " published_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.name, message.id, message.type, message.key,
                     message.body.decode("utf-8"), json.dumps(message.attributes), time.time()),
                )
        except sqlite3.Error as exc:
            raise PublishError(f"sqlite queue {self.name!r}: {exc}") from exc

    def dump(self) -> Iterator[dict[str, Any]]:
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT body FROM messages WHERE queue = ? ORDER BY seq", (self.name,)
            ).fetchall()
        for (body,) in rows:
            yield decoded(body)

    def remove(self, message_id: str) -> bool:
        with self.db.lock:
            self.db.conn.execute("DELETE FROM messages WHERE queue = ? AND id = ?",
                                 (self.name, message_id))
        return True

    def close(self) -> None:
        self.db.close()


REQUIRES = None


def check_url(url: str, variable: str) -> None:
    sqlite_check_url(url, variable, needs_queue=True)


def open_queue(url: str) -> SqliteQueue:
    path, query = parse_sqlite_url(url, "RESULT_QUEUE_URL")
    name = query.get("queue")
    if not name:
        raise ConfigError("RESULT_QUEUE_URL", f"sqlite queue URL needs ?queue=NAME: {url!r}")
    return SqliteQueue(SqliteDb(path, SCHEMA, synchronous_mode(query, url, "RESULT_QUEUE_URL")), name)
