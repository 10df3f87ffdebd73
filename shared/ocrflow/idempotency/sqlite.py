"""``sqlite:///PATH.db``: the embedded idempotency store (one machine, one process or
several: claims are taken inside ``BEGIN IMMEDIATE`` transactions)."""

from __future__ import annotations

import sqlite3
import time

from ..errors import IdempotencyError
from ..ports import Claim, ClaimState, IdempotencyStore
from ..sqlite_util import SqliteDb, parse_sqlite_url, synchronous_mode

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
  key TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  expires_at REAL NOT NULL,
  destination TEXT,
  message_id TEXT,
  message BLOB
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  expires_at REAL NOT NULL
);
"""


class SqliteIdempotencyStore(IdempotencyStore):
    def __init__(self, db: SqliteDb, retention_s: float = 7 * 24 * 3600) -> None:
        self.db = db
        self.retention_s = retention_s

    def _tx(self) -> sqlite3.Connection:
        self.db.conn.execute("BEGIN IMMEDIATE")
        return self.db.conn

    def claim(self, key: str, expires_in_s: float) -> Claim:
        now = time.time()
        try:
            with self.db.lock:
                # the common case, a key never seen: one atomic statement, no transaction
                first = self.db.conn.execute(
                    "INSERT INTO records (key, state, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key, ClaimState.IN_PROGRESS.value, now + expires_in_s))
                if first.rowcount == 1:
                    return Claim(ClaimState.CLAIMED)
                conn = self._tx()
                try:
                    row = conn.execute(
                        "SELECT state, expires_at, destination, message_id, message FROM records"
                        " WHERE key = ?", (key,)).fetchone()
                    result: Claim
                    if row is None or (row[0] == ClaimState.IN_PROGRESS.value and row[1] <= now) \
                            or (row[0] == ClaimState.COMPLETED.value and row[1] <= now):
                        conn.execute(
                            "INSERT OR REPLACE INTO records (key, state, expires_at) VALUES (?, ?, ?)",
                            (key, ClaimState.IN_PROGRESS.value, now + expires_in_s))
                        result = Claim(ClaimState.CLAIMED)
                    elif row[0] == ClaimState.IN_PROGRESS.value:
                        result = Claim(ClaimState.IN_PROGRESS)
                    else:
                        result = Claim(ClaimState(row[0]), message=row[4], destination=row[2],
                                       message_id=row[3])
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise IdempotencyError(f"idempotency store: {exc}") from exc

    def _update(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            with self.db.lock:
                self.db.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise IdempotencyError(f"idempotency store: {exc}") from exc

    def save_outcome(self, key: str, destination: str, message_id: str, message: bytes) -> None:
        self._update(
            "UPDATE records SET state = ?, destination = ?, message_id = ?, message = ?,"
            " expires_at = ? WHERE key = ?",
            (ClaimState.OUTCOME_STORED.value, destination, message_id, message,
             time.time() + self.retention_s, key))

    def complete(self, key: str) -> None:
        # the message is kept: a redelivery answers COMPLETED without a call or a publish
        self._update("UPDATE records SET state = ?, expires_at = ? WHERE key = ?",
                     (ClaimState.COMPLETED.value, time.time() + self.retention_s, key))

    def release(self, key: str) -> None:
        self._update("DELETE FROM records WHERE key = ? AND state = ?",
                     (key, ClaimState.IN_PROGRESS.value))

    def increment(self, counter: str, limit: int | None, expires_in_s: float,
                  amount: int = 1) -> int | None:
        now = time.time()
        try:
            with self.db.lock:
                conn = self._tx()
                try:
                    row = conn.execute("SELECT value, expires_at FROM counters WHERE name = ?",
                                       (counter,)).fetchone()
                    value = 0 if row is None or row[1] <= now else int(row[0])
                    expires = now + expires_in_s if row is None or row[1] <= now else row[1]
                    if limit is not None and value + amount > limit:
                        conn.execute("COMMIT")
                        return None
                    conn.execute("INSERT OR REPLACE INTO counters (name, value, expires_at)"
                                 " VALUES (?, ?, ?)", (counter, value + amount, expires))
                    conn.execute("COMMIT")
                    return value + amount
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise IdempotencyError(f"idempotency store: {exc}") from exc

    def close(self) -> None:
        self.db.close()


def open_store(url: str) -> SqliteIdempotencyStore:
    path, query = parse_sqlite_url(url, "IDEMPOTENCY_STORE_URL")
    return SqliteIdempotencyStore(
        SqliteDb(path, SCHEMA, synchronous_mode(query, url, "IDEMPOTENCY_STORE_URL")))
