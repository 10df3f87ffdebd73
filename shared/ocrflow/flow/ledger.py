"""A record's ledger: what its deliveries paid for and published in no message.

A delivery that ends without a message after paying for calls — throttled and handed back
to the platform, or a document whose page failed that way — leaves what it spent in the
record's ledger, an entry in the idempotency store kept as long as the record is remembered
(``IDEMPOTENCY_TTL_S``); the delivery that finally publishes adds it to its message's
``usage``. A page answer saved for the next delivery keeps its own usage beside it
(:mod:`.pages`). Each paid call is thus counted in exactly one message.

The ledger is one read per record before its first call (a failure there costs nothing:
the record is redelivered) and one write only when a delivery hands the record back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..adapters.idempotency import ClaimState, Entry
from ..core.errors import IdempotencyError
from ..provider.usage import Usage
from . import keys

if TYPE_CHECKING:
    from ..adapters.idempotency.policy import IdempotencyStore

#: Attempts of the ledger's read-then-conditional-write before giving up to a concurrent writer.
_RACE_ATTEMPTS = 5


@dataclass(frozen=True)
class Ledger:
    """What earlier deliveries of one record paid and published in no message: for a single
    call, ``whole``; for a document, per page (pages that have no saved answer)."""

    whole: Usage = Usage()
    pages: Mapping[int, Usage] = field(default_factory=lambda: {})

    def page(self, page: int) -> Usage:
        return self.pages.get(page, Usage())

    def plus(self, whole: Usage, pages: Mapping[int, Usage], answered: Iterable[int]) -> Ledger:
        """This ledger with a delivery's unpublished spending added; pages now ``answered``
        (their saved answer carries their usage) leave it."""
        merged = {p: self.page(p) + pages.get(p, Usage()) for p in set(self.pages) | set(pages)}
        for page in answered:
            merged.pop(page, None)
        return Ledger(self.whole + whole, {p: u for p, u in merged.items() if u})

    def encoded(self) -> bytes:
        doc: dict[str, Any] = {"whole": self.whole.as_dict()}
        if self.pages:
            doc["pages"] = {str(p): u.as_dict() for p, u in sorted(self.pages.items())}
        return json.dumps(doc, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decoded(cls, data: bytes | None) -> Ledger:
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        pages = doc.get("pages")
        return cls(Usage.of(doc.get("whole")),
                   {int(p): Usage.of(u) for p, u in pages.items() if str(p).isdigit()}
                   if isinstance(pages, dict) else {})


def read_ledger(store: IdempotencyStore, record_key: str) -> Ledger:
    """The record's ledger (empty when no earlier delivery left one). Raises
    :class:`~ocrflow.core.errors.IdempotencyError` when the store cannot be read."""
    entry = store.storage.get(keys.ledger_key(record_key), time.time())
    return Ledger() if entry is None else Ledger.decoded(entry.message)


def add_to_ledger(store: IdempotencyStore, record_key: str, whole: Usage,
                  pages: Mapping[int, Usage] | None = None, answered: Iterable[int] = ()) -> None:
    """Adds a delivery's unpublished spending to the record's ledger: a read and a
    conditional write, again if another writer came between (an expired claim taken over).
    Raises :class:`~ocrflow.core.errors.IdempotencyError` when the store fails."""
    key = keys.ledger_key(record_key)
    storage = store.storage
    answered = list(answered)
    for _ in range(_RACE_ATTEMPTS):
        now = time.time()
        current = storage.get(key, now)
        ledger = (Ledger() if current is None else Ledger.decoded(current.message)).plus(
            whole, pages or {}, answered)
        entry = Entry(key, ClaimState.COMPLETED, uuid.uuid4().hex, now + store.retention_s,
                      "usage", None, ledger.encoded())
        if storage.replace(entry, current.version, now) if current is not None \
                else storage.put_new(entry, now):
            return
    raise IdempotencyError(f"idempotency store: {key} kept changing while it was written")
