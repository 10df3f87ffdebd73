"""Several ``ocrflow run`` processes over the same uploads, as function instances given the
same events at once (S3 → SQS and OBS deliver at least once, Lambda runs batches
concurrently): every upload ends in exactly one message, paid once, with the idempotency
store and the queue on real servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrflow.adapters.registry import open_queue
from ocrflow.chaos.run import RunCounts, count_messages, start_run, write_uploads
from ocrflow.emulator.server import start_emulator
from tests.conftest import ROOT

PROCESSES, UPLOADS = 4, 80


@pytest.fixture
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A queue of the test's own on the broker the test names."""
    name = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    kind = request.param
    if kind == "redis-streams":
        url = f"{request.getfixturevalue('redis_url')}?stream={name}"
    elif kind == "rabbitmq":
        url = f"{request.getfixturevalue('rabbitmq')}?queue={name}"
    else:
        url = f"sqlite:///{tmp_path / 'queues.db'}?queue={name}"
    yield url
    if kind == "redis-streams":
        import redis

        redis.Redis.from_url(url.split("?")[0]).delete(name)
    elif kind == "rabbitmq":
        from tests.support.amqp import drain

        drain(url.split("?")[0], name)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:"
    return f"sqlite:///{tmp_path / 'idempotency.db'}"


@pytest.mark.parametrize(("store_url", "queue_url"), [
    ("redis", "redis-streams"), ("redis", "rabbitmq"), ("sqlite", "rabbitmq"),
    ("sqlite", "sqlite")], indirect=True)
def test_processes_over_the_same_uploads_publish_each_message_once(
        tmp_path: Path, store_url: str, queue_url: str) -> None:
    folder = tmp_path / "uploads"
    keys = write_uploads(folder, UPLOADS)
    with start_emulator(recognition=False, latency_ms=60) as emu:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT / "shared"),
               "OCR_ENDPOINT": emu.url + "/{region}", "OCR_PROJECT_ID": "fleet-project",
               "HUAWEICLOUD_SDK_AK": "FLEETAK", "HUAWEICLOUD_SDK_SK": "FLEETSK",
               "POWERTOOLS_LOG_LEVEL": "ERROR", "IDEMPOTENCY_STORE_URL": store_url,
               "RESULT_QUEUE_URL": queue_url, "FAILURE_QUEUE_URL": queue_url}
        procs = [start_run(folder, env, tmp_path / f"state{p}") for p in range(PROCESSES)]
        outs = [proc.communicate(timeout=240) for proc in procs]
        stats = emu.stats()
    runs = [RunCounts.parse(stdout + stderr) for stdout, stderr in outs]
    queue = open_queue(queue_url, "RESULT_QUEUE_URL")
    try:
        messages = list(queue.dump())
    finally:
        queue.close()
    count = count_messages(keys, messages, [])
    print(count, runs, stats)
    assert count.uploads_without_message == 0
    assert count.messages == UPLOADS and count.most_per_upload == 1
    # each upload published by exactly one process; the others found it held or done
    assert sum(r.results for r in runs) == UPLOADS
    assert sum(r.failures for r in runs) == 0
    assert stats["billed"] == UPLOADS
