"""Replaying failures whose cause is fixed (budget raised, package bought, region set).

Each failure message names its object; a replay runs that object through the pipeline
again as a new attempt (its own idempotency record, keyed by the failure's id, so replaying
the same failure twice pays once). A replayed failure is removed from the failure queue
when its queue can remove a message (:meth:`Queue.remove <ocrflow.adapters.queues.Queue.remove>`:
sqlite, SQS, AMQP, Redis Streams); otherwise (Kafka, SNS) it stays, and
consumers see a newer message for the same object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..contract import messages
from ..core.models import ObjectRef
from ..core.signer import Credentials
from ..core.tracing import from_cloudevent
from ..runtime import Runtime
from .delivery import Outcome
from .pipeline import Pipeline


@dataclass
class RedriveReport:
    scanned: int = 0
    selected: int = 0
    removed: int = 0
    #: selected by code but left for later: their ``retry_after`` is still to come
    waiting: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return {"scanned": self.scanned, "selected": self.selected, "removed": self.removed,
                "waiting": self.waiting, "outcomes": counts,
                "records": [o.summary() for o in self.outcomes]}


def select(failures: Iterable[dict[str, Any]], codes: set[str] | None,
           now: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """(the failures to replay, how many were left because their ``retry_after`` — the wait
    the provider advises — has not come yet: a replay before then meets the same answer)."""
    moment = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds").replace("+00:00", "Z")
    chosen, waiting = [], 0
    for message in failures:
        # another producer's message, or a body that is not one, is not ours to replay
        if not isinstance(message, dict) or message.get("type") != messages.FAILURE_TYPE:
            continue
        data = message.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(obj, dict) \
                or not all(isinstance(v, str) for v in (obj.get("bucket"), obj.get("key"),
                                                         message.get("id"))):
            continue  # an unparseable event names no object to replay
        error: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else {}
        if codes and error.get("code") not in codes:
            continue
        after = error.get("retry_after")
        if isinstance(after, str) and after > moment:  # both UTC, RFC 3339, to the second
            waiting += 1
            continue
        chosen.append(message)
    return chosen, waiting


def redrive(rt: Runtime, failure_queue_url: str, codes: set[str] | None,
            credentials: Credentials | None, deadline: float, dry_run: bool = False) -> RedriveReport:
    queue, own = rt.queue_at(failure_queue_url, "FAILURE_QUEUE_URL")
    report = RedriveReport()
    try:
        failures = list(queue.dump())
        report.scanned = len(failures)
        chosen, report.waiting = select(failures, codes)
        report.selected = len(chosen)
        if dry_run or not chosen:
            return report
        refs = []
        for message in chosen:
            obj = message["data"]["object"]
            refs.append(ObjectRef(bucket=obj["bucket"], key=obj["key"], version_id=obj.get("version_id"),
                                  etag=obj.get("etag"), size=obj.get("size"),
                                  redrive_of=message["id"],
                                  # the replay belongs to the upload's trace, as the failure did
                                  trace=from_cloudevent(message)))
        report.outcomes = Pipeline(rt, "redrive").process(refs, credentials, deadline)
        for message, outcome in zip(chosen, report.outcomes):
            if outcome.done and queue.remove(message["id"]):
                report.removed += 1
    finally:
        if own:
            queue.close()
    return report
