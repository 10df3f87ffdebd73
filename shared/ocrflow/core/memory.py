"""Bytes held by work in flight in one process, bounded (:class:`MemoryGate`).

The records of a batch run concurrently, and each holds its file, its base64 and its request
body while it is called. One record is bounded by design (the decoding budget in
:mod:`ocrflow.documents.fit`); a batch of several large uploads is bounded here: each record
reserves what it will hold before it reads its object, and waits while the reservations in
flight would pass the total. A reservation larger than the total is cut to the total, so it
runs alone instead of never; each holder reserves once and always releases, so no wait is
endless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Blocks from this size on are mapped on their own, and given back to the system when freed.
MMAP_THRESHOLD = 1 << 20
#: Reserving this much is what makes :func:`give_back_large_blocks` worth its ~2 ms.
LARGE_RESERVATION = 16 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_threshold = {"fixed": False}


def give_back_large_blocks() -> None:
    """Fixes glibc's mmap threshold (once per process). By default glibc raises it each
    time a large block is freed, up to 32 MiB; from then on a decoder's multi-megabyte
    blocks come from the per-thread arenas, and stay in the process once freed, one
    arena's worth per worker thread. Measured: a batch of eight 48 MB photos peaked at
    570 MB, 270 MB with the threshold fixed. Called on the first large record, not at the
    cold start (ctypes takes ~2 ms to import); a C library without ``mallopt`` is left as
    it is."""
    if _threshold["fixed"]:
        return
    _threshold["fixed"] = True
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (AttributeError, OSError):  # not glibc
        pass


class MemoryWaitTimeout(Exception):
    """The reservation could not be made before the deadline."""


class MemoryGate:
    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"a memory gate needs at least one byte, not {total}")
        self.total = total
        self._used = 0
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    def acquire(self, amount: int, deadline: float | None = None) -> int:
        """Reserves ``amount`` bytes (at most the total), waiting while they do not fit;
        returns what was reserved, for :meth:`release`. Raises :class:`MemoryWaitTimeout`
        when ``deadline`` (a ``time.monotonic()`` value) passes first."""
        amount = max(0, min(amount, self.total))
        if amount >= LARGE_RESERVATION:
            give_back_large_blocks()
        with self._cond:
            while self._used + amount > self.total:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise MemoryWaitTimeout(
                        f"{amount:,} bytes not free before the deadline "
                        f"({self._used:,} of {self.total:,} reserved by work in flight)")
                self._cond.wait(left)
            self._used += amount
            return amount

    def release(self, amount: int) -> None:
        with self._cond:
            self._used = max(0, self._used - amount)
            self._cond.notify_all()

    @contextmanager
    def hold(self, amount: int, deadline: float | None = None) -> Iterator[int]:
        taken = self.acquire(amount, deadline)
        try:
            yield taken
        finally:
            self.release(taken)
