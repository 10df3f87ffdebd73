"""Every supported trigger event → a list of records (object references or invalid ones).

Shapes: S3 notification, ``s3:TestEvent``, EventBridge ``Object Created``,
SQS messages whose body is any of these, SNS-wrapped notifications, OBS triggers on
FunctionGraph in the S3-compatible form (eventVersion 2.0) and the native form
(``Records[].obs``, eventVersion 3.0), and EventGrid CloudEvents for OBS.

Keys are decoded in exactly one place: :func:`decode_key`. Whether an event starts a
recognition is decided in exactly one place too: :func:`is_creation`. Only an object's creation
does; its removal, a delete marker, a lifecycle expiry or transition, a restore, tagging, ACL
and replication events become an :class:`IgnoredEvent` (no read, no call, no message).

Events come from whoever can write to the intake queue, so parsing is bounded: JSON text by
:mod:`ocrflow.core.boundedjson` (size, depth, number forms), envelopes within envelopes by
:data:`MAX_WRAPPING`, and every field that ends up in a message by type and length. What
does not fit becomes an :class:`InvalidRecord` of its own; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote_plus

from ..core import boundedjson, redact, tracing
from ..core.models import ObjectRef

#: How much of an unparseable event or record a failure message carries.
EXCERPT_CHARS = 1024
#: An event given as text (``ocrflow invoke``, a platform handing a string): 10,000 S3
#: records take about 12 MB.
MAX_EVENT_CHARS = 64 * 1024 * 1024
#: An SQS message body (SQS takes at most 1 MiB) or an SNS message inside one.
MAX_BODY_CHARS = 1024 * 1024
#: Envelopes inside envelopes (SQS → SNS → notification is 2).
MAX_WRAPPING = 8
#: Fields copied into messages: longer values are not names S3 or OBS give.
MAX_FIELD_CHARS = 1024
#: Bounds of the excerpt of a structure (depth, items per container).
_EXCERPT_DEPTH, _EXCERPT_ITEMS = 8, 64


@dataclass(frozen=True)
class InvalidRecord:
    """A record that could not be turned into an object reference. It still ends in one
    ``OCRFLOW.EVENT_INVALID`` failure message, so nothing disappears silently."""

    reason: str
    excerpt: str
    delivery_id: str | None = None
    #: Identity of the whole record (not only its excerpt), so a redelivery is recognized
    #: and two different broken records are not.
    fingerprint: str = ""
    trace: tracing.TraceContext | None = field(default=None, compare=False)


def _invalid(reason: str, value: Any, delivery_id: str | None) -> InvalidRecord:
    text = value if isinstance(value, str) else _dumps(value, sort_keys=True)
    digest = hashlib.sha256("\0".join([reason, delivery_id or "", text]).encode("utf-8", "replace"))
    return InvalidRecord(reason, excerpt(text), delivery_id, digest.hexdigest())


def _dumps(value: Any, sort_keys: bool = False) -> str:
    """JSON text of a structure of any depth or content (a hostile dict handed by the
    platform): too deep or not serialisable, its bounded shape is used instead."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=sort_keys)
    except (RecursionError, ValueError, TypeError):
        return json.dumps(_shape(value, 0), ensure_ascii=False, default=str)


def _shape(value: Any, depth: int) -> Any:
    if depth >= _EXCERPT_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:_EXCERPT_ITEMS]
        return {str(k)[:EXCERPT_CHARS]: _shape(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [_shape(v, depth + 1) for v in value[:_EXCERPT_ITEMS]]
    if isinstance(value, str):
        return value[:EXCERPT_CHARS]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)[:80]


@dataclass(frozen=True)
class IgnoredEvent:
    """An event about an object that is not its creation. Nothing is read, called or
    published for it; the summary counts it as ``ignored`` and one log line names its type."""

    #: The platform's own name for it: an S3/OBS ``eventName``, an EventBridge ``detail-type``,
    #: an EventGrid ``type`` (bounded, as it came).
    event_type: str
    bucket: str | None = None
    key: str | None = None
    delivery_id: str | None = None
    trace: tracing.TraceContext | None = field(default=None, compare=False)


Record = ObjectRef | InvalidRecord | IgnoredEvent

#: The event types that name an object's creation, as each platform spells them: S3 and OBS
#: notifications ``ObjectCreated:Put|Post|Copy|CompleteMultipartUpload`` (some S3-compatible
#: stores prefix ``s3:``), EventGrid's OBS events ``OBS:DWR:ObjectCreated:PUT|POST|COPY|
#: CompleteMultipartUpload``, EventBridge's ``detail-type`` ``Object Created``.
_CREATED = "ObjectCreated"
_CREATED_DETAIL_TYPE = "Object Created"
_TYPE_PREFIXES = ("s3:", "OBS:DWR:")


def is_creation(event_type: Any) -> bool:
    """The one rule for every platform: only an object-creation event starts a recognition.
    A record that names no type at all (hand-written events, tools that replay uploads) is
    taken as an upload, as notifications always name theirs."""
    if event_type is None:
        return True
    if not isinstance(event_type, str):
        return False
    if event_type == _CREATED_DETAIL_TYPE:
        return True
    name = event_type
    for prefix in _TYPE_PREFIXES:
        name = name.removeprefix(prefix)
    return name == _CREATED or name.startswith(_CREATED + ":")


def _ignored(event_type: Any, bucket: Any, key: Any, delivery_id: str | None,
             url_encoded: bool) -> IgnoredEvent:
    """Best effort for the log line and the summary: an ignored event is never read, so a
    field it lacks or garbles costs nothing but its mention."""
    kind = event_type if isinstance(event_type, str) else _dumps(event_type)
    name = None
    if isinstance(key, str) and len(key) <= MAX_FIELD_CHARS * 3:
        name = excerpt(decode_key(key, url_encoded))
    return IgnoredEvent(excerpt(kind)[:200],
                        excerpt(bucket)[:MAX_FIELD_CHARS] if isinstance(bucket, str) else None,
                        name, delivery_id)


def decode_key(raw: str, url_encoded: bool) -> str:
    """The one place a key is decoded. Notifications (S3, OBS) URL-encode keys with ``+``
    for a space; EventBridge and EventGrid carry them as they are."""
    return unquote_plus(raw) if url_encoded else raw


def excerpt(value: Any) -> str:
    """A bounded, redacted excerpt that is always valid UTF-8 (lone surrogates escaped)."""
    text = value if isinstance(value, str) else _dumps(value)
    text = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
    return redact.text(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def from_text(event: Any) -> Any:
    """An event given as text (``ocrflow invoke``, a platform handing a string) as the JSON
    it holds; text that is not such JSON is left as it is, for :func:`parse_event` to make
    an invalid record of."""
    if isinstance(event, (str, bytes, bytearray)):
        try:
            return boundedjson.loads(event, MAX_EVENT_CHARS)
        except boundedjson.JsonRejected:
            return event
    return event


def parse_event(event: Any) -> list[Record]:
    """All records of ``event``, in order. Never raises for a malformed event: what cannot
    be understood becomes an :class:`InvalidRecord`."""
    if isinstance(event, (str, bytes, bytearray)):
        try:
            event = boundedjson.loads(event, MAX_EVENT_CHARS)
        except boundedjson.JsonRejected as exc:
            return [_invalid(f"event is not JSON: {exc.reason}", _text(event), None)]
    try:
        out = list(_records(event, delivery_id=None, wrapping=0))
    except Exception as exc:  # noqa: BLE001 - the last guard: a record never takes the batch down
        return [_invalid(f"event could not be read ({type(exc).__name__})", event, None)]
    # identical broken records at different positions of one event are different records
    return [replace(r, fingerprint=hashlib.sha256(f"{r.fingerprint}:{i}".encode()).hexdigest())
            if isinstance(r, InvalidRecord) else r for i, r in enumerate(out)]


def _text(value: str | bytes | bytearray) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value


def _records(event: Any, delivery_id: str | None, wrapping: int) -> Iterator[Record]:
    if wrapping > MAX_WRAPPING:
        yield _invalid(f"envelopes nested more than {MAX_WRAPPING} deep", event, delivery_id)
        return
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
            try:
                yield from _record(record, delivery_id, wrapping)
            except Exception as exc:  # noqa: BLE001 - one record never takes its batch down
                message_id = record.get("messageId") if isinstance(record, dict) else None
                yield _invalid(f"record could not be read ({type(exc).__name__})", record,
                               message_id if isinstance(message_id, str) else delivery_id)
        return
    if event.get("detail-type") == "Object Created" or (
        isinstance(event.get("detail"), dict) and event.get("source") == "aws.s3"
    ):
        yield _eventbridge(event, delivery_id)
        return
    if event.get("Type") == "Notification" and "Message" in event:  # SNS envelope in SQS
        yield from _json_body(event["Message"], delivery_id, wrapping + 1)
        return
    if "events" in event and isinstance(event["events"], list):  # EventGrid batch
        for item in event["events"]:
            yield from _records(item, delivery_id, wrapping + 1)
        return
    source = event.get("source")
    if isinstance(source, str) and source.startswith("HC.OBS") and "specversion" in event:
        yield from _traced([_eventgrid(event, delivery_id)], tracing.from_cloudevent(event))
        return
    yield _invalid("unrecognised event shape", event, delivery_id)


def _record(record: Any, delivery_id: str | None, wrapping: int) -> Iterator[Record]:
    if not isinstance(record, dict):
        yield _invalid("record is not a JSON object", record, delivery_id)
        return
    source = record.get("eventSource") or record.get("EventSource") or ""
    if source == "aws:sqs":
        message_id = record.get("messageId")
        yield from _traced(_json_body(record.get("body"), message_id if isinstance(message_id, str)
                                      else delivery_id, wrapping + 1),
                           tracing.from_sqs_record(record))
        return
    if source == "aws:sns" or "Sns" in record:
        sns = record.get("Sns")
        message = sns.get("Message") if isinstance(sns, dict) else None
        yield from _json_body(message, delivery_id, wrapping + 1)
        return
    if "s3" in record or "obs" in record:
        event_name = record.get("eventName")
        if not is_creation(event_name):
            body = record.get("obs") if "obs" in record and "s3" not in record else record.get("s3")
            bucket, key = _bucket_and_key(body)
            yield _ignored(event_name, bucket, key, delivery_id, url_encoded=True)
            return
        yield _notification(record, delivery_id)
        return
    yield _invalid("unrecognised record shape", record, delivery_id)


def _traced(records: Iterable[Record], trace: tracing.TraceContext | None) -> Iterator[Record]:
    """The records of one delivery unit, with the trace that unit carried; without one, a
    record keeps what its own body carried (an EventGrid CloudEvent inside an SQS body)."""
    for record in records:
        yield record if trace is None else replace(record, trace=trace)


def _json_body(body: Any, delivery_id: str | None, wrapping: int) -> Iterator[Record]:
    if isinstance(body, dict):
        yield from _records(body, delivery_id, wrapping)
        return
    if not isinstance(body, str):
        yield _invalid("message body is missing", body, delivery_id)
        return
    try:
        inner = boundedjson.loads(body, MAX_BODY_CHARS)
    except boundedjson.JsonRejected as exc:
        yield _invalid(f"message body is not JSON: {exc.reason}", body, delivery_id)
        return
    yield from _records(inner, delivery_id, wrapping)


def _bucket_and_key(body: Any) -> tuple[Any, Any]:
    """``{"bucket": {"name"}, "object": {"key"}}`` as S3, OBS and EventBridge nest them."""
    if not isinstance(body, dict):
        return None, None
    bucket, obj = body.get("bucket"), body.get("object")
    return (bucket.get("name") if isinstance(bucket, dict) else None,
            obj.get("key") if isinstance(obj, dict) else None)


def _str_or_none(value: Any, name: str = "a field") -> str | None:
    if value is None or value == "" or value == "null":
        return None
    if isinstance(value, (dict, list)):
        raise TypeError(f"{name} is not a string")
    return _name(str(value), name)


def _name(value: Any, name: str, limit: int | None = MAX_FIELD_CHARS) -> str:
    """A text field that goes into messages: a string, valid Unicode, of a bounded length
    (keys are bounded by the key check, which has its own code)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{name} is longer than {MAX_FIELD_CHARS} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not valid Unicode (a lone surrogate)") from None
    return value


def _size(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("size is not a number")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError("size is not a whole number")
    elif isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > boundedjson.MAX_INT_DIGITS:
            raise ValueError("size is not a whole number")
    elif not isinstance(value, int):
        raise ValueError("size is not a number")
    size = int(value)
    if size < 0:
        raise ValueError("size is negative")
    if size.bit_length() > 63:
        raise ValueError("size is out of range")
    return size


def _etag(value: Any) -> str | None:
    text = _str_or_none(value, "the ETag")
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
            bucket=_name(bucket, "the bucket name"),
            key=_name(decode_key(_name(raw_key, "the key", None), url_encoded=True), "the key", None),
            version_id=_str_or_none(obj.get("versionId"), "versionId"),
            etag=_etag(obj.get("eTag") or obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(record.get("awsRegion") or record.get("eventRegion"), "the region"),
            event_time=_str_or_none(record.get("eventTime"), "eventTime"),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid(f"notification record is incomplete: {_describe(exc)}",
                              record, delivery_id)


def _eventbridge(event: dict[str, Any], delivery_id: str | None) -> Record:
    detail_type = event.get("detail-type")
    if not is_creation(detail_type):
        bucket, key = _bucket_and_key(event.get("detail"))
        return _ignored(detail_type, bucket, key, delivery_id, url_encoded=False)
    try:
        detail = event["detail"]
        obj = detail["object"]
        bucket = detail["bucket"]["name"]
        key = obj["key"]
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str):
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=_name(bucket, "the bucket name"),
            key=_name(decode_key(key, url_encoded=False), "the key", None),
            version_id=_str_or_none(obj.get("version-id"), "version-id"),
            etag=_etag(obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(event.get("region"), "the region"),
            event_time=_str_or_none(event.get("time"), "time"),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid(f"EventBridge event is incomplete: {_describe(exc)}",
                              event, delivery_id)


def _eventgrid(event: dict[str, Any], delivery_id: str | None) -> Record:
    """EventGrid CloudEvent from OBS: the bucket and object are in ``data``; ``subject``
    names the object. Keys inside ``data.obs`` are notification-encoded; ``subject`` is not."""
    if not is_creation(event.get("type")):
        data = event.get("data")
        obs = data.get("obs") if isinstance(data, dict) else None
        bucket, key = _bucket_and_key(obs)
        return _ignored(event.get("type"), bucket, key if key is not None else event.get("subject"),
                        delivery_id, url_encoded=key is not None)
    try:
        data = event.get("data") or {}
        if isinstance(data, str):
            data = boundedjson.loads(data, MAX_BODY_CHARS)
        obs = data.get("obs") or data.get("s3") or data
        bucket = (obs.get("bucket") or {}).get("name") or data.get("bucketName")
        obj = obs.get("object") or {}
        if isinstance(obj.get("key"), str):
            key = decode_key(_name(obj["key"], "the key", None), url_encoded=True)
        else:
            key = decode_key(_name(event["subject"], "subject", None), url_encoded=False)
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=_name(bucket, "the bucket name"),
            key=key,
            version_id=_str_or_none(obj.get("versionId"), "versionId"),
            etag=_etag(obj.get("eTag") or obj.get("etag")),
            size=_size(obj.get("size")),
            region=_str_or_none(data.get("eventRegion") or event.get("region"), "the region"),
            event_time=_str_or_none(event.get("time"), "time"),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _invalid(f"EventGrid event is incomplete: {_describe(exc)}",
                              event, delivery_id)


def is_s3_batch_invocation(event: Any) -> bool:
    """An S3 Batch Operations invocation (answered per task, :mod:`ocrflow.flow.batchops`)."""
    return (isinstance(event, dict) and isinstance(event.get("invocationSchemaVersion"), str)
            and isinstance(event.get("invocationId"), str) and isinstance(event.get("tasks"), list))


def s3_batch_task(task: Any, schema_version: str, delivery_id: str | None) -> Record:
    """One task of an S3 Batch Operations invocation: schema 1.0 names the bucket by ARN
    (``s3BucketArn``), 2.0 by name (``s3Bucket``) with the key URL-encoded; ``s3VersionId``
    names the version, ``null`` the current one. Every task creates nothing: it asks for an
    object already in the bucket to be recognized, as an upload would have."""
    try:
        if not isinstance(task, dict):
            raise TypeError("the task is not a JSON object")
        bucket = task.get("s3Bucket")
        if bucket is None and isinstance(task.get("s3BucketArn"), str):
            # arn:aws:s3:::bucket (the guide's examples also show region and account in it)
            bucket = task["s3BucketArn"].rsplit(":", 1)[-1]
        key = task["s3Key"]
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str):
            raise TypeError("bucket name and object key must be strings")
        return ObjectRef(
            bucket=_name(bucket, "the bucket name"),
            key=_name(decode_key(_name(key, "the key", None), url_encoded=schema_version != "1.0"),
                      "the key", None),
            version_id=_str_or_none(task.get("s3VersionId"), "s3VersionId"),
            delivery_id=delivery_id,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid(f"S3 Batch Operations task is incomplete: {_describe(exc)}", task,
                        delivery_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {excerpt(exc.args[0])[:80]!r}"
    return excerpt(str(exc))[:200]


def delivery_ids(event: Any) -> list[str]:
    """The SQS message ids of a batch event (for reporting partial batch failures), also of
    one given as JSON text (``ocrflow invoke`` reads the event from a file)."""
    if isinstance(event, (str, bytes, bytearray)):
        try:
            event = boundedjson.loads(event, MAX_EVENT_CHARS)
        except boundedjson.JsonRejected:
            return []
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return [r["messageId"] for r in event["Records"]
                if isinstance(r, dict) and r.get("eventSource") == "aws:sqs"
                and isinstance(r.get("messageId"), str)]
    return []
