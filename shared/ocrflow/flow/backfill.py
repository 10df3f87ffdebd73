"""Backfill: objects already in a bucket → one S3-shaped notification each on the intake
queue, so the deployed functions (not this process) work through them with the same
concurrency cap, idempotency and messages. A second run sends everything again; the
pipeline's idempotency makes that free (no call is paid twice)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus

from ..adapters.queues import Queue
from ..adapters.stores import ObjectStore
from ..core.models import ObjectHead, OutgoingMessage

BATCH = 10  # SQS SendMessageBatch takes ten


@dataclass
class BackfillReport:
    listed: int = 0
    sent: int = 0
    failed: int = 0


def notification(info: ObjectHead, region: str) -> dict[str, Any]:
    """The S3 event notification for an upload of ``info`` (key URL-encoded as S3 does)."""
    obj: dict[str, Any] = {"key": quote_plus(info.key, safe="/"), "size": info.size}
    if info.etag:
        obj["eTag"] = info.etag
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "ocrflow-backfill"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "ocrflow-backfill",
               "bucket": {"name": info.bucket, "arn": f"arn:aws:s3:::{info.bucket}"}, "object": obj},
    }]}


def backfill(store: ObjectStore, bucket: str, prefix: str, queue: Queue, region: str = "us-east-1",
             progress: Callable[[BackfillReport], None] | None = None) -> BackfillReport:
    report = BackfillReport()
    batch: list[OutgoingMessage] = []

    def flush() -> None:
        errors = queue.publish_many(batch)
        report.sent += sum(e is None for e in errors)
        report.failed += sum(e is not None for e in errors)
        batch.clear()
        if progress:
            progress(report)

    for info in store.list(bucket, prefix):
        report.listed += 1
        body = json.dumps(notification(info, region), ensure_ascii=False).encode("utf-8")
        batch.append(OutgoingMessage(id=str(uuid.uuid4()), type="s3:ObjectCreated:Put", body=body,
                                     key=info.key))
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    return report
