"""The entry shared by the function handlers: event in, platform answer out.

Works on AWS Lambda and Huawei FunctionGraph (``handler(event, context)`` on both):

* an SQS batch answers ``{"batchItemFailures": [...]}`` listing only the messages with a
  record that could not be published (a coded OCR failure *is* a published message);
* an S3 Batch Operations invocation answers one result per task in the job's shape
  (:mod:`ocrflow.flow.batchops`): ``TemporaryFailure`` for a task not published, so the job
  retries it;
* any other event (S3/OBS asynchronous triggers, EventBridge, EventGrid) returns a summary
  when every record ended in a message, and raises :class:`RecordsNotPublished` otherwise
  so the platform retries the invocation (idempotency keeps retries from paying twice).
"""

from __future__ import annotations

import os
import time
from typing import Any

from .config.settings import Settings
from .contract import events as events_mod
from .core import tracing
from .core.errors import OcrflowError
from .core.signer import Credentials
from .flow.delivery import Outcome
from .flow.pipeline import PUBLISH_MARGIN_S, Pipeline
from .observability.log import bind_invocation, get_logger
from .runtime import Runtime, runtime


class RecordsNotPublished(OcrflowError):
    """Some records did not end in a published message: the platform must retry."""


def credentials_for(settings: Settings, context: Any) -> Credentials | None:
    """Configured AK/SK first; else FunctionGraph's temporary keys from the context."""
    if settings.ak and settings.sk:
        return Credentials(settings.ak, settings.sk, settings.security_token)
    getter = getattr(context, "getSecurityAccessKey", None)
    if callable(getter):
        ak = getter()
        sk = context.getSecuritySecretKey()
        token = context.getSecurityToken() if hasattr(context, "getSecurityToken") else None
        if ak and sk:
            return Credentials(ak, sk, token or None)
    return None


def metrics_project_id(settings: Settings) -> str | None:
    """The project the function runs in, where its Cloud Eye metrics belong: FunctionGraph's
    preset ``RUNTIME_PROJECT_ID``, else the OCR project."""
    return os.environ.get("RUNTIME_PROJECT_ID") or settings.project_id


def deadline_for(settings: Settings, context: Any) -> float:
    """A ``time.monotonic()`` deadline below the platform's own, leaving time to publish."""
    budget = settings.deadline_s
    remaining_ms = None
    if context is not None:
        for name in ("get_remaining_time_in_millis", "getRemainingTimeInMilliSeconds"):
            method = getattr(context, name, None)
            if callable(method):
                remaining_ms = method()
                break
    if remaining_ms is not None:
        budget = min(budget, max(1.0, remaining_ms / 1000 - PUBLISH_MARGIN_S))
    return time.monotonic() + budget


def handle(event: Any, context: Any = None, function: str = "recognize",
           rt: Runtime | None = None) -> dict[str, Any]:
    rt = rt or runtime()
    bind_invocation(context, rt.settings.service_name)
    log = get_logger()
    event = events_mod.from_text(event)
    if events_mod.is_s3_batch_invocation(event):  # answered per task, never raises
        from .flow import batchops

        try:
            return batchops.run(batchops.parse(event), rt, function,
                                credentials_for(rt.settings, context),
                                deadline_for(rt.settings, context), tracing.from_invocation(context))
        finally:
            rt.metrics.flush()
    records = events_mod.parse_event(event)
    batch_ids = events_mod.delivery_ids(event)
    if any(not isinstance(r, events_mod.IgnoredEvent) for r in records):
        rt.open_queues()
    log.info("invocation started", records=len(records), sqs_messages=len(batch_ids) or None)
    credentials = credentials_for(rt.settings, context)
    try:
        outcomes = Pipeline(rt, function, trace=tracing.from_invocation(context)).process(
            records, credentials, deadline_for(rt.settings, context))
    finally:
        # after every record is published: metrics never hold a record back
        rt.metrics.flush(credentials, metrics_project_id(rt.settings))
    summary = summarise(outcomes)
    if batch_ids:
        failed = sorted({o.delivery_id for o in outcomes if not o.done and o.delivery_id},
                        key=batch_ids.index)
        log.info("invocation finished", **summary["counts"], batch_item_failures=len(failed))
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    log.info("invocation finished", **summary["counts"])
    if summary["counts"]["unpublished"]:
        raise RecordsNotPublished(
            f"{summary['counts']['unpublished']} of {len(outcomes)} records were not published; "
            "retry the invocation")
    return summary


def redrive_handle(event: Any, context: Any = None, rt: Runtime | None = None) -> dict[str, Any]:
    from .flow.redrive import redrive

    rt = rt or runtime()
    bind_invocation(context, rt.settings.service_name)
    codes = set(event.get("codes") or []) if isinstance(event, dict) else set()
    credentials = credentials_for(rt.settings, context)
    try:
        report = redrive(rt, rt.settings.queue_url("failure"), codes or None,
                         credentials, deadline_for(rt.settings, context),
                         dry_run=bool(isinstance(event, dict) and event.get("dry_run")))
    finally:
        rt.metrics.flush(credentials, metrics_project_id(rt.settings))
    summary = report.summary()
    get_logger().info("redrive finished", scanned=report.scanned, selected=report.selected,
                      removed=report.removed, waiting=report.waiting)
    return summary


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    counts = {"records": len(outcomes), "results": 0, "failures": 0, "duplicates": 0,
              "ignored": 0, "unpublished": 0}
    names = {"result": "results", "failure": "failures", "duplicate": "duplicates",
             "ignored": "ignored"}
    for o in outcomes:
        counts[names.get(o.status, "unpublished")] += 1
    return {"counts": counts, "outcomes": [o.summary() for o in outcomes]}
