"""The flow of a batch, one record after the other or concurrently (design.md §2).

event record → :meth:`Recogniser.prepare <ocrflow.recognise.Recogniser.prepare>` (key
check, route, region: no call) → :class:`~ocrflow.delivery.Delivery` (claim → recognise →
save → claim check → publish → complete) → :class:`~ocrflow.delivery.Outcome`.

This module only orders the steps and keeps a record's error from taking the batch down.
What moved out of it: ``Runtime`` (wiring) to :mod:`ocrflow.runtime`; route, read, check
and call to :mod:`ocrflow.recognise` (with ``record_key`` and ``check_key``); storing and
publishing, ``Outcome`` and ``first_line`` to :mod:`ocrflow.delivery`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .delivery import Delivery, Outcome
from .events import Record
from .log import get_logger
from .models import ObjectRef
from .recognise import Recogniser
from .runtime import Runtime
from .signer import Credentials

#: Time kept back from the platform's deadline to store and publish the outcome.
PUBLISH_MARGIN_S = 5.0
#: A claim outlives a call's whole deadline by this much before another delivery may take it.
CLAIM_GRACE_S = 60.0


class Pipeline:
    def __init__(self, runtime: Runtime, function: str = "recognize") -> None:
        self.rt = runtime
        self.recogniser = Recogniser(runtime, function)
        self.log = get_logger()

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
        return list(self.rt.executor.map(run, items))

    def process_one(self, record: Record, credentials: Credentials | None,
                    deadline: float) -> Outcome:
        """``deadline`` is the invocation's (``time.monotonic()``); a record never takes
        longer than ``OCR_DEADLINE_S`` from its own start either."""
        started = time.monotonic()
        deadline = min(deadline, started + self.rt.settings.deadline_s)
        try:
            job = self.recogniser.prepare(record, credentials)
            delivery = Delivery(self.rt, job.key, job.ref, job.delivery_id, job.api, job.region,
                                started, credentials)
            # a claim for a call outlives the record's whole deadline, then another delivery
            # may take it over; a failure decided without a call needs only the grace
            claim_for_s = CLAIM_GRACE_S if job.decided else \
                max(0.0, deadline - time.monotonic()) + CLAIM_GRACE_S
            outcome = delivery.run(
                lambda: self.recogniser.recognise(job, credentials, deadline), claim_for_s)
        except Exception as exc:  # noqa: BLE001 - a record must never take the batch down
            self.log.exception("record failed unexpectedly", error_type=type(exc).__name__)
            outcome = Outcome(record if isinstance(record, ObjectRef) else None, "unpublished",
                              code="OCRFLOW.INTERNAL_ERROR", detail=type(exc).__name__,
                              delivery_id=getattr(record, "delivery_id", None),
                              duration_ms=int((time.monotonic() - started) * 1000))
        self._log_outcome(outcome)
        return outcome

    def _log_outcome(self, outcome: Outcome) -> None:
        fields = {k: v for k, v in outcome.summary().items() if v is not None}
        if outcome.done:
            self.log.info("record processed", **fields)
        else:
            self.log.warning("record not published; it will be redelivered", **fields)
