"""The idempotency store: the one policy (:mod:`.policy`, :class:`IdempotencyStore`) over the
storage primitives of each backend (:mod:`.sqlite`, :mod:`.redis`, :mod:`.dynamodb`), which
implement the port :class:`IdempotencyStorage`."""

from .policy import IdempotencyStore
from .port import Claim, ClaimState, Entry, IdempotencyStorage

__all__ = ["Claim", "ClaimState", "Entry", "IdempotencyStorage", "IdempotencyStore"]
