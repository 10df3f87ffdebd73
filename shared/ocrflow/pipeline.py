"""The flow of one record, and of a batch (design.md §2).

event record → key check → route → region → idempotency claim → head/read & check → budget
→ call (retries) → message → outcome stored → publish → completed.

Every record ends in exactly one published message — a result or a coded failure — or, if
the message cannot be published (queue down, idempotency store down, another invocation
still holds the record), in an *unpublished* outcome that makes the platform redeliver it.
The stored outcome makes that redelivery publish without paying for a second call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from . import catalogue as catalogue_mod
from . import filecheck, invoices, messages, urlmode
from .client import CallResult, OcrClient, wrap_base64
from .config import Settings
from .errors import (
    Failure,
    FailureError,
    IdempotencyError,
    ObjectStoreError,
    PublishError,
    ocrflow_failure,
)
from .events import InvalidRecord, Record
from .log import get_logger
from .metrics import Metrics
from .models import ObjectInfo, ObjectRef
from .ports import Claim, ClaimState, IdempotencyStore, ObjectStore, Queue
from .registry import open_idempotency_store, open_object_store, open_queue
from .signer import Credentials

Status = Literal["result", "failure", "duplicate", "in_progress", "unpublished"]
MAX_KEY_BYTES = 1024
#: Time kept back from the platform's deadline to store and publish the outcome.
PUBLISH_MARGIN_S = 5.0
#: A claim outlives a call's whole deadline by this much before another delivery may take it.
CLAIM_GRACE_S = 60.0


@dataclass
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

    @property
    def done(self) -> bool:
        """The record needs no redelivery: its message is (or was already) published."""
        return self.status in ("result", "failure", "duplicate")

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
        if self.code:
            out["code"] = self.code
        if self.detail:
            out["detail"] = self.detail
        return out


class Runtime:
    """Everything built once per process (per cold start) and reused by invocations:
    settings, the HTTP session, adapters. Adapters open lazily on first use."""

    def __init__(self, settings: Settings, *, metrics: Metrics | None = None,
                 object_store: ObjectStore | None = None,
                 result_queue: Queue | None = None, failure_queue: Queue | None = None,
                 idempotency: IdempotencyStore | None = None,
                 client: OcrClient | None = None) -> None:
        self.settings = settings
        self.catalogue = catalogue_mod.load()
        self.metrics = metrics or Metrics(settings.metrics_namespace, settings.service_name)
        self.client = client or OcrClient(settings, self.metrics)
        self._object_store = object_store
        self._queues: dict[str, Queue | None] = {"result": result_queue, "failure": failure_queue}
        self._idempotency = idempotency
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def object_store(self) -> ObjectStore:
        if self._object_store is None:
            with self._lock:
                if self._object_store is None:
                    self._object_store = open_object_store(self.settings.object_store_url)
        return self._object_store

    def queue(self, which: str) -> Queue:
        queue = self._queues.get(which)
        if queue is None:
            with self._lock:
                queue = self._queues.get(which)
                if queue is None:
                    variable = "RESULT_QUEUE_URL" if which == "result" else "FAILURE_QUEUE_URL"
                    url = self.settings.queue_url(which)
                    other = "failure" if which == "result" else "result"
                    if url == self.settings.queue_url(other) and self._queues.get(other):
                        queue = self._queues[other]
                    else:
                        queue = open_queue(url, variable)
                    self._queues[which] = queue
        return queue  # type: ignore[return-value]

    def open_queues(self) -> None:
        """Opens both queues before records are processed, so a broker connection (Kafka's
        producer id, an AMQP channel) is made while the first OCR call runs. A bad URL
        raises ConfigError here, naming its variable; a broker that is down does not stop
        the invocation (its records fail at publish and are redelivered)."""
        for which in ("result", "failure"):
            try:
                self.queue(which)
            except (PublishError, OSError) as exc:
                get_logger().warning("queue not reachable yet", queue=which, error=str(exc)[:200])

    @property
    def idempotency(self) -> IdempotencyStore:
        if self._idempotency is None:
            with self._lock:
                if self._idempotency is None:
                    store = open_idempotency_store(self.settings.idempotency_url)
                    store.retention_s = self.settings.idempotency_ttl_s
                    self._idempotency = store
        return self._idempotency

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self.settings.max_concurrency, thread_name_prefix="ocrflow")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        seen: set[int] = set()
        for part in (self._object_store, *self._queues.values(), self._idempotency):
            if part is not None and id(part) not in seen:
                seen.add(id(part))
                part.close()


def record_key(ref: ObjectRef, api: str, region: str) -> str:
    """The idempotency key: the object's identity (bucket, key, version or ETag) with the
    API and region it is recognised by."""
    parts = [ref.bucket, ref.key, ref.version_id or "", ref.etag or "", api, region]
    if ref.redrive_of:
        parts.append(f"redrive:{ref.redrive_of}")
    identity = json.dumps(parts, ensure_ascii=False)
    return "rec:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()


def check_key(key: str) -> None:
    if not key:
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the object key is empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise FailureError.of("OCRFLOW.KEY_INVALID",
                              f"the key is {len(key.encode('utf-8'))} bytes; at most 1024")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the key contains control characters")
    if ".." in key.split("/"):
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the key has a '..' segment")


def first_line(result: Any) -> str | None:
    """The first recognised text of a text-API result (for summaries), if there is one."""
    if isinstance(result, dict):
        blocks = result.get("words_block_list")
        if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
            words = blocks[0].get("words")
            return str(words) if words is not None else None
    return None


@dataclass
class _Work:
    """What is known about a record as it goes through the steps."""

    ref: ObjectRef
    api: str | None = None
    region: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    input: str = "image"
    url_template: str | None = None
    info: ObjectInfo | None = None
    call: CallResult | None = None


class Pipeline:
    def __init__(self, runtime: Runtime, function: str = "recognize") -> None:
        self.rt = runtime
        self.function = function
        self.log = get_logger()

    # --- batches --------------------------------------------------------------------------
    def process(self, records: Iterable[Record], credentials: Credentials | None,
                deadline: float, on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Processes records concurrently (``OCR_MAX_CONCURRENCY``); outcomes in input order."""
        items = list(records)
        if len(items) <= 1:
            outcomes = [self.process_one(r, credentials, deadline) for r in items]
            for o in outcomes:
                if on_done:
                    on_done(o)
            return outcomes

        def run(record: Record) -> Outcome:
            outcome = self.process_one(record, credentials, deadline)
            if on_done:
                on_done(outcome)
            return outcome

        return list(self.rt.executor.map(run, items))

    # --- one record -----------------------------------------------------------------------
    def process_one(self, record: Record, credentials: Credentials | None,
                    deadline: float) -> Outcome:
        """``deadline`` is the invocation's (``time.monotonic()``); a record never takes
        longer than ``OCR_DEADLINE_S`` from its own start either."""
        started = time.monotonic()
        deadline = min(deadline, started + self.rt.settings.deadline_s)
        try:
            if isinstance(record, InvalidRecord):
                outcome = self._invalid(record)
            else:
                outcome = self._valid(record, credentials, deadline)
        except Exception as exc:  # noqa: BLE001 - a record must never take the batch down
            self.log.exception("record failed unexpectedly", error_type=type(exc).__name__)
            ref = record if isinstance(record, ObjectRef) else None
            outcome = Outcome(ref, "unpublished", code="OCRFLOW.INTERNAL_ERROR",
                              detail=type(exc).__name__,
                              delivery_id=getattr(record, "delivery_id", None))
        outcome.duration_ms = outcome.duration_ms or int((time.monotonic() - started) * 1000)
        self._log_outcome(outcome)
        return outcome

    def _invalid(self, record: InvalidRecord) -> Outcome:
        failure = ocrflow_failure("OCRFLOW.EVENT_INVALID", record.reason)
        event = messages.build(function=self.function, ref=None, api=None, region=None,
                               error=failure, event_excerpt=record.excerpt)
        key = "inv:" + record.fingerprint
        outcome = Outcome(None, "failure", code=failure.code, detail=record.reason,
                          delivery_id=record.delivery_id)
        return self._deliver(key, event, outcome, claimed=False)

    def _valid(self, ref: ObjectRef, credentials: Credentials | None, deadline: float) -> Outcome:
        work = _Work(ref)
        base = Outcome(ref, "failure", delivery_id=ref.delivery_id)
        try:
            check_key(ref.key)
            route = self.rt.settings.routing
            if route.needs_metadata:
                work.info = self._head(ref)
            choice = route.choose(ref.key, work.info.metadata if work.info else None)
            work.api, work.options = choice.api, choice.options
            work.input, work.url_template = choice.input, choice.url_template
            work.region = self.rt.settings.region_for(choice.api)
            base.api, base.region = work.api, work.region
            refusal = self.rt.catalogue.refusal_code(work.api, work.region, self.rt.settings.catalogue_check)
            if refusal is not None:
                raise FailureError.of(*refusal)
        except FailureError as exc:
            # decided from the event and configuration alone: nothing was read or paid for
            return self._fail_without_claim(work, exc.failure, base)
        except ObjectStoreError as exc:
            return self._fail_without_claim(work, _store_failure(exc), base)

        if ref.version_id is None and ref.etag is None:
            # no identity in the event (a local run): the current ETag names the content
            try:
                work.info = work.info or self._head(ref)
            except ObjectStoreError as exc:
                return self._fail_without_claim(work, _store_failure(exc), base)
            work.ref = ref = ObjectRef(ref.bucket, ref.key, ref.version_id, work.info.etag,
                                       work.info.size, ref.region, ref.event_time,
                                       ref.delivery_id, ref.redrive_of)
            base.ref = ref
        key = record_key(ref, work.api, work.region)
        # the claim outlives this record's whole deadline, then another delivery may take over
        claim_expiry = max(0.0, deadline - time.monotonic()) + CLAIM_GRACE_S
        try:
            claim = self.rt.idempotency.claim(key, claim_expiry)
        except IdempotencyError as exc:
            _unavailable(base, exc)
            return base
        settled = self._settled(key, claim, base, "failure")
        if settled is not None:
            return settled

        try:
            event = self._recognise(work, credentials, deadline)
        except Exception:
            self._release_quietly(key)
            raise
        call = work.call
        if call is not None:
            base.attempts, base.duration_ms = call.attempts, call.duration_ms
            base.billed_unknown = call.unanswered
        if event["type"] == messages.RESULT_TYPE:
            base.status = "result"
            base.first_line = first_line(event["data"].get("result"))
        else:
            base.code = event["data"]["error"]["code"]
            base.detail = event["data"]["error"]["message"]
        return self._deliver(key, event, base, claimed=True)

    def _recognise(self, work: _Work, credentials: Credentials | None,
                   deadline: float) -> dict[str, Any]:
        """Reads, checks and calls; returns the CloudEvent (result or failure)."""
        ref = work.ref
        api_limits = self.rt.catalogue.apis[work.api]  # type: ignore[index]
        try:
            if ref.size is not None:
                filecheck.check_size(ref.size, api_limits, self.rt.catalogue)
            if work.info is None and ref.size is None:
                work.info = self._head(ref)
            if work.info is not None:
                filecheck.check_size(work.info.size, api_limits, self.rt.catalogue)
            if work.input == "url":
                body = self._url_body(work)
            else:
                data = self.rt.object_store.get(ref.bucket, ref.key, ref.version_id,
                                                if_match=None if ref.version_id else ref.etag)
                if api_limits.body_field == "json":
                    body = self._invoice_body(data, work)
                    del data
                else:
                    filecheck.check(data, api_limits, self.rt.catalogue)
                    self._spend_budget()
                    # peak memory: never the file, its base64 and the body at once
                    encoded = base64.b64encode(data)
                    del data
                    body = wrap_base64(api_limits.body_field, encoded, work.options)
                    del encoded
        except FailureError as exc:
            return self._event(work, error=exc.failure)
        except ObjectStoreError as exc:
            return self._event(work, error=_store_failure(exc))
        work.call = call = self.rt.client.call(work.api, work.region, body, deadline,  # type: ignore[arg-type]
                                               credentials)
        del body
        if call.failure is not None:
            return self._event(work, error=call.failure)
        return self._event(work, result=call.result)

    def _url_body(self, work: _Work) -> bytes:
        url = urlmode.build_url(work.url_template or "", work.ref.bucket, work.ref.key,
                                work.region or "", self.rt.settings.url_allowed_hosts)
        self._spend_budget()
        return json.dumps({"url": url, **work.options}, ensure_ascii=False).encode("utf-8")

    def _invoice_body(self, data: bytes, work: _Work) -> bytes:
        fields = invoices.parse_fields(data)
        invoices.check_dates(fields)
        counter, lifetime = invoices.daily_counter(fields)
        self._spend_budget()
        if self.rt.idempotency.increment(counter, invoices.DAILY_LIMIT, lifetime) is None:
            raise FailureError.of("OCRFLOW.INVOICE_DAILY_LIMIT",
                                  f"invoice {fields['number']} was verified {invoices.DAILY_LIMIT} "
                                  "times today (Beijing time)")
        return invoices.encode({**fields, **{k: str(v) for k, v in work.options.items()}})

    def _spend_budget(self) -> None:
        limit = self.rt.settings.max_calls_per_day
        if limit is None:
            return
        day = datetime.now(timezone.utc)
        counter = f"budget:{day:%Y-%m-%d}"
        left = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1) - day)
        if self.rt.idempotency.increment(counter, limit, left.total_seconds() + 3600) is None:
            raise FailureError.of("OCRFLOW.BUDGET_EXCEEDED",
                                  f"OCR_MAX_CALLS_PER_DAY={limit} reached for {day:%Y-%m-%d} (UTC)")

    def _event(self, work: _Work, result: Any = None, error: Failure | None = None) -> dict[str, Any]:
        call = work.call
        return messages.build(
            function=self.function, ref=work.ref, api=work.api, region=work.region,
            request_id=call.request_id if call else None,
            attempts=call.attempts if call else 0,
            duration_ms=call.duration_ms if call else 0,
            result=result, error=error)

    def _head(self, ref: ObjectRef) -> ObjectInfo:
        return self.rt.object_store.head(ref.bucket, ref.key, ref.version_id)

    # --- storing and publishing -------------------------------------------------------------
    def _fail_without_claim(self, work: _Work, failure: Failure, base: Outcome) -> Outcome:
        """Failures decided before any call: still one message, still deduplicated."""
        event = self._event(work, error=failure)
        base.code, base.detail = failure.code, failure.message
        key = record_key(work.ref, work.api or "-", work.region or "-")
        return self._deliver(key, event, base, claimed=False)

    def _settled(self, key: str, claim: Claim, outcome: Outcome, destination: str) -> Outcome | None:
        """A claim that was not granted: the record is done, being done, or its message is
        stored and only needs publishing. ``None`` when the claim was granted."""
        if claim.state is ClaimState.COMPLETED:
            outcome.status, outcome.message_id = "duplicate", claim.message_id
            outcome.first_line = _first_line_of(claim.message)
            return outcome
        if claim.state is ClaimState.IN_PROGRESS:
            outcome.status, outcome.detail = "in_progress", "another invocation is processing this record"
            return outcome
        if claim.state is ClaimState.OUTCOME_STORED:
            return self._republish(key, claim.destination or destination, claim.message_id,
                                   claim.message or b"", outcome)
        return None

    def _deliver(self, key: str, event: dict[str, Any], outcome: Outcome, claimed: bool) -> Outcome:
        destination = "result" if event["type"] == messages.RESULT_TYPE else "failure"
        try:
            if not claimed:
                settled = self._settled(key, self.rt.idempotency.claim(key, CLAIM_GRACE_S), outcome,
                                        destination)
                if settled is not None:
                    return settled
            body = messages.serialise(event)
            body = self._claim_check(event, body, destination)
            self.rt.idempotency.save_outcome(key, destination, event["id"], body)
        except IdempotencyError as exc:
            _unavailable(outcome, exc)
            return outcome
        return self._republish(key, destination, event["id"], body, outcome)

    def _republish(self, key: str, destination: str, message_id: str | None, body: bytes,
                   outcome: Outcome) -> Outcome:
        event = json.loads(body)
        try:
            self.rt.queue(destination).publish(messages.outgoing(event, body))
        except (PublishError, OSError) as exc:  # OSError: the queue could not even be opened
            outcome.status = "unpublished"
            outcome.code = outcome.code or "OCRFLOW.PUBLISH_FAILED"
            outcome.detail = f"{destination} queue: {exc}"
            return outcome
        outcome.message_id = message_id
        if outcome.status not in ("result", "failure"):
            outcome.status = "result" if destination == "result" else "failure"
            if destination == "failure":
                outcome.code = event["data"]["error"]["code"]
        try:
            self.rt.idempotency.complete(key)
        except IdempotencyError as exc:
            # published: a redelivery would publish the same message id again (deduplicable)
            self.log.warning("record published but not marked complete", error=str(exc))
        return outcome

    def _claim_check(self, event: dict[str, Any], body: bytes, destination: str) -> bytes:
        """A result too large for its queue is stored; the message names it instead."""
        limit = self.rt.queue(destination).max_message_bytes
        if limit is None or len(body) <= limit or destination != "result":
            return body
        result_bytes = json.dumps(event["data"]["result"], ensure_ascii=False).encode("utf-8")
        bucket, prefix = self._claim_check_location(event)
        key = f"{prefix}{event['id']}.json"
        try:
            url = self.rt.object_store.put(bucket, key, result_bytes, "application/json")
        except ObjectStoreError as exc:
            failure = ocrflow_failure("OCRFLOW.RESULT_STORE_FAILED", str(exc))
            event["type"] = messages.FAILURE_TYPE
            event["data"].pop("result")
            event["data"]["error"] = failure.as_dict()
            return messages.serialise(event)
        event["data"].pop("result")
        event["data"]["result_ref"] = {"url": url, "bytes": len(result_bytes),
                                       "sha256": hashlib.sha256(result_bytes).hexdigest()}
        return messages.serialise(event)

    def _claim_check_location(self, event: dict[str, Any]) -> tuple[str, str]:
        from urllib.parse import urlsplit

        url = self.rt.settings.claim_check_url
        if url:
            parts = urlsplit(url)
            prefix = parts.path.lstrip("/")
            return parts.netloc, (prefix if not prefix or prefix.endswith("/") else prefix + "/")
        return event["data"]["object"]["bucket"], "ocrflow-results/"

    def _release_quietly(self, key: str) -> None:
        try:
            self.rt.idempotency.release(key)
        except IdempotencyError:
            pass  # the claim expires on its own

    def _log_outcome(self, outcome: Outcome) -> None:
        fields = {k: v for k, v in outcome.summary().items() if v is not None}
        if outcome.done:
            self.log.info("record processed", **fields)
        else:
            self.log.warning("record not published; it will be redelivered", **fields)


def _unavailable(outcome: Outcome, exc: IdempotencyError) -> None:
    outcome.status, outcome.code, outcome.detail = "unpublished", "OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc)


def _first_line_of(message: bytes | None) -> str | None:
    if not message:
        return None
    try:
        return first_line(json.loads(message).get("data", {}).get("result"))
    except (ValueError, AttributeError):
        return None


def _store_failure(exc: ObjectStoreError) -> Failure:
    return ocrflow_failure(exc.code, str(exc))
