"""Delivering one record's message: claim → recognise → claim check (a result too large for
its queue) → save the message → publish → complete, and the :class:`Outcome` built once, at
the end, from what happened.

Every record ends in exactly one published message — a result on the result queue, a
failure on the failure queue — or, when it cannot be published (queue down, idempotency
store down, another invocation still holds the record), in an *unpublished* outcome that
makes the platform redeliver it. The message is saved in the idempotency store before
anything that can fail for reasons unrelated to it (opening or reaching a queue: queue size
limits come from the URL), so a redelivery publishes it without paying for a second call. (``Outcome`` and the
storing and publishing steps used to be part of ``pipeline.py``.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from . import messages
from .errors import (
    IdempotencyError,
    ObjectStoreError,
    PagesPending,
    PublishError,
    RecordDeferred,
    ocrflow_failure,
)
from .log import get_logger
from .messages import FailureMessage, Message, ResultMessage
from .models import ObjectRef
from .ports import Claim, ClaimState
from .runtime import Runtime
from .signer import Credentials
from .tracing import TraceContext

Status = Literal["result", "failure", "duplicate", "in_progress", "unpublished", "ignored"]


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
    """The first recognised text of a text-API result (for summaries), if there is one."""
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

    def run(self, recognise: Callable[[], Message], claim_for_s: float) -> Outcome:
        store = self.rt.idempotency
        try:
            claim = store.claim(self.key, claim_for_s)
        except IdempotencyError as exc:
            return self._unpublished("OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc))
        if claim.state is ClaimState.COMPLETED:
            return self._outcome("duplicate", message_id=claim.message_id,
                                 first_line=_first_line_of(claim.message))
        if claim.state is ClaimState.IN_PROGRESS:
            return self._outcome("in_progress",
                                 detail="another invocation is processing this record")
        if claim.state is ClaimState.OUTCOME_STORED:
            stored = _Stored(claim.destination or "failure", claim.message_id or "",
                             claim.message or b"")
            return self._publish(stored, claim, None)

        try:
            message = recognise()
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
        stored = _Stored(message.destination, message.id, body)
        try:
            kept = store.save_outcome(self.key, stored.destination, stored.message_id,
                                      stored.body, claim)
        except IdempotencyError as exc:
            return self._unpublished("OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc), message)
        if kept.message_id != stored.message_id:
            # another delivery took over an expired claim and saved its message first: one
            # message per record, so that one is published (or already was)
            get_logger().warning("record saved by another delivery first", key=self.key)
            if kept.state is ClaimState.COMPLETED:
                return self._outcome("duplicate", message_id=kept.message_id, message=message)
            return self._publish(_Stored(kept.destination or "failure", kept.message_id or "",
                                         kept.message or b""), kept, message)
        return self._publish(stored, kept, message, event, line)

    # --- steps ----------------------------------------------------------------------------
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

    def _publish(self, stored: _Stored, saved: Claim, message: Message | None,
                 event: dict[str, Any] | None = None, line: str | None = None) -> Outcome:
        event = event if event is not None else stored.event()
        try:
            self.rt.queue(stored.destination).publish(messages.outgoing(event, stored.body))
        except PublishError as exc:
            return self._unpublished("OCRFLOW.PUBLISH_FAILED",
                                     f"{stored.destination} queue: {exc}", message)
        try:
            self.rt.idempotency.complete(self.key, saved)
        except IdempotencyError as exc:
            # published: a redelivery would publish the same message id again (deduplicable)
            get_logger().warning("record published but not marked complete", error=str(exc))
        data = event.get("data") or {}
        error = data.get("error") or {}
        return self._outcome(
            "result" if stored.destination == "result" else "failure",
            message_id=stored.message_id, code=error.get("code"), detail=error.get("message"),
            first_line=line or first_line(_first_result(data)), message=message,
            pages=data.get("pages_total"))

    def _release_quietly(self, claim: Claim) -> None:
        try:
            self.rt.idempotency.release(self.key, claim)
        except IdempotencyError:
            pass  # the claim expires on its own

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
