"""``sqlite:///PATH.db``: the embedded idempotency store (one machine, one process or
several). Each primitive is one SQL statement, atomic on its own; the counter is one
``BEGIN IMMEDIATE`` transaction. The policy is in :mod:`ocrflow.adapters.idempotency.policy`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from ...core.errors import IdempotencyError
from ..sqlite import SqliteDb, parse_sqlite_url, synchronous_mode
from ..sqlite import check_url as sqlite_check_url
from .policy import IdempotencyStore
from .port import ClaimState, Entry, IdempotencyStorage

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
  key TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  expires_at REAL NOT NULL,
  destination TEXT,
  message_id TEXT,
  message BLOB,
  version TEXT NOT NULL DEFAULT '',
  held_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  expires_at REAL NOT NULL
);
"""
_COLUMNS = "key, state, version, expires_at, destination, message_id, message, held_until"
#: Columns a file written by an earlier release may lack, added on open.
_ADDED = {"version": "TEXT NOT NULL DEFAULT ''", "held_until": "REAL NOT NULL DEFAULT 0"}
T = TypeVar("T")


class SqliteStorage(IdempotencyStorage):
    def __init__(self, db: SqliteDb) -> None:
        self.db = db
        columns = {row[1] for row in db.conn.execute("PRAGMA table_info(records)")}
        for name, ddl in _ADDED.items():
            if name not in columns:
                try:
                    db.conn.execute(f"ALTER TABLE records ADD COLUMN {name} {ddl}")
                except sqlite3.OperationalError:
                    pass  # another process added it first

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            with self.db.lock:
                return fn(self.db.conn)
        except sqlite3.Error as exc:
            raise IdempotencyError(f"idempotency store: {exc}") from exc

    @staticmethod
    def _row(entry: Entry) -> tuple[object, ...]:
        return (entry.key, entry.state.value, entry.version, entry.expires_at, entry.destination,
                entry.message_id, entry.message, entry.held_until)

    def put_new(self, entry: Entry, now: float) -> bool:
        sql = (f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
               " ON CONFLICT (key) DO UPDATE SET state = excluded.state,"
               " version = excluded.version, expires_at = excluded.expires_at,"
               " destination = excluded.destination, message_id = excluded.message_id,"
               " message = excluded.message, held_until = excluded.held_until"
               " WHERE records.expires_at <= ?")
        return self._run(lambda c: c.execute(sql, (*self._row(entry), now)).rowcount == 1)

    def replace(self, entry: Entry, expected_version: str, now: float) -> bool:
        sql = ("UPDATE records SET state = ?, version = ?, expires_at = ?, destination = ?,"
               " message_id = ?, message = ?, held_until = ?"
               " WHERE key = ? AND version = ? AND expires_at > ?")
        params = (*self._row(entry)[1:], entry.key, expected_version, now)
        return self._run(lambda c: c.execute(sql, params).rowcount == 1)

    def get(self, key: str, now: float) -> Entry | None:
        row = self._run(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM records WHERE key = ? AND expires_at > ?",
            (key, now)).fetchone())
        if row is None:
            return None
        return Entry(row[0], ClaimState(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])

    def delete(self, key: str, expected_version: str) -> bool:
        return self._run(lambda c: c.execute(
            "DELETE FROM records WHERE key = ? AND version = ?",
            (key, expected_version)).rowcount == 1)

    def increment(self, counter: str, limit: int | None, expires_in_s: float, now: float,
                  amount: int = 1) -> int | None:
        def add(conn: sqlite3.Connection) -> int | None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value, expires_at FROM counters WHERE name = ?",
                                   (counter,)).fetchone()
                live = row is not None and row[1] > now
                value = int(row[0]) if live else 0
                if limit is not None and value + amount > limit:
                    conn.execute("COMMIT")
                    return None
                conn.execute("INSERT OR REPLACE INTO counters (name, value, expires_at)"
                             " VALUES (?, ?, ?)",
                             (counter, value + amount, row[1] if live else now + expires_in_s))
                conn.execute("COMMIT")
                return value + amount
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return self._run(add)

    def close(self) -> None:
        self.db.close()


REQUIRES = None


def check_url(url: str, variable: str) -> None:
    sqlite_check_url(url, variable, needs_queue=False)


def open_store(url: str) -> IdempotencyStore:
    path, query = parse_sqlite_url(url, "IDEMPOTENCY_STORE_URL")
    return IdempotencyStore(SqliteStorage(
        SqliteDb(path, SCHEMA, synchronous_mode(query, url, "IDEMPOTENCY_STORE_URL"))))
