"""Many threads claiming one idempotency key at the same instant (released by a barrier)."""

from __future__ import annotations

import threading
from typing import Any

from ocrflow.ports import ClaimState


def claim_race(store: Any, key: str, threads: int, expires_in_s: float = 30) -> list[ClaimState]:
    """The claim state each of ``threads`` concurrent claims of ``key`` got."""
    states: list[ClaimState] = []
    barrier = threading.Barrier(threads)

    def claim() -> None:
        barrier.wait()
        states.append(store.claim(key, expires_in_s).state)

    workers = [threading.Thread(target=claim) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return states
