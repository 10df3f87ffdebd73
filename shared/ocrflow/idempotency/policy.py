"""The idempotency policy, decided once for every backend (as Powertools'
``BasePersistenceLayer`` does over its ``_put_record`` / ``_update_record`` / …).

Lifecycle of a record's key::

    (absent) --claim--> IN_PROGRESS --save_outcome--> OUTCOME_STORED --complete--> COMPLETED
                          |  lease passed: absent again          retention passed: absent
                          |--complete--> COMPLETED (a key with nothing to publish)
                          '--release--> absent

* An in-progress claim lives for its lease (the record's deadline plus a grace); once it
  passed, the key is absent and the next delivery claims it anew (a crashed attempt).
* A stored outcome is never taken over: every later delivery publishes that message, so a
  paid answer is never paid for again. It, and a completed record, are kept for
  ``retention_s`` (``IDEMPOTENCY_TTL_S``); after that the key is absent again.
* Saving an outcome keeps one message per record: if another delivery took over an expired
  claim and saved its own message first, that one is kept and returned.

Backends implement only :class:`~ocrflow.ports.IdempotencyStorage` (conditional put,
conditional replace, get, conditional delete, counter). (The claim state machine used to be
written out in each backend.)
"""

from __future__ import annotations

import time
import uuid

from ..errors import IdempotencyError
from ..ports import Claim, ClaimState, Entry, IdempotencyStorage

#: Attempts of a read-then-conditional-write before giving up to a concurrent writer.
_RACE_ATTEMPTS = 5


def _version() -> str:
    return uuid.uuid4().hex


def _claim_of(entry: Entry) -> Claim:
    return Claim(entry.state, message=entry.message, destination=entry.destination,
                 message_id=entry.message_id, version=entry.version)


class IdempotencyStore:
    """Remembers what was done for each record, so no OCR call is paid twice."""

    def __init__(self, storage: IdempotencyStorage, retention_s: float = 7 * 24 * 3600) -> None:
        self.storage = storage
        #: How long a stored outcome / completed record is remembered (IDEMPOTENCY_TTL_S).
        self.retention_s = retention_s

    def claim(self, key: str, expires_in_s: float) -> Claim:
        """Claims ``key`` unless it is held, has a stored outcome, or is done."""
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            mine = Entry(key, ClaimState.IN_PROGRESS, _version(), now + expires_in_s)
            if self.storage.put_new(mine, now):
                return Claim(ClaimState.CLAIMED, version=mine.version)
            current = self.storage.get(key, time.time())
            if current is None:
                continue  # released or expired between the two calls
            if current.state is ClaimState.IN_PROGRESS:
                return Claim(ClaimState.IN_PROGRESS)
            return _claim_of(current)
        return Claim(ClaimState.IN_PROGRESS)

    def save_outcome(self, key: str, destination: str, message_id: str, message: bytes,
                     claimed: Claim | None = None) -> Claim:
        """Stores the message for ``key`` (still to be published). Returns what is stored
        now: this message (OUTCOME_STORED), or the one another delivery stored or published
        first. ``claimed``, the caller's granted claim, saves a read when it still holds."""
        now = time.time()
        entry = Entry(key, ClaimState.OUTCOME_STORED, _version(), now + self.retention_s,
                      destination, message_id, message)
        if claimed is not None and claimed.version is not None \
                and self.storage.replace(entry, claimed.version, now):
            return _claim_of(entry)
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            entry = Entry(key, ClaimState.OUTCOME_STORED, _version(), now + self.retention_s,
                          destination, message_id, message)
            current = self.storage.get(key, now)
            if current is None:
                # our claim expired and nobody took it: the paid answer is still kept
                if self.storage.put_new(entry, now):
                    return _claim_of(entry)
            elif current.state is ClaimState.IN_PROGRESS:
                if self.storage.replace(entry, current.version, now):
                    return _claim_of(entry)
            else:
                return _claim_of(current)
        raise IdempotencyError(f"idempotency store: {key} kept changing while it was saved")

    def complete(self, key: str, saved: Claim | None = None) -> None:
        """Marks ``key`` as published (its message is kept, for summaries). ``saved``, what
        ``save_outcome`` or ``claim`` returned for the stored message, saves a read."""
        if saved is not None and saved.version is not None \
                and saved.state is ClaimState.OUTCOME_STORED:
            now = time.time()
            done = Entry(key, ClaimState.COMPLETED, _version(), now + self.retention_s,
                         saved.destination, saved.message_id, saved.message)
            if self.storage.replace(done, saved.version, now):
                return
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            current = self.storage.get(key, now)
            # in progress: a key with nothing to publish (a consumer's processed event)
            if current is None or current.state is ClaimState.COMPLETED:
                return
            done = Entry(key, ClaimState.COMPLETED, _version(), now + self.retention_s,
                         current.destination, current.message_id, current.message)
            if self.storage.replace(done, current.version, now):
                return

    def release(self, key: str, claimed: Claim | None = None) -> None:
        """Drops a claim that produced no outcome, so the next delivery starts afresh; with
        ``claimed``, only that claim (not one another delivery took over since)."""
        if claimed is not None and claimed.version is not None:
            self.storage.delete(key, claimed.version)
            return
        current = self.storage.get(key, time.time())
        if current is not None and current.state is ClaimState.IN_PROGRESS:
            self.storage.delete(key, current.version)

    def increment(self, counter: str, limit: int | None, expires_in_s: float,
                  amount: int = 1) -> int | None:
        """Adds ``amount`` to ``counter`` unless the new value would pass ``limit``; returns
        the new value, or None when it would (nothing added). A negative ``amount`` with no
        limit gives back what was taken (calls reserved and not made). Counters expire."""
        if limit is not None and amount > limit:
            return None
        return self.storage.increment(counter, limit, expires_in_s, time.time(), amount)

    def close(self) -> None:
        self.storage.close()
