"""Every supported trigger event → a list of records (object references or invalid ones).

Shapes (design.md §2.1): S3 notification, ``s3:TestEvent``, EventBridge ``Object Created``,
SQS messages whose body is any of these, SNS-wrapped notifications, OBS triggers on
FunctionGraph in the S3-compatible form (eventVersion 2.0) and the native form
(``Records[].obs``, eventVersion 3.0), and EventGrid CloudEvents for OBS.

Keys are decoded in exactly one place: :func:`decode_key`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote_plus

from . import tracing
from .models import ObjectRef

#: How much of an unparseable event or record a failure message carries.
EXCERPT_CHARS = 1024


@dataclass(frozen=True)
class InvalidRecord:
    """A record that could not be turned into an object reference. It still ends in one
    ``OCRFLOW.EVENT_INVALID`` failure message, so nothing disappears silently."""

    reason: str
    excerpt: str
    delivery_id: str | None = None
    #: Identity of the whole record (not only its excerpt), so a redelivery is recognised
    #: and two different broken records are not.
    fingerprint: str = ""
    trace: tracing.TraceContext | None = field(default=None, compare=False)


def _invalid(reason: str, value: Any, delivery_id: str | None) -> InvalidRecord:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str,
                                                           sort_keys=True)
    digest = hashlib.sha256("\0".join([reason, delivery_id or "", text]).encode("utf-8", "replace"))
    return InvalidRecord(reason, excerpt(text), delivery_id, digest.hexdigest())


Record = ObjectRef | InvalidRecord


def decode_key(raw: str, url_encoded: bool) -> str:
    """The one place a key is decoded. Notifications (S3, OBS) URL-encode keys with ``+``
    for a space; EventBridge and EventGrid carry them as they are."""
    return unquote_plus(raw) if url_encoded else raw


def excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def parse_event(event: Any) -> list[Record]:
    """All records of ``event``, in order. Never raises for a malformed event: what cannot
    be understood becomes an :class:`InvalidRecord`."""
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return [_invalid(f"event is not JSON: {exc}", _text(event), None)]
    out = list(_records(event, delivery_id=None))
    # identical broken records at different positions of one event are different records
    return [replace(r, fingerprint=hashlib.sha256(f"{r.fingerprint}:{i}".encode()).hexdigest())
            if isinstance(r, InvalidRecord) else r for i, r in enumerate(out)]


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _records(event: Any, delivery_id: str | None) -> Iterator[Record]:
    if not isinstance(event, dict):
        yield _invalid("event is not a JSON object", event, delivery_id)
        return
    if event.get("Event") == "s3:TestEvent":
        return  # sent by S3 when a notification is configured: nothing to do
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            yield _invalid("Records is not a list", event, delivery_id)
            return
        for record in records:
            yield from _record(record, delivery_id)
        return
    if event.get("detail-type") == "Object Created" or (
        isinstance(event.get("detail"), dict) and event.get("source") == "aws.s3"
    ):
        yield _eventbridge(event, delivery_id)
        return
    if event.get("Type") == "Notification" and "Message" in event:  # SNS envelope in SQS
        yield from _json_body(event["Message"], delivery_id)
        return
    if "events" in event and isinstance(event["events"], list):  # EventGrid batch
        for item in event["events"]:
            yield from _records(item, delivery_id)
        return
    if str(event.get("source", "")).startswith("HC.OBS") and "specversion" in event:
        yield from _traced([_eventgrid(event, delivery_id)], tracing.from_cloudevent(event))
        return
    yield _invalid("unrecognised event shape", event, delivery_id)


def _record(record: Any, delivery_id: str | None) -> Iterator[Record]:
    if not isinstance(record, dict):
        yield _invalid("record is not a JSON object", record, delivery_id)
        return
    source = str(record.get("eventSource") or record.get("EventSource") or "")
    if source == "aws:sqs":
        yield from _traced(_json_body(record.get("body"), record.get("messageId")),
                           tracing.from_sqs_record(record))
        return
    if source == "aws:sns" or "Sns" in record:
        sns = record.get("Sns")
        message = sns.get("Message") if isinstance(sns, dict) else None
        yield from _json_body(message, delivery_id)
        return
    if "s3" in record or "obs" in record:
        if not _is_creation(record.get("eventName")):
            return  # deletions and other events: not an upload
        yield _notification(record, delivery_id)
        return
    yield _invalid("unrecognised record shape", record, delivery_id)


def _traced(records: Iterable[Record], trace: tracing.TraceContext | None) -> Iterator[Record]:
    """The records of one delivery unit, with the trace that unit carried; without one, a
    record keeps what its own body carried (an EventGrid CloudEvent inside an SQS body)."""
    for record in records:
        yield record if trace is None else replace(record, trace=trace)


def _json_body(body: Any, delivery_id: str | None) -> Iterator[Record]:
    if isinstance(body, dict):
        yield from _records(body, delivery_id)
        return
    if not isinstance(body, str):
        yield _invalid("message body is missing", body, delivery_id)
        return
    try:
        inner = json.loads(body)
    except json.JSONDecodeError as exc:
        yield _invalid(f"message body is not JSON: {exc.msg}", body, delivery_id)
        return
    yield from _records(inner, delivery_id)


def _is_creation(event_name: Any) -> bool:
    # S3 "ObjectCreated:Put"; OBS also "ObjectCreated:Post", sometimes with an "s3:" prefix
    return event_name is None or "ObjectCreated" in str(event_name)


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "" or value == "null":
        return None
    return str(value)


def _size(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("size is not a number")
    size = int(value)
    if size < 0:
        raise ValueError("size is negative")
    return size


def _etag(value: Any) -> str | None:
    text = _str_or_none(value)
    return text.strip('"') if text else None


def _notification(record: dict[str, Any], delivery_id: str | None) -> Record:
    native = "obs" in record and "s3" not in record
    body = record["obs"] if native else record["s3"]
    try:
        bucket = body["bucket"]["name"]
        obj = body["object"]
        raw_key = obj["key"]
        if not isinstance(bucket, str) or not bucket or not isinstance(raw_key, str):
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=bucket,
            key=decode_key(raw_key, url_encoded=True),
            version_id=_str_or_none(obj.get("versionId")),
            etag=_etag(obj.get("eTag") or obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(record.get("awsRegion") or record.get("eventRegion")),
            event_time=_str_or_none(record.get("eventTime")),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid(f"notification record is incomplete: {_describe(exc)}",
                              record, delivery_id)


def _eventbridge(event: dict[str, Any], delivery_id: str | None) -> Record:
    try:
        detail = event["detail"]
        obj = detail["object"]
        bucket = detail["bucket"]["name"]
        key = obj["key"]
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str):
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=bucket,
            key=decode_key(key, url_encoded=False),
            version_id=_str_or_none(obj.get("version-id")),
            etag=_etag(obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(event.get("region")),
            event_time=_str_or_none(event.get("time")),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid(f"EventBridge event is incomplete: {_describe(exc)}",
                              event, delivery_id)


def _eventgrid(event: dict[str, Any], delivery_id: str | None) -> Record:
    """EventGrid CloudEvent from OBS: the bucket and object are in ``data``; ``subject``
    names the object. Keys inside ``data.obs`` are notification-encoded; ``subject`` is not."""
    try:
        data = event.get("data") or {}
        if isinstance(data, str):
            data = json.loads(data)
        obs = data.get("obs") or data.get("s3") or data
        bucket = (obs.get("bucket") or {}).get("name") or data.get("bucketName")
        obj = obs.get("object") or {}
        if isinstance(obj.get("key"), str):
            key = decode_key(obj["key"], url_encoded=True)
        else:
            key = decode_key(event["subject"], url_encoded=False)
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=bucket,
            key=key,
            version_id=_str_or_none(obj.get("versionId")),
            etag=_etag(obj.get("eTag") or obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(data.get("eventRegion") or event.get("region")),
            event_time=_str_or_none(event.get("time")),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
        return _invalid(f"EventGrid event is incomplete: {_describe(exc)}",
                              event, delivery_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def delivery_ids(event: Any) -> list[str]:
    """The SQS message ids of a batch event (for reporting partial batch failures)."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return [r["messageId"] for r in event["Records"]
                if isinstance(r, dict) and r.get("eventSource") == "aws:sqs" and "messageId" in r]
    return []
