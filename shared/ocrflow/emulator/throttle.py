"""The gateway's request throttling: at most N calls per API in each one-second period.

The gateway's answer above the limit names the policy and its period ("limit:N,time:1
second"), i.e. a count per period, which is what this counts: per API and region (each
region has its own gateway), in one-second periods of the emulator's clock. Refused calls
do not count against the period (the gateway rejects them before the backend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    def __init__(self, qps: int, clock: Callable[[], float] = time.monotonic) -> None:
        if qps < 1:
            raise ValueError("qps must be at least 1")
        self.qps, self.clock = qps, clock
        self._lock = threading.Lock()
        self._periods: dict[tuple[str, str], tuple[int, int]] = {}  # (api, region) → (second, count)

    def admit(self, api: str, region: str) -> bool:
        """Counts one call; False when the period's limit was already reached."""
        second = int(self.clock())
        with self._lock:
            period, count = self._periods.get((api, region), (second, 0))
            if period != second:
                count = 0
            if count >= self.qps:
                return False
            self._periods[(api, region)] = (second, count + 1)
            return True

    def message(self) -> str:
        return ("The throttling threshold has been reached: policy user over ratelimit,"
                f"limit:{self.qps},time:1 second")
