"""A fleet-wide rate limit on OCR calls (``OCR_MAX_CALLS_PER_SECOND``).

Every instance takes a slot from shared state before each call, in the store the
idempotency URL names (Redis/DCS: one Lua script; DynamoDB: conditional writes; sqlite:
transactions on one machine), so the fleet as a whole sends at most the configured rate per
API and region, evenly spaced. A call waits for its slot rather than being sent to be
refused; when the slot lies beyond what the record's deadline allows, no slot is taken and
the caller gives the record back. A throttle answer lowers the shared rate for every
instance (AIMD, :mod:`.policy`).

Importing this package costs nothing at a cold start: backends load on first use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import RateStore, RateStoreError
from .policy import Aimd, Reservation

__all__ = ["Aimd", "Limits", "RateLimiter", "RateStore", "RateStoreError", "Reservation", "Slot",
           "limits_problem"]


def limits_problem(value: Any, apis: set[str] | None = None) -> str | None:
    """What is wrong with an ``OCR_MAX_CALLS_PER_SECOND`` value (already JSON-decoded), or
    None: a positive number, or an object of positive numbers keyed by API name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Mapping)):
        return 'expected a number of calls per second, or a JSON object such as {"general-text": 10}'
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for api, n in items:
        where = f" for {api!r}" if api else ""
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not n > 0:
            return f"expected a positive number of calls per second{where}, got {n!r}"
        if api and apis is not None and api not in apis:
            return f"unknown API {api!r}"
    return None


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


@dataclass(frozen=True)
class Slot:
    """The answer to :meth:`RateLimiter.acquire`."""

    granted: bool
    waited_s: float = 0.0
    #: the slot taken (None when the API is not limited or the store was unreachable)
    reservation: Reservation | None = None


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
        ceiling = self.limits.ceiling(api)
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
        if reservation.wait_s > 0:
            self._sleep(reservation.wait_s)
        return Slot(True, reservation.wait_s, reservation)

    def throttled(self, api: str, region: str, slot: Slot) -> float | None:
        """Reports a throttle answer to the call made in ``slot``: the fleet's new rate, or
        None when this episode was already answered (or the API is not limited)."""
        ceiling = self.limits.ceiling(api)
        if ceiling is None or slot.reservation is None:
            return None
        try:
            return self.store.decrease(self.key(api, region), ceiling, slot.reservation)
        except RateStoreError as exc:
            self._store_error(exc)
            return None

    def _store_error(self, exc: RateStoreError) -> None:
        if self._on_store_error is not None:
            self._on_store_error(exc)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


_BACKENDS = {
    "sqlite": "ocrflow.ratelimit.sqlite:open_store",
    "redis": "ocrflow.ratelimit.redis:open_store",
    "rediss": "ocrflow.ratelimit.redis:open_store",
    "dynamodb": "ocrflow.ratelimit.dynamodb:open_store",
}


def open_rate_store(url: str, variable: str = "IDEMPOTENCY_STORE_URL") -> RateStore:
    """The rate store beside the idempotency store ``url`` names (same scheme, same place)."""
    from ..registry import _open

    store: RateStore = _open(_BACKENDS, url, variable)
    return store
