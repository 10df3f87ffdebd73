"""The idempotency store: the one policy (:class:`.policy.IdempotencyStore`) over the storage
primitives of each backend (:mod:`.sqlite`, :mod:`.redis`, :mod:`.dynamodb`), which implement
the port :class:`IdempotencyStorage`. The policy is imported by what uses it, not here: a
record's flow reads claims before any store is opened."""

from .port import Claim, ClaimState, Entry, IdempotencyStorage

__all__ = ["Claim", "ClaimState", "Entry", "IdempotencyStorage"]
