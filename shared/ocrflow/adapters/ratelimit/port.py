"""The port every shared rate store implements: two atomic steps on one API's state."""

from __future__ import annotations

import abc
from collections.abc import Callable

from . import policy
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


class ReadModifyWriteStore(RateStore):
    """A store whose steps read the state, apply :mod:`.policy` here, and write it back
    atomically (a transaction, a conditional write)."""

    @abc.abstractmethod
    def _step(self, key: str, change: Callable[[policy.RateState, float], object]) -> object:
        """Applies ``change(state, now)`` to ``key``'s state atomically; its return value."""

    def reserve(self, key: str, ceiling: float, max_wait_s: float) -> Reservation | None:
        out = self._step(key, lambda s, now: policy.reserve(s, ceiling, now, max_wait_s, self.aimd))
        return out if isinstance(out, Reservation) else None

    def decrease(self, key: str, ceiling: float, throttled: Reservation) -> float | None:
        out = self._step(key, lambda s, now: policy.decrease(s, ceiling, now, throttled, self.aimd))
        return out if isinstance(out, float) else None
