"""Shared helpers for the embedded sqlite backends (queue and idempotency store)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ConfigError


def parse_sqlite_url(url: str, variable: str) -> tuple[Path, dict[str, str]]:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (the SQLAlchemy convention),
    with query parameters."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise ConfigError(variable, f"expected sqlite:///PATH.db, got {url!r}")
    path = unquote(parts.path[1:])
    if not path:
        raise ConfigError(variable, f"no file path in {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return Path(path), query


class SqliteDb:
    """One connection shared under a lock: sqlite serialises writers anyway, and this keeps
    the embedded default safe for the pipeline's thread pool."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # durable: a published message survives a crash
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(schema)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
