"""Many threads claiming one idempotency key at the same instant (released by a barrier)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ocrflow.adapters.idempotency import ClaimState


def claims_at_once(stores: Sequence[Any], key: str, expires_in_s: float = 30) -> list[ClaimState]:
    """The claim state each store got, one thread each, claiming ``key`` at once."""
    states: list[ClaimState] = []
    barrier = threading.Barrier(len(stores))

    def claim(store: Any) -> None:
        barrier.wait()
        states.append(store.claim(key, expires_in_s).state)

    workers = [threading.Thread(target=claim, args=(store,)) for store in stores]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return states


def claim_race(store: Any, key: str, threads: int, expires_in_s: float = 30) -> list[ClaimState]:
    """The claim state each of ``threads`` concurrent claims of ``key`` got."""
    return claims_at_once([store] * threads, key, expires_in_s)
