"""The shared rate stores on their real backends (sqlite file, Redis, DynamoDB on moto
server): the same steps give the same slots and rates on each, and concurrent instances
never share a slot."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ocrflow.adapters.ratelimit.policy import Aimd, Reservation
from ocrflow.adapters.ratelimit.port import RateStore
from ocrflow.adapters.registry import open_rate_store
from tests.support.stores import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateStore]:
    url = store_url(request, tmp_path, request.param)
    s = open_rate_store(url)
    yield s
    s.close()


def spacing(slots: list[float]) -> list[float]:
    return [round(b - a, 4) for a, b in zip(slots, slots[1:])]


def test_slots_are_evenly_spaced_and_a_slot_too_far_is_not_taken(store: RateStore) -> None:
    # 2 calls/s: slots 0.5 s apart, far more than a round trip to any of the stores
    got = [store.reserve("rate:general-text@cn-north-4", 2, 60) for _ in range(5)]
    assert all(r is not None for r in got)
    slots = [r.slot for r in got if r]
    assert spacing(slots) == [0.5] * 4
    assert got[0] and got[0].wait_s < 0.2 and got[-1] and got[-1].wait_s > 1.5  # later calls wait
    assert store.reserve("rate:general-text@cn-north-4", 2, 0.2) is None
    nxt = store.reserve("rate:general-text@cn-north-4", 2, 60)
    assert nxt and round(nxt.slot - slots[-1], 4) == 0.5  # the refused call took nothing
    other = store.reserve("rate:general-text@cn-east-3", 2, 60)
    assert other and other.wait_s < 0.2  # another region's gateway: its own slots


def test_two_throttles_in_a_period_lower_the_rate_once_per_episode(store: RateStore) -> None:
    key = "rate:id-card@cn-north-4"
    first, second = store.reserve(key, 2, 60), store.reserve(key, 2, 60)
    assert first and second
    # a lone throttle may be the edge of the gateway's one-second count: it only arms
    assert store.decrease(key, 2, first) is None
    assert store.decrease(key, 2, second) == pytest.approx(1.6, rel=1e-3)
    # calls reserved before the decrease: the same episode, no second cut
    assert store.decrease(key, 2, first) is None and store.decrease(key, 2, second) is None
    a, b, c = (store.reserve(key, 2, 60) for _ in range(3))
    assert a and b and c
    assert spacing([b.slot, c.slot]) == [pytest.approx(0.625, abs=5e-3)]
    # sent within the hold after the decrease: still the same episode
    assert store.decrease(key, 2, a) is None and store.decrease(key, 2, a) is None


def test_the_rate_climbs_back_to_the_ceiling_and_never_falls_below_the_floor(store: RateStore) -> None:
    store.aimd = replace(Aimd(), increase=0.0)  # decreases alone first
    key = "rate:vat-invoice@cn-north-4"
    later = Reservation(0.0, 1e10, 1e10)  # a call of a later episode each time
    rates = []
    for _ in range(16):
        assert store.decrease(key, 10, later) is None  # armed
        rates.append(store.decrease(key, 10, later))
    assert rates[:3] == [pytest.approx(8.0), pytest.approx(6.4), pytest.approx(5.12)]
    assert rates[-1] == pytest.approx(0.5) and min(x or 0 for x in rates) == pytest.approx(0.5)  # floor
    store.aimd = replace(Aimd(), increase=0.5)
    time.sleep(2.1)  # +0.5 × ceiling per second: back at the ceiling after 1.9 s
    r1, r2, r3 = (store.reserve(key, 10, 600) for _ in range(3))
    assert r2 and r3 and spacing([r2.slot, r3.slot]) == [0.1]


def test_concurrent_instances_never_share_a_slot(store: RateStore) -> None:
    key = f"rate:general-text@{uuid.uuid4().hex[:6]}"
    slots: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def instance() -> None:
        barrier.wait()
        for _ in range(5):
            r = store.reserve(key, 50, 600)
            assert r
            with lock:
                slots.append(r.slot)

    workers = [threading.Thread(target=instance) for _ in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(slots) == 30
    # never closer than 1/rate (further apart only when calls came slower than the rate)
    assert min(spacing(sorted(slots))) >= 0.02


def test_at_a_low_rate_a_second_throttle_two_slots_later_still_decreases(store: RateStore) -> None:
    key = "rate:bankcard@cn-north-4"
    later = Reservation(0.0, 1e10, 1e10)
    assert store.decrease(key, 0.5, later) is None  # armed
    time.sleep(1.2)  # past the one-second period, within two slots (4 s) of 0.5 calls/s
    assert store.decrease(key, 0.5, later) == pytest.approx(0.4)
