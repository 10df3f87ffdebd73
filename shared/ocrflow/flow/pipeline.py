"""The flow of a batch, one record after the other or concurrently.

event record → :meth:`Preparer.prepare <ocrflow.flow.prepare.Preparer.prepare>` (key check,
route, region: no call) → :class:`~ocrflow.flow.delivery.Delivery` (claim →
:meth:`Recognizer.recognize <ocrflow.flow.recognize.Recognizer.recognize>` → save → claim
check → publish → complete) → :class:`~ocrflow.flow.delivery.Outcome`.

This module only orders the steps and keeps a record's error from taking the batch down.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable
from functools import partial

from structlog.contextvars import bound_contextvars

from ..contract.events import IgnoredEvent, Record
from ..core.models import ObjectRef
from ..core.signer import Credentials
from ..core.tracing import TraceContext, choose
from ..observability.log import get_logger
from ..provider.routing import Route
from ..runtime import Runtime
from .delivery import Delivery, Outcome
from .prepare import Preparer
from .recognize import Recognizer

#: Time kept back from the platform's deadline to store and publish the outcome.
PUBLISH_MARGIN_S = 5.0
#: A claim outlives a call's whole deadline by this much before another delivery may take it.
CLAIM_GRACE_S = 60.0


class Pipeline:
    def __init__(self, runtime: Runtime, function: str = "recognize",
                 trace: TraceContext | None = None, route: Route | None = None) -> None:
        """``route``: one that replaces ``OCR_ROUTES`` for these records (an S3 Batch
        Operations job that names its API)."""
        self.rt = runtime
        self.preparer = Preparer(runtime, function, route)
        self.recognizer = Recognizer(runtime, function)
        self.log = get_logger()
        #: The invocation's trace: what a record that brought none of its own continues.
        self.trace = trace

    def process(self, records: Iterable[Record], credentials: Credentials | None,
                deadline: float, on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Processes records concurrently (``OCR_MAX_CONCURRENCY``); outcomes in input order."""
        items = list(records)

        def run(record: Record) -> Outcome:
            outcome = self.process_one(record, credentials, deadline)
            if on_done:
                on_done(outcome)
            return outcome

        if len(items) <= 1:
            return [run(r) for r in items]
        # each record runs in a copy of the invocation's context, so its log lines carry the
        # invocation's keys (request id, cold start) in the worker threads too
        contexts = [contextvars.copy_context() for _ in items]
        return list(self.rt.executor.map(lambda c, r: c.run(run, r), contexts, items))

    def process_one(self, record: Record, credentials: Credentials | None,
                    deadline: float) -> Outcome:
        """``deadline`` is the invocation's (``time.monotonic()``); a record never takes
        longer than ``OCR_DEADLINE_S`` from its own start either."""
        trace = choose(getattr(record, "trace", None), self.trace)
        with bound_contextvars(xray_trace_id=trace.xray_trace_id):
            return self._process_one(record, credentials, deadline, trace)

    def _process_one(self, record: Record, credentials: Credentials | None, deadline: float,
                     trace: TraceContext) -> Outcome:
        if isinstance(record, IgnoredEvent):
            return self._ignore(record)
        started = time.monotonic()
        deadline = min(deadline, started + self.rt.settings.deadline_s)
        try:
            job = self.preparer.prepare(record, credentials)
            delivery = Delivery(self.rt, job.key, job.ref, job.delivery_id, job.api, job.region,
                                started, credentials, trace)
            # a claim for a call outlives the record's whole deadline, then another delivery
            # may take it over; a failure decided without a call needs only the grace
            claim_for_s = CLAIM_GRACE_S if job.decided else \
                max(0.0, deadline - time.monotonic()) + CLAIM_GRACE_S
            outcome = delivery.run(
                lambda: self.recognizer.recognize(job, credentials, deadline), claim_for_s,
                deadline, None if job.decided else partial(self.recognizer.after_crashes, job))
        except Exception as exc:  # noqa: BLE001 - a record must never take the batch down
            self.log.exception("record failed unexpectedly", error_type=type(exc).__name__)
            outcome = Outcome(record if isinstance(record, ObjectRef) else None, "unpublished",
                              code="OCRFLOW.INTERNAL_ERROR", detail=type(exc).__name__,
                              delivery_id=getattr(record, "delivery_id", None),
                              duration_ms=int((time.monotonic() - started) * 1000))
        self._log_outcome(outcome)
        return outcome

    def _ignore(self, record: IgnoredEvent) -> Outcome:
        """Not an object creation: no claim, no read, no call, no message; one log line."""
        self.log.info("event ignored: not an object creation", event_type=record.event_type,
                      bucket=record.bucket, key=record.key)
        ref = ObjectRef(record.bucket, record.key) if record.bucket and record.key else None
        return Outcome(ref, "ignored", delivery_id=record.delivery_id,
                       event_type=record.event_type)

    def _log_outcome(self, outcome: Outcome) -> None:
        fields = {k: v for k, v in outcome.summary().items() if v is not None}
        if outcome.done:
            self.log.info("record processed", **fields)
        else:
            self.log.warning("record not published; it will be redelivered", **fields)
