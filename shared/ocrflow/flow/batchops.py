"""S3 Batch Operations: AWS's engine for bulk work on objects already in a bucket.

A job over an S3 Inventory report or a CSV manifest invokes the function with its tasks
(``invocationSchemaVersion`` 1.0 or 2.0, see :func:`ocrflow.contract.events.s3_batch_task`) and reads
one result per task from the answer:

* ``Succeeded`` — the object's message is published: a result, or a coded failure (a failure
  message *is* the outcome the product promises, as for an upload; its code is in the
  ``resultString`` of the job's completion report, and ``ocrflow redrive`` replays it once its
  cause is fixed). A duplicate (already published by an upload event or an earlier run) is
  ``Succeeded`` without a new call;
* ``TemporaryFailure`` — nothing was published (queue or store down, throttled, time ran out,
  another invocation at work on it): the job sends the task again, and idempotency keeps the
  retry from paying twice;
* ``PermanentFailure`` — only for a job whose ``userArguments`` ocrflow cannot honour: no
  task of it is read, called or published, and the job's failure threshold stops it.

``userArguments`` (schema 2.0) may name the ``api`` every task of the job goes to (one that
``OCR_ROUTES`` routes to, with that rule's options) instead of the routing rules; other
arguments are the job's own and are only named in the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..contract import events
from ..core import tracing
from ..core.signer import Credentials
from ..observability.log import get_logger
from ..provider.routing import Route
from ..runtime import Runtime
from .delivery import Outcome
from .pipeline import Pipeline

SUCCEEDED, TEMPORARY, PERMANENT = "Succeeded", "TemporaryFailure", "PermanentFailure"
#: What the job makes of a task the answer leaves out: every task is answered, so one left out
#: was not seen published, and is worth another try.
TREAT_MISSING_KEYS_AS = TEMPORARY
#: The job arguments ocrflow reads; others (a job's own labels) are left alone.
USER_ARGUMENTS = ("api",)
#: Bound of a result string (it lands in a CSV report).
MAX_RESULT_CHARS = 512


@dataclass(frozen=True)
class Invocation:
    schema_version: str
    invocation_id: str
    job_id: str | None
    user_arguments: dict[str, Any]
    #: (taskId, the task's record), in the invocation's order
    tasks: list[tuple[str, events.Record]] = field(default_factory=list)


def parse(event: dict[str, Any]) -> Invocation:
    version = event["invocationSchemaVersion"]
    raw_job = event.get("job")
    job: dict[str, Any] = raw_job if isinstance(raw_job, dict) else {}
    raw_arguments = job.get("userArguments")
    arguments: dict[str, Any] = raw_arguments if isinstance(raw_arguments, dict) else {}
    tasks = []
    for i, task in enumerate(event["tasks"]):
        task_id = task.get("taskId") if isinstance(task, dict) else None
        if not isinstance(task_id, str):
            # a task without its id cannot be answered; TREAT_MISSING_KEYS_AS retries it
            get_logger().warning("S3 Batch Operations task without a taskId", position=i)
            continue
        tasks.append((task_id, events.s3_batch_task(task, version, task_id)))
    job_id = job.get("id")
    return Invocation(version, event["invocationId"], job_id if isinstance(job_id, str) else None,
                      arguments, tasks)


def route_for(invocation: Invocation, routing: Route) -> tuple[Route | None, str | None]:
    """(the job's own route, or None for ``OCR_ROUTES``; why the arguments cannot be honoured)."""
    api = invocation.user_arguments.get("api")
    if api is None:
        return None, None
    routable = routing.apis()
    if api not in routable:
        return None, (f"userArguments: api {str(api)[:80]!r} is not one OCR_ROUTES routes to "
                      f"({', '.join(routable)})")
    rule = next((r for r in routing.rules if r.api == api), None)
    if rule is None:  # the default API, routed to by no rule of its own
        return Route(rules=[]), None
    return Route([rule.model_copy(update={"prefix": None, "suffix": None, "metadata": None})]), None


def result(outcome: Outcome) -> tuple[str, str]:
    """(resultCode, resultString) of one task."""
    if outcome.status in ("result", "failure", "duplicate"):
        text = outcome.status if outcome.code is None else f"{outcome.status} {outcome.code}"
        return SUCCEEDED, f"{text} message {outcome.message_id}"
    if outcome.status == "ignored":
        return SUCCEEDED, "ignored"
    why = outcome.code or outcome.status
    return TEMPORARY, f"{why}: {outcome.detail}" if outcome.detail else why


def answer(invocation: Invocation, results: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "invocationSchemaVersion": invocation.schema_version,
        "treatMissingKeysAs": TREAT_MISSING_KEYS_AS,
        "invocationId": invocation.invocation_id,
        "results": [{"taskId": task_id, "resultCode": code,
                     "resultString": text[:MAX_RESULT_CHARS]}
                    for (task_id, _), (code, text) in zip(invocation.tasks, results)],
    }


def run(invocation: Invocation, rt: Runtime, function: str, credentials: Credentials | None,
        deadline: float, trace: tracing.TraceContext | None) -> dict[str, Any]:
    """Each task as an upload of its object; the answer in the job's shape."""
    log = get_logger()
    started = time.monotonic()
    route, refusal = route_for(invocation, rt.settings.routing)
    if refusal is not None:
        log.warning("S3 Batch Operations job refused", job_id=invocation.job_id, reason=refusal)
        return answer(invocation, [(PERMANENT, refusal)] * len(invocation.tasks))
    if invocation.tasks:
        rt.open_queues()
    log.info("invocation started", records=len(invocation.tasks), job_id=invocation.job_id,
             invocation_schema_version=invocation.schema_version,
             api=invocation.user_arguments.get("api"),
             user_arguments_not_read=sorted(str(k)[:64] for k in invocation.user_arguments
                                            if k not in USER_ARGUMENTS) or None)
    outcomes = Pipeline(rt, function, trace=trace, route=route).process(
        [record for _, record in invocation.tasks], credentials, deadline)
    results = [result(o) for o in outcomes]
    log.info("invocation finished", job_id=invocation.job_id, tasks=len(results),
             succeeded=sum(code == SUCCEEDED for code, _ in results),
             temporary_failures=sum(code == TEMPORARY for code, _ in results),
             duration_ms=int((time.monotonic() - started) * 1000))
    return answer(invocation, results)
