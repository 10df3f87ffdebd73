"""Every key the flow of a record keeps in the idempotency store, made here and only here:
the record's own (:func:`record_key`), its document's saved pages (:func:`document_key`,
:func:`page_key`), its ledger, and the counters that bound its deliveries and the day's
budget."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime

from ..core.models import ObjectRef


def record_key(ref: ObjectRef, api: str, region: str) -> str:
    """The idempotency key: the object's identity (bucket, key, version or ETag) with the
    API and region it is recognized by."""
    parts = [ref.bucket, ref.key, ref.version_id or "", ref.etag or "", api, region]
    if ref.redrive_of:
        parts.append(f"redrive:{ref.redrive_of}")
    identity = json.dumps(parts, ensure_ascii=False)
    return "rec:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()


def invalid_record_key(fingerprint: str) -> str:
    """The key of an event record that names no object (its failure is delivered once)."""
    return "inv:" + fingerprint


def document_key(ref: ObjectRef, api: str, region: str) -> str:
    """Where a document's page answers are saved: the object's identity with the API and
    region, but not a redrive's mark, so a redrive of a failed document pays only for the
    pages that were not answered."""
    return "doc:" + record_key(replace(ref, redrive_of=None), api, region).removeprefix("rec:")


def page_key(document: str, page: int) -> str:
    return f"{document}#page:{page}"


def ledger_key(record: str) -> str:
    return "usage:" + record


def throttled_deliveries_key(record: str) -> str:
    return "throttled:" + record


def failed_deliveries_key(record: str) -> str:
    return "failed:" + record


def unended_deliveries_key(record: str) -> str:
    return "unended:" + record


def budget_key(day: datetime) -> str:
    return f"budget:{day:%Y-%m-%d}"
