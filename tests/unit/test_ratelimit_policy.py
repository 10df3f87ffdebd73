"""The rate policy on its own, on a clock of our choosing: slots, the armed decrease, the
episode, the climb back and the floor (the stores apply exactly these steps)."""

from __future__ import annotations

import pytest

from ocrflow.adapters.ratelimit.policy import (
    Aimd,
    RateState,
    Reservation,
    current_rate,
    decrease,
    reserve,
)

AIMD = Aimd()


def call_at(t: float) -> Reservation:
    """A call reserved and sent at ``t``."""
    return Reservation(0.0, t, t)


def test_slots_follow_each_other_at_the_rate_and_a_far_one_is_not_taken() -> None:
    s = RateState()
    got = [reserve(s, 10, 100.0, 60, AIMD) for _ in range(3)]
    assert [r.slot for r in got if r] == [100.0, 100.1, pytest.approx(100.2)]
    assert reserve(s, 10, 100.0, 0.25, AIMD) is None  # the next slot is 0.3 s away
    assert s.tat == pytest.approx(100.3)  # nothing was taken
    later = reserve(s, 10, 200.0, 0, AIMD)  # idle since: no burst saved up
    assert later and later.slot == 200.0 and s.tat == pytest.approx(200.1)


def test_a_lone_throttle_arms_and_a_second_within_the_period_decreases() -> None:
    s = RateState()
    assert decrease(s, 10, 100.0, call_at(99.9), AIMD) is None
    assert decrease(s, 10, 100.5, call_at(100.4), AIMD) == pytest.approx(8.0)
    # another lone throttle, later than a period after the first: it only arms again
    t = RateState()
    decrease(t, 10, 100.0, call_at(99.9), AIMD)
    assert decrease(t, 10, 101.5, call_at(101.4), AIMD) is None and t.armed_at == 101.5


def test_at_a_low_rate_two_slots_make_the_period() -> None:
    s = RateState()  # 0.5 calls/s: one call every 2 s, two throttles can never be 1 s apart
    assert decrease(s, 0.5, 100.0, call_at(100.0), AIMD) is None
    assert decrease(s, 0.5, 102.0, call_at(102.0), AIMD) == pytest.approx(0.4)


def test_calls_already_on_their_way_belong_to_the_decrease_they_caused() -> None:
    s = RateState()
    decrease(s, 10, 100.0, call_at(99.9), AIMD)
    assert decrease(s, 10, 100.2, call_at(100.1), AIMD) == pytest.approx(8.0)
    assert decrease(s, 10, 100.3, call_at(100.15), AIMD) is None  # reserved before the cut
    assert decrease(s, 10, 100.9, Reservation(0.1, 100.8, 100.7), AIMD) is None  # sent in the hold
    assert decrease(s, 10, 101.6, call_at(101.5), AIMD) is None  # a new episode: armed
    assert decrease(s, 10, 101.7, call_at(101.6), AIMD) == pytest.approx(0.8 * (8.0 + 0.5 * 1.5))


def test_the_rate_climbs_back_by_a_share_of_the_ceiling_per_second_up_to_it() -> None:
    s = RateState(base=8.0, cut_at=100.0)
    assert current_rate(s, 10, 100.0, AIMD) == 8.0
    assert current_rate(s, 10, 102.0, AIMD) == pytest.approx(9.0)  # + 5 % of 10 per second
    assert current_rate(s, 10, 110.0, AIMD) == 10.0  # never above the ceiling
    r1, r2 = reserve(s, 10, 102.0, 60, AIMD), reserve(s, 10, 102.0, 60, AIMD)
    assert r1 and r2 and r2.slot - r1.slot == pytest.approx(1 / 9.0)


def test_the_rate_never_falls_below_the_floor() -> None:
    s = RateState()
    t = 100.0
    rates = []
    for _ in range(30):
        t += 2.0
        decrease(s, 10, t, call_at(t), Aimd(increase=0.0))
        rates.append(decrease(s, 10, t + 0.1, call_at(t + 0.1), Aimd(increase=0.0)))
    assert min(r for r in rates if r) == pytest.approx(0.5)  # 5 % of the ceiling
