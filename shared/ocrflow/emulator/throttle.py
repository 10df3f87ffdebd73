"""The gateway's request throttling: at most N calls per API in one second.

The gateway's answer above the limit names the policy and its period ("limit:N,time:1
second"), a count per period; which second it counts in is not documented, so the emulator
offers both readings, per API and region (each region has its own gateway):

* ``second`` — the calls in each one-second period of the emulator's clock;
* ``sliding`` — the calls in the one second before each call, wherever it starts (the
  stricter reading: calls evenly spaced at exactly N a second pass the first and, once the
  network bunches two of them, not this one).

Refused calls do not count (the gateway rejects them before the backend)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: the counting modes, ``--qps-window``
WINDOWS = ("second", "sliding")


class Throttle:
    def __init__(self, qps: int, clock: Callable[[], float] = time.monotonic,
                 window: str = "second") -> None:
        if qps < 1:
            raise ValueError("qps must be at least 1")
        if window not in WINDOWS:
            raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
        self.qps, self.clock, self.window = qps, clock, window
        self._lock = threading.Lock()
        self._periods: dict[tuple[str, str], tuple[int, int]] = {}  # (api, region) → (second, count)
        self._admitted: dict[tuple[str, str], deque[float]] = {}  # (api, region) → times, sliding

    def admit(self, api: str, region: str) -> bool:
        """Counts one call; False when the limit was already reached."""
        now = self.clock()
        with self._lock:
            if self.window == "sliding":
                return self._admit_sliding((api, region), now)
            second = int(now)
            period, count = self._periods.get((api, region), (second, 0))
            if period != second:
                count = 0
            if count >= self.qps:
                return False
            self._periods[(api, region)] = (second, count + 1)
            return True

    def _admit_sliding(self, key: tuple[str, str], now: float) -> bool:
        times = self._admitted.setdefault(key, deque())
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= self.qps:
            return False
        times.append(now)
        return True

    def message(self) -> str:
        return ("The throttling threshold has been reached: policy user over ratelimit,"
                f"limit:{self.qps},time:1 second")
