"""The one rate policy, kept as plain arithmetic on a small state so that every backend
applies the same rules (the Redis script spells the same steps in Lua).

*Slots* (GCRA, no burst): each call takes the next free slot, ``1 / rate`` after the one
before; a call that would have to wait longer than it can afford takes none.

*AIMD*: throttle answers multiply the rate by :attr:`Aimd.decrease`, once per episode. A
lone throttle only arms the decrease: the gateway counts calls per one-second period, and
evenly spaced calls at exactly the limit sometimes land one too many in a period when the
network delays them unevenly; a second throttle within ``hold_s`` (or two slots, at rates
under two calls a second) is the rate itself. A
throttle of a call reserved before the last decrease, or sent within ``hold_s`` after it,
belongs to that decrease's episode (the calls were already on their way at the old rate).
The rate then grows back by ``increase`` × ceiling per second, up to the configured
ceiling; it never falls below ``floor`` × ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Aimd:
    decrease: float = 0.8
    #: share of the ceiling regained per second after a decrease
    increase: float = 0.05
    floor: float = 0.05
    hold_s: float = 1.0
    #: an API idle this long forgets its state (back to the ceiling)
    idle_ttl_s: float = 3600.0


@dataclass
class RateState:
    #: the next free slot (the store's clock, seconds)
    tat: float | None = None
    #: the rate set by the last decrease, and when
    base: float | None = None
    cut_at: float | None = None
    #: when a lone throttle armed the next decrease
    armed_at: float | None = None


@dataclass(frozen=True)
class Reservation:
    """A slot: ``wait_s`` from the store's ``now``; ``slot`` and ``now`` on its clock."""

    wait_s: float
    slot: float
    now: float


def current_rate(state: RateState, ceiling: float, now: float, aimd: Aimd) -> float:
    if state.base is None or state.cut_at is None:
        return ceiling
    return min(ceiling, state.base + aimd.increase * ceiling * max(0.0, now - state.cut_at))


def reserve(state: RateState, ceiling: float, now: float, max_wait_s: float,
            aimd: Aimd) -> Reservation | None:
    """Takes the next slot into ``state`` unless it is more than ``max_wait_s`` away."""
    slot = max(state.tat if state.tat is not None else now, now)
    if slot - now > max_wait_s:
        return None
    state.tat = slot + 1.0 / current_rate(state, ceiling, now, aimd)
    return Reservation(slot - now, slot, now)


def decrease(state: RateState, ceiling: float, now: float, throttled: Reservation,
             aimd: Aimd) -> float | None:
    """Lowers the rate for a throttle answer to the call of ``throttled``; the new rate, or
    None when that throttle only armed the decrease or belongs to an episode already
    answered."""
    if state.cut_at is not None and (throttled.now < state.cut_at
                                     or throttled.slot < state.cut_at + aimd.hold_s):
        return None
    rate = current_rate(state, ceiling, now, aimd)
    if state.armed_at is None or now - state.armed_at > max(aimd.hold_s, 2.0 / rate):
        state.armed_at = now
        return None
    rate = max(aimd.floor * ceiling, aimd.decrease * rate)
    state.base, state.cut_at, state.armed_at = rate, now, None
    return rate
