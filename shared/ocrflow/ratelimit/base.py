"""The port every shared rate store implements: two atomic steps on one API's state."""

from __future__ import annotations

import abc

from .policy import Aimd, Reservation


class RateStoreError(Exception):
    """The shared rate store could not be reached or answered with an error."""


class RateStore(abc.ABC):
    aimd: Aimd = Aimd()

    @abc.abstractmethod
    def reserve(self, key: str, ceiling: float, max_wait_s: float) -> Reservation | None:
        """Atomically takes the next slot of ``key`` (see :func:`.policy.reserve`)."""

    @abc.abstractmethod
    def decrease(self, key: str, ceiling: float, throttled: Reservation) -> float | None:
        """Atomically lowers the rate of ``key`` (see :func:`.policy.decrease`)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
