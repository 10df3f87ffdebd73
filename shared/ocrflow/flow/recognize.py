"""Recognizing one prepared record, once its delivery holds the claim
(:class:`Recognizer`): read the object, check it, make the body, spend the budget, call —
one call, or one per page of a document (:mod:`.pages`) — and give the typed message
(:class:`~ocrflow.contract.messages.ResultMessage` or
:class:`~ocrflow.contract.messages.FailureMessage`). A throttled call gives the record back
unpublished, within ``OCR_MAX_DELIVERIES`` (:mod:`.quota`). Sending the message is
:class:`~ocrflow.flow.delivery.Delivery`'s job.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from .. import documents
from ..contract.messages import FailureMessage, Message, ResultMessage
from ..core.errors import (
    Failure,
    FailureError,
    IdempotencyError,
    ObjectStoreError,
    PagesPending,
    RecordDeferred,
    ocrflow_failure,
)
from ..core.memory import MemoryGate, MemoryWaitTimeout
from ..core.models import ObjectHead, ObjectRef
from ..core.retry import is_throttle
from ..core.signer import Credentials
from ..documents import Document, Part, filecheck
from ..observability.log import get_logger
from ..provider import invoices, urlmode, usage
from ..provider.catalogue import ApiLimits
from ..provider.client import CallResult, wrap_base64
from ..provider.confidence import (
    Confidence,
    confidence_of,
    document_confidence,
    needs_review,
    review_threshold,
)
from ..provider.text import document_text, text_of
from ..provider.usage import Usage
from ..runtime import Runtime
from . import keys, ledger, quota
from .prepare import Job, store_failure

#: Seconds a record waiting for memory leaves, beyond the connect timeout, to read, prepare
#: and call once it has it.
MEMORY_WAIT_MARGIN_S = 5.0


class _Held:
    """The memory one record has reserved (none until it reads its object)."""

    def __init__(self, gate: MemoryGate) -> None:
        self.gate, self.amount = gate, 0

    def take(self, amount: int, deadline: float) -> None:
        self.amount += self.gate.acquire(amount, deadline)

    def release(self) -> None:
        amount, self.amount = self.amount, 0
        if amount:
            self.gate.release(amount)


class Recognizer:
    def __init__(self, runtime: Runtime, function: str = "recognize") -> None:
        self.rt = runtime
        self.function = function

    def recognize(self, job: Job, credentials: Credentials | None, deadline: float) -> Message:
        """Reads, checks and calls; the result, or the failure that ended the record. An
        unexpected error is raised (the record is redelivered), except on the
        ``OCR_MAX_DELIVERIES``-th delivery to end in one: that one ends in an
        ``OCRFLOW.INTERNAL_ERROR`` failure, so a record that can never succeed still ends in
        a message instead of looping until a dead-letter queue."""
        held = _Held(self.rt.memory)
        try:
            return self._recognize(job, credentials, deadline, held)
        except (RecordDeferred, PagesPending, IdempotencyError):
            raise
        except Exception as exc:
            deliveries = self._count_failed_delivery(job)
            if not quota.last_delivery(deliveries, self.rt.settings.max_deliveries):
                raise
            get_logger().exception("record failed unexpectedly on every delivery; failure published",
                                   error_type=type(exc).__name__, deliveries=deliveries)
            return self._failure(job, ocrflow_failure(
                "OCRFLOW.INTERNAL_ERROR",
                f"{type(exc).__name__} on each of {deliveries} deliveries"))
        finally:
            held.release()

    def after_crashes(self, job: Job, deliveries: int) -> Message:
        """The failure of a record whose last ``deliveries`` deliveries ended without a word
        (see :meth:`ocrflow.flow.delivery.Delivery.run`): not tried again."""
        earlier = ledger.read_ledger(self.rt.idempotency, job.key)
        return self._failure(job, ocrflow_failure(
            "OCRFLOW.INTERNAL_ERROR",
            f"the function ended without finishing this record on each of its last "
            f"{deliveries} deliveries (killed out of memory, a crash, or its timeout); not "
            f"tried again"), earlier.whole)

    def _count_failed_delivery(self, job: Job) -> int | None:
        """One more delivery of ``job`` that ended in an unexpected error; None when the
        store cannot count it (the record is simply redelivered)."""
        try:
            return quota.count_delivery(self.rt.idempotency, keys.failed_deliveries_key(job.key),
                                        self.rt.settings.idempotency_ttl_s)
        except IdempotencyError:
            return None

    def _recognize(self, job: Job, credentials: Credentials | None, deadline: float,
                   held: _Held) -> Message:
        if job.decided is not None:
            return job.decided
        ref, api = job.ref, job.api
        assert ref is not None and api is not None and job.region is not None
        api_limits = self.rt.catalogue.apis[api]
        settings = self.rt.settings
        info = job.info
        sent: dict[str, Any] | None = None
        # before anything is paid: a store that cannot be read costs a redelivery, no call
        earlier = ledger.read_ledger(self.rt.idempotency, job.key)
        try:
            takes_file = api_limits.body_field != "json" and job.input != "url"
            for size in (ref.size, info.size if info else None):
                if size is not None:
                    self._check_size(size, api_limits, takes_file)
            if info is None and ref.size is None:
                info = self._head(ref, credentials)
                self._check_size(info.size, api_limits, takes_file)
            if job.input == "url":
                body = self._url_body(job)
            else:
                store = self.rt.object_store_for(credentials, ref.region)
                # capped whatever size the event announced: a larger object is refused
                # having read one byte past the limit
                limit = documents.max_download_bytes(
                    api_limits, self.rt.catalogue, fit_images=settings.fit_images) \
                    if takes_file else self.rt.catalogue.max_file_bytes
                size = min(limit, next((s for s in (info.size if info else None, ref.size)
                                        if s is not None), limit))
                self._reserve_memory(held, size, deadline)
                data = store.get(ref.bucket, ref.key, ref.version_id,
                                 if_match=None if ref.version_id else ref.etag, max_bytes=limit)
                if api_limits.body_field == "json":
                    body = self._invoice_body(data, job)
                    del data
                else:
                    document = documents.prepare(
                        data, api_limits, self.rt.catalogue, fit_images=settings.fit_images,
                        max_pdf_pages=settings.max_pdf_pages,
                        # a route that names the page reads that page alone, as before
                        every_page=api_limits.page_field not in job.options)
                    del data  # a fitted photo's original is not kept
                    if document.pages_total is not None:
                        return self._pages(job, document, credentials, deadline, earlier,
                                           documents.pages_memory(size, self.rt.catalogue))
                    self._spend_budget()
                    part = document.take()
                    del document
                    sent, options = part.input, {**job.options, **part.options}
                    # peak memory: never the file, its base64 and the body at once
                    encoded = base64.b64encode(part.data)
                    del part
                    body = wrap_base64(api_limits.body_field, encoded, options)
                    del encoded
        except FailureError as exc:
            return self._failure(job, exc.failure, earlier.whole)
        except ObjectStoreError as exc:
            return self._failure(job, store_failure(exc), earlier.whole)
        with self.rt.call_slots:
            call = self.rt.client.call(api, job.region, body, deadline, credentials)
        del body
        if call.failure is not None and is_throttle(call.failure):
            self._defer_throttled(job, call.failure, call.usage)
        common: dict[str, Any] = dict(
            function=self.function, ref=ref, api=api, region=job.region,
            request_id=call.request_id, attempts=call.attempts, duration_ms=call.duration_ms,
            billed_unknown=call.unanswered, input=sent, usage=earlier.whole + call.usage)
        if call.failure is not None:
            return FailureMessage(**common, error=call.failure)
        sure = confidence_of(api, call.result)
        return ResultMessage(**common, result=call.result, text=text_of(api, call.result),
                             confidence=sure, review=self._review(api, sure))

    def _review(self, api: str, sure: Confidence | None) -> bool:
        return needs_review(sure, review_threshold(self.rt.settings.review_below, api))

    def _check_size(self, size: int, api_limits: ApiLimits, takes_file: bool) -> None:
        """By size alone, before downloading: a file can still be fitted (a photo) or split
        (a PDF) when the API takes the file itself."""
        if takes_file:
            documents.check_size(size, api_limits, self.rt.catalogue,
                                 fit_images=self.rt.settings.fit_images)
        else:
            filecheck.check_size(size, api_limits, self.rt.catalogue)

    @staticmethod
    def _file_body(body_field: str, part: Part, options: dict[str, Any]) -> bytes:
        # a page is small (split out) or shared by every page (sent whole): kept meanwhile
        encoded = base64.b64encode(part.data)
        return wrap_base64(body_field, encoded, {**options, **part.options})

    def _reserve_memory(self, held: _Held, size: int, deadline: float) -> None:
        """What the record will hold, reserved before it is read: a batch of large uploads
        is read and called a few at a time instead of all at once. Nothing is paid yet, so
        a record that cannot get it in time is given back unpublished."""
        # leave the time to read, prepare and call once the memory is free
        until = deadline - self.rt.settings.connect_timeout_s - MEMORY_WAIT_MARGIN_S
        try:
            held.take(documents.memory_estimate(size, self.rt.catalogue), until)
        except MemoryWaitTimeout as exc:
            raise RecordDeferred("OCRFLOW.MEMORY_BUSY", str(exc)) from None

    def _pages(self, job: Job, document: Document, credentials: Credentials | None,
               deadline: float, earlier: ledger.Ledger, bodies_bytes: int) -> Message:
        """One call per page not yet answered; one message for the whole document. The
        pages' request bodies in flight hold at most ``bodies_bytes`` together (a page sent
        as the whole file holds a copy of it per call), at least one page at a time."""
        ref, api, region = job.ref, job.api, job.region
        assert ref is not None and api is not None and region is not None
        started = time.monotonic()
        store = self.rt.idempotency
        from . import pages  # only documents of several pages need it

        key = keys.document_key(ref, api, region)
        total = document.calls
        # the pages' claims live as long as the record's: its deadline and a grace
        saved = {p: a.for_record(job.key) for p, a in pages.saved_pages(
            store, key, total, max(0.0, deadline - started) + 60.0).items()}
        pending = [p for p in range(1, total + 1) if p not in saved]
        common: dict[str, Any] = dict(function=self.function, ref=ref, api=api, region=region,
                                      pages_total=total)

        def spent(answers: list[pages.PageAnswer], unkept: dict[int, Usage]) -> Usage:
            """The answered pages' usage, and what pages without an answer cost so far."""
            answered = {a.page for a in answers}
            return usage.total([a.usage for a in answers]
                               + [u for p, u in earlier.pages.items() if p not in answered]
                               + list(unkept.values()))

        try:
            refund = self._spend_budget(len(pending))  # the whole document, before any page
        except FailureError as exc:
            kept = list(saved.values())
            return FailureMessage(**common, error=exc.failure, usage=spent(kept, {}),
                                  pages=[a.entry() for a in kept] or None)
        field_name = self.rt.catalogue.apis[api].body_field

        bodies = MemoryGate(max(1, bodies_bytes))

        def call(part: Part) -> CallResult:
            with bodies.hold(documents.body_memory(len(part.data))):
                body = self._file_body(field_name, part, job.options)
                return self.rt.client.call(api, region, body, deadline, credentials)

        try:
            done = pages.run_pages(document, pending, saved, call,
                                   pages.saver(store, key, job.key), self.rt.call_slots,
                                   self.rt.settings.max_concurrency, deadline, earlier.pages)
        except PagesPending as exc:
            refund(len(pending) - exc.calls)
            raise
        finally:
            document.close()
        refund(len(pending) - done.calls)
        if done.failure is not None and is_throttle(done.failure):
            # the answered pages stay saved, with their usage; the others' goes to the ledger
            self._defer_throttled(job, done.failure, Usage(), done.unkept,
                                  [a.page for a in done.answers])
        common.update(attempts=done.attempts, billed_unknown=done.unanswered,
                      duration_ms=int((time.monotonic() - started) * 1000),
                      usage=spent(done.answers, done.unkept))
        entries = [a.entry() for a in done.answers]
        if done.failure is not None:
            return FailureMessage(**common, error=done.failure, failed_page=done.failed_page,
                                  pages=entries or None)
        results = [entry["result"] for entry in entries]
        texts, whole = document_text(api, results)
        sure, sure_whole = document_confidence(api, results)
        entries = [{**entry, **({} if text is None else {"text": text}),
                    **({} if page_sure is None else {"confidence": page_sure.as_dict()})}
                   for entry, text, page_sure in zip(entries, texts, sure)]
        return ResultMessage(**common, pages=entries, text=whole, confidence=sure_whole,
                             review=self._review(api, sure_whole))

    def _defer_throttled(self, job: Job, failure: Failure, spent: Usage,
                         pages_spent: dict[int, Usage] | None = None,
                         answered: list[int] | None = None) -> None:
        """A call ended by throttling cost nothing: the record goes back to the queue, until
        OCR_MAX_DELIVERIES deliveries in a row were throttled (then the failure is published).
        What the delivery spent reaching the provider stays in the record's ledger for the
        message that is published in the end."""
        try:
            deliveries = quota.count_delivery(self.rt.idempotency,
                                              keys.throttled_deliveries_key(job.key),
                                              self.rt.settings.idempotency_ttl_s)
            if quota.last_delivery(deliveries, self.rt.settings.max_deliveries):
                return
            ledger.add_to_ledger(self.rt.idempotency, job.key, spent, pages_spent, answered or ())
        except IdempotencyError as exc:
            raise RecordDeferred("OCRFLOW.IDEMPOTENCY_UNAVAILABLE", str(exc)) from None
        raise RecordDeferred("OCRFLOW.RATE_LIMITED",
                             f"{failure.code}: {failure.message} (throttled delivery {deliveries} "
                             f"of at most {self.rt.settings.max_deliveries}; redelivered)")

    def _failure(self, job: Job, failure: Failure, spent: Usage = Usage()) -> FailureMessage:
        return FailureMessage(function=self.function, ref=job.ref, api=job.api,
                              region=job.region, error=failure, usage=spent)

    def _url_body(self, job: Job) -> bytes:
        assert job.ref is not None
        url = urlmode.build_url(job.url_template or "", job.ref.bucket, job.ref.key,
                                job.region or "", self.rt.settings.url_allowed_hosts)
        self._spend_budget()
        return json.dumps({"url": url, **job.options}, ensure_ascii=False).encode("utf-8")

    def _invoice_body(self, data: bytes, job: Job) -> bytes:
        fields = invoices.parse_fields(data)
        invoices.check_dates(fields)
        self._spend_budget()
        quota.spend_invoice_verification(self.rt.idempotency, fields)
        return invoices.encode({**fields, **{k: str(v) for k, v in job.options.items()}})

    def _spend_budget(self, calls: int = 1) -> Callable[[int], None]:
        return quota.spend_budget(self.rt.idempotency, self.rt.settings.max_calls_per_day, calls)

    def _head(self, ref: ObjectRef, credentials: Credentials | None) -> ObjectHead:
        return self.rt.object_store_for(credentials, ref.region).head(ref.bucket, ref.key,
                                                                       ref.version_id)
