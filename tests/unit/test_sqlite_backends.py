"""The embedded sqlite queue and idempotency store: durability is chosen in the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.errors import ConfigError
from ocrflow.idempotency.sqlite import open_store
from ocrflow.queues.sqlite import open_queue

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
