"""The idempotency policy, decided once for every backend (as Powertools'
``BasePersistenceLayer`` does over its ``_put_record`` / ``_update_record`` / …).

Lifecycle of a record's key::

    (absent) --claim--> IN_PROGRESS --save_outcome--> OUTCOME_STORED --complete--> COMPLETED
                          |  lease passed: absent again          retention passed: absent
                          |--complete--> COMPLETED (a key with nothing to publish)
                          '--release--> absent

* An in-progress claim lives for its lease (the record's deadline plus a grace); once it
  passed, the key is absent and the next delivery claims it anew (a crashed attempt).
* A stored outcome is never replaced by another answer: that message is the one published,
  so a paid answer is never paid for again. It, and a completed record, are kept for
  ``retention_s`` (``IDEMPOTENCY_TTL_S``); after that the key is absent again.
* One publisher per record: a stored outcome is *held* by the delivery that saved it, until
  its claim's lease ends (at least ``hold_s`` from the save). While the hold lasts, every
  other delivery is told IN_PROGRESS and publishes nothing; a delivery that finds the hold
  passed (its holder crashed) or given back (its holder could not publish) takes it over
  with a conditional write, and only then publishes that same message.
* Saving an outcome keeps one message per record: if another delivery took over an expired
  claim and saved its own message first, that one is kept and returned.

Backends implement only :class:`~ocrflow.adapters.idempotency.IdempotencyStorage` (conditional put,
conditional replace, get, conditional delete, counter).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from ...core.errors import IdempotencyError
from .port import Claim, ClaimState, Entry, IdempotencyStorage

#: Attempts of a read-then-conditional-write before giving up to a concurrent writer.
_RACE_ATTEMPTS = 5


def _version() -> str:
    return uuid.uuid4().hex


def _claim_of(entry: Entry) -> Claim:
    return Claim(entry.state, message=entry.message, destination=entry.destination,
                 message_id=entry.message_id, version=entry.version,
                 held_until=entry.held_until or None)


class IdempotencyStore:
    """Remembers what was done for each record, so no OCR call is paid twice."""

    def __init__(self, storage: IdempotencyStorage, retention_s: float = 7 * 24 * 3600) -> None:
        self.storage = storage
        #: How long a stored outcome / completed record is remembered (IDEMPOTENCY_TTL_S).
        self.retention_s = retention_s

    def claim(self, key: str, expires_in_s: float) -> Claim:
        """Claims ``key`` for ``expires_in_s`` unless it is held, or published. A stored
        message whose hold passed is taken over (held for ``expires_in_s``): OUTCOME_STORED
        tells the caller to publish it."""
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            mine = Entry(key, ClaimState.IN_PROGRESS, _version(), now + expires_in_s)
            if self.storage.put_new(mine, now):
                return Claim(ClaimState.CLAIMED, version=mine.version, held_until=mine.expires_at)
            now = time.time()
            current = self.storage.get(key, now)
            if current is None:
                continue  # released or expired between the two calls
            if current.state is ClaimState.IN_PROGRESS or (
                    current.state is ClaimState.OUTCOME_STORED and current.held_until > now):
                return Claim(ClaimState.IN_PROGRESS)
            if current.state is ClaimState.COMPLETED:
                return _claim_of(current)
            taken = self._hold(current, now + expires_in_s, now)
            if taken is not None:
                return taken
        return Claim(ClaimState.IN_PROGRESS)

    def save_outcome(self, key: str, destination: str, message_id: str, message: bytes,
                     claimed: Claim | None = None, hold_s: float = 0.0) -> Claim:
        """Stores the message for ``key``, still to be published by the caller, who holds
        it until its claim ``claimed`` ends and at least ``hold_s`` from now. Returns what
        the caller is to do: OUTCOME_STORED — publish the stored message (this one, or one
        another delivery saved first and no longer holds); COMPLETED — nothing, published
        already; IN_PROGRESS — nothing, another delivery holds the stored message.

        Safe to call again after an error whose write may have happened all the same: a
        stored message with this ``message_id`` is the caller's own."""
        def entry(now: float) -> Entry:
            lease_end = (claimed.held_until or 0.0) if claimed is not None else 0.0
            held = max(lease_end, now + hold_s)
            return Entry(key, ClaimState.OUTCOME_STORED, _version(), now + self.retention_s,
                         destination, message_id, message, held)

        now = time.time()
        if claimed is not None and claimed.version is not None \
                and claimed.state is ClaimState.CLAIMED:
            mine = entry(now)
            if self.storage.replace(mine, claimed.version, now):
                return _claim_of(mine)
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            current = self.storage.get(key, now)
            if current is None:
                # our claim expired and nobody took it: the paid answer is still kept
                mine = entry(now)
                if self.storage.put_new(mine, now):
                    return _claim_of(mine)
            elif current.state is ClaimState.IN_PROGRESS:
                mine = entry(now)
                if self.storage.replace(mine, current.version, now):
                    return _claim_of(mine)
            elif current.state is ClaimState.COMPLETED or current.message_id == message_id:
                return _claim_of(current)
            elif current.held_until > now:
                return Claim(ClaimState.IN_PROGRESS)
            else:
                taken = self._hold(current, entry(now).held_until, now)
                if taken is not None:
                    return taken
        raise IdempotencyError(f"idempotency store: {key} kept changing while it was saved")

    def keep(self, key: str, destination: str, message_id: str, message: bytes) -> None:
        """Stores a message that is never published on its own (a document page's answer):
        completed at once, so every later claim reads it and none takes it over."""
        for _ in range(_RACE_ATTEMPTS):
            now = time.time()
            done = Entry(key, ClaimState.COMPLETED, _version(), now + self.retention_s,
                         destination, message_id, message)
            current = self.storage.get(key, now)
            if current is None:
                if self.storage.put_new(done, now):
                    return
            elif current.state is not ClaimState.IN_PROGRESS:
                return  # kept already
            elif self.storage.replace(done, current.version, now):
                return
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
        """Gives ``key`` back. A claim that produced no outcome is dropped, so the next
        delivery starts afresh; a stored message the caller holds (``claimed`` is what
        ``save_outcome`` or ``claim`` returned) stays stored, its hold given up, so the next
        delivery publishes it at once. With ``claimed``, only that claim or hold (not one
        another delivery took over since)."""
        if claimed is not None and claimed.version is not None:
            if claimed.state is ClaimState.OUTCOME_STORED:
                now = time.time()
                self.storage.replace(
                    Entry(key, ClaimState.OUTCOME_STORED, _version(), now + self.retention_s,
                          claimed.destination, claimed.message_id, claimed.message),
                    claimed.version, now)
            else:
                self.storage.delete(key, claimed.version)
            return
        current = self.storage.get(key, time.time())
        if current is not None and current.state is ClaimState.IN_PROGRESS:
            self.storage.delete(key, current.version)

    def _hold(self, current: Entry, held_until: float, now: float) -> Claim | None:
        """Takes over the stored message of ``current`` (its hold passed or was given up),
        or None when another writer changed it first."""
        held = replace(current, version=_version(), held_until=held_until)
        if self.storage.replace(held, current.version, now):
            return _claim_of(held)
        return None

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
