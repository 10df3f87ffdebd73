"""A batch of large uploads is read a few at a time: each record reserves what it will hold
before it reads its object, out of what the function has; one that cannot get it before its
deadline is given back unpublished and unpaid, and runs on its redelivery."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrflow.config.settings import load_settings
from ocrflow.contract.events import parse_event
from ocrflow.core.errors import ConfigError
from ocrflow.core.memory import MemoryGate, MemoryWaitTimeout
from ocrflow.documents import memory_estimate, pages_memory, records_memory
from ocrflow.flow.pipeline import Pipeline
from ocrflow.handler import RecordsNotPublished
from ocrflow.provider.catalogue import load
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes, s3_event

MiB = 1 << 20


def test_reservations_in_flight_never_pass_the_total_and_every_one_is_served() -> None:
    gate = MemoryGate(100)
    rng = random.Random(7)
    amounts = [rng.choice([1, 5, 30, 60, 100, 250]) for _ in range(200)]
    lock = threading.Lock()
    state = {"held": 0, "most": 0, "served": 0, "alone_violations": 0}

    def work(amount: int) -> None:
        taken = gate.acquire(amount, time.monotonic() + 30)
        with lock:
            state["held"] += taken
            state["most"] = max(state["most"], state["held"])
            if taken == gate.total and state["held"] != taken:
                state["alone_violations"] += 1
        time.sleep(0.0005)
        with lock:
            state["held"] -= taken
            state["served"] += 1
        gate.release(taken)

    threads = [threading.Thread(target=work, args=(a,)) for a in amounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert state["served"] == len(amounts)
    assert state["most"] <= 100
    assert state["alone_violations"] == 0  # one larger than the total runs alone
    assert gate.used == 0


def test_a_reservation_that_cannot_be_made_before_the_deadline_says_why() -> None:
    gate = MemoryGate(10 * MiB)
    gate.acquire(8 * MiB)
    started = time.monotonic()
    with pytest.raises(MemoryWaitTimeout, match=r"8,388,608 of 10,485,760 reserved"):
        gate.acquire(4 * MiB, time.monotonic() + 0.2)
    assert time.monotonic() - started < 2
    gate.release(8 * MiB)
    assert gate.acquire(4 * MiB, time.monotonic() + 0.2) == 4 * MiB


def test_a_waiting_reservation_is_served_when_memory_is_released() -> None:
    gate = MemoryGate(10)
    gate.acquire(10)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire(6, time.monotonic() + 10)))
    waiter.start()
    time.sleep(0.1)
    assert not got  # still waiting
    gate.release(10)
    waiter.join(5)
    assert got == [6]


def test_the_function_memory_comes_from_the_setting_or_the_platform(tmp_path: Path) -> None:
    state = {"OCRFLOW_STATE_DIR": str(tmp_path)}
    assert load_settings(state).memory_mb == 512
    assert load_settings({**state, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}).memory_mb == 1769
    assert load_settings({**state, "RUNTIME_MEMORY": "2048"}).memory_mb == 2048
    assert load_settings({**state, "OCR_MEMORY_MB": "1024",
                          "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}).memory_mb == 1024
    with pytest.raises(ConfigError, match="OCR_MEMORY_MB"):
        load_settings({**state, "OCR_MEMORY_MB": "64"})


def test_records_get_the_memory_beside_the_interpreter_and_the_one_decoding() -> None:
    assert records_memory(512) == 272 * MiB
    assert records_memory(256) == 64 * MiB  # a quarter, at least
    assert records_memory(10240) == (10240 - 240) * MiB
    catalogue = load()
    big = memory_estimate(60 * MiB, catalogue)
    assert big == 60 * MiB + 3 * catalogue.max_file_bytes  # the file and one call's bodies
    assert records_memory(512) // big == 3  # three such uploads at once in 512 MB
    assert memory_estimate(100_000, catalogue) == 400_000
    assert pages_memory(100_000, catalogue) == 24 * MiB  # eight small pages at once


@pytest.fixture
def h(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    # 6 s of deadline is less than the connect timeout and the 5 s left to read and call
    harness = make_harness(tmp_path, replay.url + "/{region}", OCR_DEADLINE_S="6")
    yield harness
    harness.close()


def test_a_record_that_gets_no_memory_in_time_is_given_back_unpaid_then_runs(
        h: Harness, replay: ReplayServer) -> None:
    h.put("ocrflow-uploads", "a.png", png_bytes())
    gate = h.rt.memory
    taken = gate.acquire(gate.total)  # large uploads in flight hold everything
    h.rt.open_queues()
    outcomes = Pipeline(h.rt, "recognize").process(
        parse_event(s3_event("a.png")), None, time.monotonic() + 6)
    assert [(o.status, o.code) for o in outcomes] == [("unpublished", "OCRFLOW.MEMORY_BUSY")]
    assert not replay.received and not h.results() and not h.failures()
    with pytest.raises(RecordsNotPublished):  # through the handler: the platform retries
        h.invoke(s3_event("a.png"))
    gate.release(taken)
    answer = h.invoke(s3_event("a.png"))
    assert answer["counts"]["results"] == 1 and len(replay.received) == 1
    assert [m["subject"] for m in h.results()] == ["a.png"]
    assert gate.used == 0  # every reservation was given back
