"""The port every idempotency backend implements (sqlite, Redis, DynamoDB): a few atomic
storage primitives, under the one policy of :mod:`.policy`."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import Enum


class ClaimState(str, Enum):
    CLAIMED = "claimed"  # the caller owns the record and goes on
    #: someone else holds the record: an unexpired claim, or a stored message its
    #: publisher is still publishing
    IN_PROGRESS = "in_progress"
    #: called before; the stored message still to publish — by the caller, who now holds it
    OUTCOME_STORED = "outcome_stored"
    COMPLETED = "completed"  # published before: nothing to do


@dataclass
class Claim:
    state: ClaimState
    #: The serialised CloudEvent stored after the call (OUTCOME_STORED, COMPLETED).
    message: bytes | None = None
    #: Which queue the stored message is for: "result" or "failure".
    destination: str | None = None
    message_id: str | None = None
    #: The entry's version when this claim was read or written: passed back to
    #: ``save_outcome``, ``complete`` and ``release``, it makes each one conditional write
    #: (and a late release can never drop a claim another delivery took over).
    version: str | None = None
    #: Epoch seconds until which the caller holds the record (CLAIMED: the claim's lease;
    #: OUTCOME_STORED: the hold on the stored message, the only delivery to publish it).
    held_until: float | None = None


@dataclass(frozen=True)
class Entry:
    """One idempotency record as a storage backend keeps it."""

    key: str
    state: ClaimState
    #: A new random token on every write: conditional updates and deletes name the
    #: version they read, so a write based on a stale read is refused.
    version: str
    #: Epoch seconds after which the entry counts as absent (an in-progress claim's lease,
    #: a stored outcome's retention); backends may also delete it then.
    expires_at: float
    destination: str | None = None
    message_id: str | None = None
    message: bytes | None = None
    #: A stored message's hold: until then (epoch seconds) only the delivery that saved or
    #: took it over publishes it. 0: nobody holds it.
    held_until: float = 0.0


class IdempotencyStorage(abc.ABC):
    """The few atomic primitives an idempotency backend provides (sqlite, Redis, DynamoDB).

    The states, their expiry and who may take over what are decided once, above these, in
    :class:`ocrflow.adapters.idempotency.policy.IdempotencyStore`. Every primitive is atomic on its
    own and treats an entry whose ``expires_at`` is not after ``now`` as absent; ``now``
    comes from the caller, so one clock decides expiry whatever the backend. Errors of the
    backend are raised as :class:`~ocrflow.core.errors.IdempotencyError`.
    """

    @abc.abstractmethod
    def put_new(self, entry: Entry, now: float) -> bool:
        """Writes ``entry`` if its key is absent (or expired). True when written."""

    @abc.abstractmethod
    def replace(self, entry: Entry, expected_version: str, now: float) -> bool:
        """Writes ``entry`` over the live entry of the same key whose version is
        ``expected_version``. True when written; False when the entry changed or expired."""

    @abc.abstractmethod
    def get(self, key: str, now: float) -> Entry | None:
        """The live entry for ``key``, if any."""

    @abc.abstractmethod
    def delete(self, key: str, expected_version: str) -> bool:
        """Deletes the entry for ``key`` if its version is ``expected_version``."""

    @abc.abstractmethod
    def increment(self, counter: str, limit: int | None, expires_in_s: float, now: float,
                  amount: int = 1) -> int | None:
        """Adds ``amount`` to ``counter`` unless the new value would pass ``limit``; returns
        the new value, or None when it would (nothing added). A negative ``amount`` with no
        limit gives back what was taken (calls reserved and not made). A counter starts from
        zero ``expires_in_s`` after its first increment."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
