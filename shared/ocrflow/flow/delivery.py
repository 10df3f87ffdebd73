"""Delivering one record's message: claim → recognize → claim check (a result too large for
its queue) → save the message → publish → complete, and the :class:`Outcome` built once, at
the end, from what happened.

Every record ends in exactly one published message — a result on the result queue, a
failure on the failure queue — or, when it cannot be published (queue down, idempotency
store down, another invocation still holds the record), in an *unpublished* outcome that
makes the platform redeliver it. The message is saved in the idempotency store before
anything that can fail for reasons unrelated to it (opening or reaching a queue: queue size
limits come from the URL), so a redelivery publishes it without paying for a second call.

Only the delivery that holds the record publishes: the one whose claim the answer was paid
under (holding the saved message until its claim's lease ends), or one that took over a
saved message whose holder crashed or gave it back. Any other delivery of the record gives
it back unpublished. A store that fails after the call is paid is written again until the
record's deadline, so a short outage costs no second call.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal, TypeVar

from ..adapters.idempotency import Claim, ClaimState
from ..contract import messages
from ..contract.messages import FailureMessage, Message, ResultMessage
from ..core.errors import (
    IdempotencyError,
    ObjectStoreError,
    PagesPending,
    PublishError,
    RecordDeferred,
    ocrflow_failure,
)
from ..core.models import ObjectRef
from ..core.signer import Credentials
from ..core.tracing import TraceContext
from ..observability.log import get_logger
from ..runtime import Runtime
from . import keys, quota

Status = Literal["result", "failure", "duplicate", "in_progress", "unpublished", "ignored"]
T = TypeVar("T")

#: A delivery that saved a message holds it at least this long to publish it and mark it
#: complete (far longer than any queue's publish timeout); another delivery may take it over
#: only after that (its holder crashed).
PUBLISH_HOLD_S = 60.0
#: Pauses between writes retried against an idempotency store that fails: doubling from the
#: first up to the cap, until the record's deadline.
STORE_RETRY_FIRST_S, STORE_RETRY_MAX_S = 0.1, 2.0


@dataclass(frozen=True)
class Outcome:
    """How one record ended."""

    ref: ObjectRef | None
    status: Status
    api: str | None = None
    region: str | None = None
    message_id: str | None = None
    code: str | None = None
    detail: str | None = None
    attempts: int = 0
    duration_ms: int = 0
    first_line: str | None = None
    delivery_id: str | None = None
    billed_unknown: int = 0
    #: pages of a multi-page document (its message carries one result per page)
    pages: int | None = None
    #: the platform's event type of an ``ignored`` record (not an object creation)
    event_type: str | None = None

    @property
    def done(self) -> bool:
        """The record needs no redelivery: its message is (or was already) published, or it
        was not an upload at all."""
        return self.status in ("result", "failure", "duplicate", "ignored")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bucket": self.ref.bucket if self.ref else None,
            "key": self.ref.key if self.ref else None,
            "status": self.status,
            "api": self.api,
            "region": self.region,
            "message_id": self.message_id,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
        }
        if self.pages is not None:
            out["pages"] = self.pages
        if self.event_type is not None:
            out["event_type"] = self.event_type
        if self.code:
            out["code"] = self.code
        if self.detail:
            out["detail"] = self.detail
        return out


def first_line(result: Any) -> str | None:
    """The first recognized text of a text-API result (for summaries), if there is one."""
    if isinstance(result, dict):
        blocks = result.get("words_block_list")
        if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
            words = blocks[0].get("words")
            return str(words) if words is not None else None
    return None


@dataclass(frozen=True)
class _Stored:
    """A message as saved in the idempotency store: what publishing and summaries need."""

    destination: str
    message_id: str
    body: bytes

    @classmethod
    def of(cls, claim: Claim) -> _Stored:
        return cls(claim.destination or "failure", claim.message_id or "", claim.message or b"")

    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Delivery:
    """Delivers one record: ``run`` returns its outcome and never raises for a queue or
    store that is down (only for an unexpected error, after releasing its claim)."""

    def __init__(self, runtime: Runtime, key: str, ref: ObjectRef | None,
                 delivery_id: str | None, api: str | None = None,
                 region: str | None = None, started: float | None = None,
                 credentials: Credentials | None = None,
                 trace: TraceContext | None = None) -> None:
        self.rt = runtime
        self.credentials = credentials
        self.key, self.ref, self.delivery_id = key, ref, delivery_id
        #: The record's trace, which its message continues (else the message's own, new one).
        self.trace = trace
        self.api, self.region = api, region
        self.started = time.monotonic() if started is None else started
        #: this delivery is in the record's count of deliveries not ended (see run)
        self._counted = False

    def run(self, recognize: Callable[[], Message], claim_for_s: float,
            deadline: float, after_crashes: Callable[[int], Message] | None = None) -> Outcome:
        """``deadline`` (``time.monotonic()``) bounds the writes retried against a store
        that fails after the call. ``after_crashes(n)``, when given, is the message of a
        record whose last ``n`` deliveries (``OCR_MAX_DELIVERIES`` or more) ended without a
        word — the process killed (out of memory, a decoder's crash) or timed out while it
        held the claim: published instead of trying once more."""
        store = self.rt.idempotency
        try:
            claim = store.claim(self.key, claim_for_s)
        except IdempotencyError as exc:
            return self._unpublished("OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc))
        if claim.state is ClaimState.COMPLETED:
            return self._outcome("duplicate", message_id=claim.message_id,
                                 first_line=_first_line_of(claim.message))
        if claim.state is ClaimState.IN_PROGRESS:
            return self._held_elsewhere()
        if claim.state is ClaimState.OUTCOME_STORED:  # its holder crashed or gave it back
            return self._publish(_Stored.of(claim), claim, None, deadline)
        if after_crashes is None:
            return self._run_claimed(recognize, claim, deadline)
        crashes = self._count_unended()
        if crashes is not None and crashes >= self.rt.settings.max_deliveries:
            get_logger().error("the record's last deliveries all ended without a word; failure "
                               "published", deliveries=crashes)
            recognize = partial(after_crashes, crashes)
        try:
            outcome = self._run_claimed(recognize, claim, deadline)
        except BaseException:
            self._count_ended()
            raise
        if outcome.status == "unpublished":  # given back on purpose: not a crash
            self._count_ended()
        return outcome

    # --- deliveries that ended without a word ------------------------------------------------
    # One counter per record: +1 when a delivery takes the claim to recognize it, -1 when
    # the delivery gives the record back (deferred, pages pending, store or queue down, an
    # unexpected error). A published record is not counted down: it is never recognized
    # again. What is left, beside this delivery's own, is the deliveries that ended without
    # a word.
    def _count_unended(self) -> int | None:
        """This delivery counted; how many before it ended without a word (None: the store
        cannot count, and the record is simply tried)."""
        try:
            count = quota.count_delivery(self.rt.idempotency, keys.unended_deliveries_key(self.key),
                                         self.rt.settings.idempotency_ttl_s)
        except IdempotencyError:
            return None
        self._counted = count is not None
        return None if count is None else count - 1

    def _count_ended(self) -> None:
        if not self._counted:
            return
        self._counted = False
        try:
            quota.count_delivery(self.rt.idempotency, keys.unended_deliveries_key(self.key),
                                 self.rt.settings.idempotency_ttl_s, amount=-1)
        except IdempotencyError:
            pass  # counted as one that ended without a word: OCR_MAX_DELIVERIES allows for it

    def _run_claimed(self, recognize: Callable[[], Message], claim: Claim,
                     deadline: float) -> Outcome:
        try:
            message = recognize()
        except RecordDeferred as exc:
            self._release_quietly(claim)  # nothing was paid: the redelivery starts afresh
            return self._unpublished(exc.code, exc.detail)
        except PagesPending as exc:
            # the answered pages are saved; the next delivery calls only the others
            self._release_quietly(claim)
            return self._unpublished("OCRFLOW.PAGES_PENDING", str(exc))
        except IdempotencyError as exc:  # pages or the budget could not be read or kept
            self._release_quietly(claim)
            return self._unpublished("OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc))
        except BaseException:
            self._release_quietly(claim)
            raise
        if self.trace is not None:
            message = replace(message, trace=self.trace)
        # read before a claim check replaces the result by a reference
        line = first_line(message.first_result) if isinstance(message, ResultMessage) else None
        event = message.event()
        body = messages.serialise(event)
        limit = self.rt.max_message_bytes(message.destination)
        if limit is not None and len(body) > limit and (
                isinstance(message, ResultMessage)
                or (isinstance(message, FailureMessage) and message.pages)):
            # before saving: the store keeps the message it will publish, and a result too
            # large for the queue may be too large for the store too (DynamoDB: 400 KB)
            message = self._claim_check(message, limit)
            event = message.event()
            body = messages.serialise(event)
        return self._save_and_publish(_Stored(message.destination, message.id, body), claim,
                                      message, deadline, event, line)

    # --- steps ----------------------------------------------------------------------------
    def _save_and_publish(self, stored: _Stored, claim: Claim, message: Message,
                          deadline: float, event: dict[str, Any], line: str | None) -> Outcome:
        """Saves the paid answer's message, held by this delivery, and publishes it."""
        try:
            held = self._retrying(
                lambda: self.rt.idempotency.save_outcome(
                    self.key, stored.destination, stored.message_id, stored.body, claim,
                    PUBLISH_HOLD_S),
                deadline, "saving the answer")
        except IdempotencyError as exc:
            # the answer is lost: the next delivery calls again, as soon as the store is back
            self._release_quietly(claim)
            return self._unpublished("OCRFLOW.IDEMPOTENCY_UNAVAILABLE",
                                     f"the answer could not be saved before the record's "
                                     f"deadline: {exc}", message)
        if held.state is ClaimState.COMPLETED:
            return self._outcome("duplicate", message_id=held.message_id, message=message)
        if held.state is ClaimState.IN_PROGRESS:
            return self._held_elsewhere(message)
        if held.message_id != stored.message_id:
            # another delivery took over an expired claim and saved its message first: one
            # message per record, so that one is published
            get_logger().warning("record saved by another delivery first", key=self.key)
            return self._publish(_Stored.of(held), held, message, deadline)
        return self._publish(stored, held, message, deadline, event, line)

    def _claim_check(self, message: ResultMessage | FailureMessage, limit: int) -> Message:
        """A result too large for its queue is stored; the message names it instead. If it
        cannot be stored, the record ends in a failure — for the failure queue. (A failed
        document's answered pages likewise; if they cannot be stored, the failure goes
        without them: they stay saved for a redrive.)"""
        result_bytes = message.stored_bytes()
        bucket, prefix = self._claim_check_location(message)
        try:
            store = self.rt.object_store_for(self.credentials, message.ref.region if message.ref else None)
            url = store.put(bucket, f"{prefix}{message.id}.json", result_bytes, "application/json")
        except ObjectStoreError as exc:
            if isinstance(message, FailureMessage):
                return replace(message, pages=None)
            return FailureMessage(
                function=message.function, ref=message.ref, api=message.api,
                region=message.region, request_id=message.request_id,
                attempts=message.attempts, duration_ms=message.duration_ms,
                billed_unknown=message.billed_unknown, usage=message.usage,
                error=ocrflow_failure("OCRFLOW.RESULT_STORE_FAILED", str(exc)))
        checked = message.stored_at({"url": url, "bytes": len(result_bytes),
                                     "sha256": hashlib.sha256(result_bytes).hexdigest()})
        if isinstance(checked, ResultMessage) and checked.text is not None \
                and len(checked.body()) > limit:
            # the text alone is too large: it stays within reach (text_of of the stored result)
            checked = replace(checked, text=None)
        return checked

    def _claim_check_location(self, message: ResultMessage | FailureMessage) -> tuple[str, str]:
        assert message.ref is not None
        return messages.claim_check_location(self.rt.settings.claim_check_url, message.ref.bucket)

    def _publish(self, stored: _Stored, held: Claim, message: Message | None, deadline: float,
                 event: dict[str, Any] | None = None, line: str | None = None) -> Outcome:
        """Publishes the stored message this delivery holds, then marks the record complete."""
        event = event if event is not None else stored.event()
        try:
            self.rt.queue(stored.destination).publish(messages.outgoing(event, stored.body))
        except PublishError as exc:
            self._release_quietly(held)  # the next delivery publishes it without waiting
            return self._unpublished("OCRFLOW.PUBLISH_FAILED",
                                     f"{stored.destination} queue: {exc}", message)
        if held.held_until is not None and time.time() > held.held_until:
            get_logger().warning("record published after its hold ended: another delivery may "
                                 "have published the same message id too", key=self.key)
        try:
            self._retrying(lambda: self.rt.idempotency.complete(self.key, held), deadline,
                           "marking the record published")
        except IdempotencyError as exc:
            # once the hold ends, a redelivery publishes the same message (same id) again
            get_logger().warning("record published but not marked complete", error=str(exc))
        data = event.get("data") or {}
        error = data.get("error") or {}
        return self._outcome(
            "result" if stored.destination == "result" else "failure",
            message_id=stored.message_id, code=error.get("code"), detail=error.get("message"),
            first_line=line or first_line(_first_result(data)), message=message,
            pages=data.get("pages_total"))

    @staticmethod
    def _retrying(write: Callable[[], T], deadline: float, what: str) -> T:
        """``write``, again after each IdempotencyError while the record's deadline allows:
        the call is paid already, and a store that is back within it costs nothing more."""
        pause = STORE_RETRY_FIRST_S
        while True:
            try:
                return write()
            except IdempotencyError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                if pause == STORE_RETRY_FIRST_S:
                    get_logger().warning("idempotency store failed; retrying until the deadline",
                                         step=what, error=str(exc)[:200])
                time.sleep(pause)
                pause = min(2 * pause, STORE_RETRY_MAX_S)

    def _release_quietly(self, claim: Claim) -> None:
        try:
            self.rt.idempotency.release(self.key, claim)
        except IdempotencyError:
            pass  # the claim (or the hold) expires on its own

    def _held_elsewhere(self, message: Message | None = None) -> Outcome:
        return self._outcome("in_progress", message=message,
                             detail="another invocation holds this record and publishes it")

    # --- the outcome, built once ----------------------------------------------------------
    def _unpublished(self, code: str, detail: str, message: Message | None = None) -> Outcome:
        return self._outcome("unpublished", code=code, detail=detail, message=message)

    def _outcome(self, status: Status, *, message: Message | None = None,
                 message_id: str | None = None, code: str | None = None,
                 detail: str | None = None, first_line: str | None = None,
                 pages: int | None = None) -> Outcome:
        attempts = message.attempts if message else 0
        call_ms = message.duration_ms if message else 0
        return Outcome(
            ref=self.ref, status=status, api=self.api, region=self.region,
            message_id=message_id, code=code, detail=detail, attempts=attempts,
            duration_ms=call_ms or int((time.monotonic() - self.started) * 1000),
            first_line=first_line, delivery_id=self.delivery_id,
            billed_unknown=message.billed_unknown if message else 0, pages=pages)


def _first_result(data: dict[str, Any]) -> Any:
    pages = data.get("pages")
    if isinstance(pages, list) and pages and isinstance(pages[0], dict):
        return pages[0].get("result")
    return data.get("result")


def _first_line_of(message: bytes | None) -> str | None:
    if not message:
        return None
    try:
        return first_line(_first_result(json.loads(message).get("data", {})))
    except (ValueError, AttributeError):
        return None
