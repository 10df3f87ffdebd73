"""The shared rate on one machine: a table beside the idempotency records in the same
sqlite file; each step is one ``BEGIN IMMEDIATE`` transaction, so processes on the machine
(``ocrflow run`` side by side) share it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ..sqlite import SqliteDb, parse_sqlite_url, synchronous_mode
from . import policy
from .port import RateStoreError, ReadModifyWriteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
  key TEXT PRIMARY KEY,
  tat REAL,
  base REAL,
  cut_at REAL,
  armed_at REAL,
  expires_at REAL NOT NULL
);
"""


class SqliteRateStore(ReadModifyWriteStore):
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def _step(self, key: str, change: Callable[[policy.RateState, float], object]) -> object:
        try:
            with self.db.lock:
                conn = self.db.conn
                conn.execute("BEGIN IMMEDIATE")
                now = time.time()  # once the other processes' steps are done
                try:
                    row = conn.execute("SELECT tat, base, cut_at, armed_at, expires_at FROM rate_limits"
                                       " WHERE key = ?", (key,)).fetchone()
                    state = policy.RateState(*row[:4]) if row and row[4] > now else policy.RateState()
                    out = change(state, now)
                    conn.execute("INSERT OR REPLACE INTO rate_limits VALUES (?, ?, ?, ?, ?, ?)",
                                 (key, state.tat, state.base, state.cut_at, state.armed_at,
                                  now + self.aimd.idle_ttl_s))
                    conn.execute("COMMIT")
                    return out
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise RateStoreError(f"sqlite rate store: {exc}") from exc

    def close(self) -> None:
        self.db.close()


REQUIRES = None


def open_store(url: str) -> SqliteRateStore:
    path, query = parse_sqlite_url(url, "IDEMPOTENCY_STORE_URL")
    return SqliteRateStore(SqliteDb(path, SCHEMA, synchronous_mode(query, url, "IDEMPOTENCY_STORE_URL")))
