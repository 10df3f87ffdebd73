"""The embedded sqlite backends' shared parts (queue, idempotency store, rate store): one
reading of a ``sqlite:///`` URL and one connection per file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..core.errors import ConfigError


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


SYNCHRONOUS = ("normal", "full", "extra")


def synchronous_mode(query: dict[str, str], url: str, variable: str) -> str:
    """``?synchronous=normal|full|extra`` (default ``normal``).

    In WAL mode ``normal`` keeps every committed transaction through a crash or kill of the
    process; only an operating-system crash or power loss may roll back the last ones.
    ``full`` also survives those, at one fsync per transaction (a few per record)."""
    mode = query.get("synchronous", "normal").lower()
    if mode not in SYNCHRONOUS:
        raise ConfigError(variable, f"synchronous must be one of {', '.join(SYNCHRONOUS)}, "
                                    f"got {mode!r} in {url!r}")
    return mode


class SqliteDb:
    """One connection shared under a lock: sqlite serialises writers anyway, and this keeps
    the embedded default safe for the pipeline's thread pool."""

    def __init__(self, path: Path, schema: str, synchronous: str = "normal") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous={synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(schema)

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def check_url(url: str, variable: str, needs_queue: bool) -> None:
    """A ``sqlite:///`` URL as the sqlite backends read it; ``needs_queue``: a queue's URL,
    which names its queue. The file's folder is made when it is opened; one that cannot be
    made then is a queue or store that is down (redelivered, a paid answer kept), not a
    refusal here."""
    from .urls import refusal

    _, query = parse_sqlite_url(url, variable)
    synchronous_mode(query, url, variable)
    if needs_queue and not query.get("queue"):
        raise refusal(variable, url, "a sqlite queue URL needs ?queue=NAME")
