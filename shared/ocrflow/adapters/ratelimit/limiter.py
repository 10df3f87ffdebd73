"""The limiter an OCR client holds: waits for slots of the shared rate, reports throttles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .policy import Reservation
from .port import RateStore, RateStoreError


@dataclass(frozen=True)
class Limits:
    """Calls per second per API: one number for every API, or one per named API (the
    others unlimited)."""

    every: float | None = None
    per_api: Mapping[str, float] | None = None

    @classmethod
    def of(cls, value: float | Mapping[str, float] | None) -> Limits:
        if isinstance(value, Mapping):
            return cls(per_api=dict(value))
        return cls(every=float(value) if value is not None else None)

    def ceiling(self, api: str) -> float | None:
        if self.per_api is not None:
            n = self.per_api.get(api)
            return float(n) if n is not None else None
        return self.every

    def __bool__(self) -> bool:
        return self.every is not None or bool(self.per_api)


#: Slots are spaced so that any N + 1 calls in a row span one second plus this guard: a
#: gateway counting any one-second window (not only each second of its clock) still sees N
#: when the network delays calls unevenly by up to this much.
WINDOW_GUARD_S = 0.02
#: A call further behind its slot than this when it is about to be sent (its process or
#: thread was not scheduled in time) is not sent in it, but takes a later one: sent that
#: late, it would crowd the one-second window of the call N slots after it.
LATE_S = 0.01


@dataclass(frozen=True)
class Slot:
    """The answer to :meth:`RateLimiter.acquire`."""

    granted: bool
    waited_s: float = 0.0
    #: the slot taken (None when the API is not limited or the store was unreachable)
    reservation: Reservation | None = None
    #: when the slot was due, on the limiter's clock
    due: float | None = None


class RateLimiter:
    def __init__(self, limits: Limits, store: Callable[[], RateStore],
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 on_store_error: Callable[[RateStoreError], None] | None = None) -> None:
        self.limits = limits
        self._open = store
        self._store: RateStore | None = None
        self._lock = threading.Lock()
        self._sleep, self._clock = sleep, clock
        self._on_store_error = on_store_error

    @property
    def store(self) -> RateStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open()
        return self._store

    @staticmethod
    def key(api: str, region: str) -> str:
        # each region's gateway counts on its own
        return f"rate:{api}@{region}"

    def acquire(self, api: str, region: str, deadline: float, reserve_s: float = 0.0) -> Slot:
        """Waits for the next slot of ``api`` in ``region``, unless it lies later than
        ``deadline`` (``time.monotonic()``) minus ``reserve_s`` (the time the call itself
        needs): then returns at once, ungranted, having taken nothing."""
        ceiling = self._spaced(api)
        if ceiling is None:
            return Slot(True)
        max_wait = deadline - self._clock() - reserve_s
        if max_wait < 0:
            return Slot(False)
        try:
            reservation = self.store.reserve(self.key(api, region), ceiling, max_wait)
        except RateStoreError as exc:
            # the gateway still protects itself, and its answers are retried: a store outage
            # must not stop every call
            self._store_error(exc)
            return Slot(True)
        if reservation is None:
            return Slot(False)
        due = self._clock() + reservation.wait_s
        if reservation.wait_s > 0:
            self._sleep(reservation.wait_s)
        return Slot(True, reservation.wait_s, reservation, due)

    def missed(self, slot: Slot) -> bool:
        """Whether a call about to be sent in ``slot`` is too far behind it (see LATE_S)."""
        return slot.due is not None and self._clock() - slot.due > LATE_S

    def throttled(self, api: str, region: str, slot: Slot) -> float | None:
        """Reports a throttle answer to the call made in ``slot``: the fleet's new rate, or
        None when this episode was already answered (or the API is not limited)."""
        ceiling = self._spaced(api)
        if ceiling is None or slot.reservation is None:
            return None
        try:
            return self.store.decrease(self.key(api, region), ceiling, slot.reservation)
        except RateStoreError as exc:
            self._store_error(exc)
            return None

    def _spaced(self, api: str) -> float | None:
        """The rate the store spaces slots at: the limit, less the window's guard."""
        ceiling = self.limits.ceiling(api)
        return None if ceiling is None else ceiling / (1.0 + WINDOW_GUARD_S)

    def _store_error(self, exc: RateStoreError) -> None:
        if self._on_store_error is not None:
            self._on_store_error(exc)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
