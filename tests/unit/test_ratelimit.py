"""The limiter's policy around a store: waiting for the slot, refusing without taking one
when the deadline does not allow the wait, and what ``OCR_MAX_CALLS_PER_SECOND`` accepts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.ratelimit import limits_problem
from ocrflow.adapters.ratelimit.limiter import LATE_S, WINDOW_GUARD_S, Limits, RateLimiter
from ocrflow.adapters.ratelimit.policy import Reservation
from ocrflow.adapters.ratelimit.port import RateStore, RateStoreError
from ocrflow.adapters.ratelimit.sqlite import open_store
from ocrflow.provider import catalogue


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, s: float) -> None:
        self.calls.append(s)


def limiter(tmp_path: Path, limits: Limits, sleep: Sleeps) -> RateLimiter:
    return RateLimiter(limits, lambda: open_store(f"sqlite:///{tmp_path}/idempotency.db"), sleep=sleep)


def test_each_call_waits_for_its_slot(tmp_path: Path) -> None:
    sleep = Sleeps()
    rl = limiter(tmp_path, Limits.of(4), sleep)
    deadline = time.monotonic() + 60
    slots = [rl.acquire("general-text", "cn-north-4", deadline) for _ in range(4)]
    assert all(s.granted for s in slots)
    # one every 0.25 s: the first at once, then each a quarter second after the one before
    assert len(sleep.calls) in (3, 4) and sleep.calls[-1] == pytest.approx(0.75, abs=0.05)
    assert slots[-1].waited_s == pytest.approx(0.75, abs=0.05)
    rl.close()


def test_a_call_too_far_behind_its_slot_is_told_it_missed_it(tmp_path: Path) -> None:
    now = [50.0]
    rl = RateLimiter(Limits.of(10), lambda: open_store(f"sqlite:///{tmp_path}/idempotency.db"),
                     sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    far = now[0] + 60
    rl.acquire("general-text", "cn-north-4", far)
    slot = rl.acquire("general-text", "cn-north-4", far)  # slept until it was due
    assert slot.due == pytest.approx(now[0]) and not rl.missed(slot)
    now[0] += LATE_S / 2  # sent a little late: still within the window's guard
    assert not rl.missed(slot)
    now[0] += LATE_S  # its process was not scheduled in time
    assert rl.missed(slot)
    assert not rl.missed(rl.acquire("vat-invoice", "cn-north-4", far))  # not limited: never
    rl.close()


def test_a_slot_beyond_the_deadline_is_not_taken_and_the_call_is_not_delayed(tmp_path: Path) -> None:
    sleep = Sleeps()
    rl = limiter(tmp_path, Limits.of(2), sleep)
    far = time.monotonic() + 60
    for _ in range(3):
        assert rl.acquire("general-text", "cn-north-4", far).granted  # the next slot is ~1.5 s away
    n = len(sleep.calls)
    # 1 s left, of which the call itself needs 0.5 s: the slot would come too late
    refused = rl.acquire("general-text", "cn-north-4", time.monotonic() + 1.0, reserve_s=0.5)
    assert not refused.granted and len(sleep.calls) == n
    assert not rl.acquire("general-text", "cn-north-4", time.monotonic() - 1).granted
    later = rl.acquire("general-text", "cn-north-4", far)
    assert later.granted and later.waited_s == pytest.approx(1.5, abs=0.1)  # nothing was taken
    rl.close()


def test_apis_without_a_limit_are_not_delayed_or_stored(tmp_path: Path) -> None:
    rl = limiter(tmp_path, Limits.of({"vat-invoice": 1}), Sleeps())
    assert rl.acquire("general-text", "cn-north-4", time.monotonic() + 1).granted
    assert rl._store is None  # nothing opened for an API without a limit
    assert rl.acquire("vat-invoice", "cn-north-4", time.monotonic() + 1).granted
    assert rl._store is not None
    rl.close()


def test_a_throttle_answer_slows_every_instance(tmp_path: Path) -> None:
    a, b = limiter(tmp_path, Limits.of(10), Sleeps()), limiter(tmp_path, Limits.of(10), Sleeps())
    far = time.monotonic() + 60
    slot_a = a.acquire("general-text", "cn-north-4", far)
    slot_b = b.acquire("general-text", "cn-north-4", far)
    spaced = 10 / (1 + WINDOW_GUARD_S)  # the limit, less the guard for any one-second window
    assert a.throttled("general-text", "cn-north-4", slot_a) is None  # a lone throttle arms
    assert b.throttled("general-text", "cn-north-4", slot_b) == pytest.approx(0.8 * spaced, rel=1e-3)
    assert a.throttled("general-text", "cn-north-4", slot_a) is None  # same episode
    s1, s2 = (b.acquire("general-text", "cn-north-4", far) for _ in range(2))
    assert s1.reservation and s2.reservation
    assert s2.reservation.slot - s1.reservation.slot == pytest.approx(1 / (0.8 * spaced), abs=1e-3)
    a.close()
    b.close()


class DownStore(RateStore):
    def reserve(self, key: str, ceiling: float, max_wait_s: float) -> Reservation | None:
        raise RateStoreError("redis rate store: ConnectionError")

    def decrease(self, key: str, ceiling: float, throttled: Reservation) -> float | None:
        raise RateStoreError("redis rate store: ConnectionError")


def test_an_unreachable_store_lets_calls_through_and_says_so() -> None:
    errors: list[RateStoreError] = []
    rl = RateLimiter(Limits.of(1), DownStore, on_store_error=errors.append)
    slot = rl.acquire("general-text", "cn-north-4", time.monotonic() + 5)
    assert slot.granted and slot.reservation is None
    assert rl.throttled("general-text", "cn-north-4", slot) is None
    assert [str(e) for e in errors] == ["redis rate store: ConnectionError"]


@pytest.mark.parametrize(("value", "problem"), [
    (None, None), (10, None), (0.5, None), ({"general-text": 10, "vat-invoice": 5}, None),
    (0, "positive number"), (-3, "positive number"), (True, "expected a number"),
    ("10", "expected a number"), ([10], "expected a number"),
    ({"general-text": 0}, "for 'general-text'"), ({"general-text": "fast"}, "positive number"),
    ({"generaltext": 10}, "unknown API 'generaltext'"),
])
def test_what_the_setting_accepts(value: object, problem: str | None) -> None:
    found = limits_problem(value, set(catalogue.load().apis))
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_limits_per_api() -> None:
    assert Limits.of(None).ceiling("general-text") is None and not Limits.of(None)
    assert Limits.of(7).ceiling("id-card") == 7.0
    per = Limits.of({"general-text": 10})
    assert per.ceiling("general-text") == 10.0 and per.ceiling("id-card") is None and per


@pytest.mark.parametrize(("text", "message"), [
    ("0", "OCR_MAX_CALLS_PER_SECOND: expected a positive number of calls per second, got 0"),
    ('{"general-text": "a"}', "OCR_MAX_CALLS_PER_SECOND: expected a positive number of calls per second "
                              "for 'general-text', got 'a'"),
    ('{"x": 3}', "OCR_MAX_CALLS_PER_SECOND: unknown API 'x'"),
    ("fast", "OCR_MAX_CALLS_PER_SECOND: is not valid JSON"),
])
def test_a_bad_setting_stops_the_start_naming_the_variable(text: str, message: str) -> None:
    from ocrflow.config.settings import load_settings
    from ocrflow.core.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_settings({"OCR_MAX_CALLS_PER_SECOND": text})
    assert str(err.value).startswith(message)


def test_the_setting_is_read_as_a_number_or_per_api() -> None:
    from ocrflow.config.settings import load_settings

    assert load_settings({"OCR_MAX_CALLS_PER_SECOND": "12.5"}).max_calls_per_second == 12.5
    per_api = load_settings({"OCR_MAX_CALLS_PER_SECOND": '{"general-text": 10, "vat-invoice": 5}'})
    assert Limits.of(per_api.max_calls_per_second).ceiling("vat-invoice") == 5.0
    assert load_settings({}).max_calls_per_second is None


def test_a_call_that_missed_its_slot_is_sent_in_a_later_one(tmp_path: Path, replay: Any) -> None:
    """A process descheduled past its slot does not crowd the window of the call N slots
    after it: the call takes the next slot; after MAX_MISSED_SLOTS it goes all the same."""
    from ocrflow.config.settings import load_settings
    from ocrflow.core.signer import Credentials
    from ocrflow.provider.client import MAX_MISSED_SLOTS, OcrClient

    now = [time.monotonic()]
    lateness = [LATE_S * 3] * 2 + [0.0]  # late for two slots, then on time

    def sleep(s: float) -> None:  # wakes late as long as ``lateness`` says so
        now[0] += s + (lateness.pop(0) if lateness else LATE_S * 3)

    # one call a second: each slot after the first is a wait away (the store's real clock
    # stands still while this one jumps)
    rl = RateLimiter(Limits.of(1), lambda: open_store(f"sqlite:///{tmp_path}/idempotency.db"),
                     sleep=sleep, clock=lambda: now[0])
    rl.acquire("general-text", "cn-north-4", now[0] + 60)
    settings = load_settings({"OCR_ENDPOINT": replay.url + "/{region}", "OCR_PROJECT_ID": "proj"})
    client = OcrClient(settings, None, sleep=lambda s: None, limiter=rl)
    out = client.call("general-text", "cn-north-4", b'{"image":"AAAA"}', now[0] + 30,
                      Credentials("AK", "SK"))
    assert out.ok and out.attempts == 1 and len(replay.received) == 1
    assert lateness == []  # two slots missed, the third used

    lateness[:] = []  # always late now: sent after giving up MAX_MISSED_SLOTS slots
    out = client.call("general-text", "cn-north-4", b'{"image":"AAAA"}', now[0] + 30,
                      Credentials("AK", "SK"))
    assert out.ok and out.attempts == 1 and len(replay.received) == 2
    assert MAX_MISSED_SLOTS >= 1
    rl.close()
