"""Reading ocrflow's messages downstream: parse, resolve claim checks, process each once.

* :func:`parse_message` takes a message as any of the queues deliver it — an SQS message
  (``boto3`` ``receive_message`` entry or a Lambda SQS event record), an AMQP body, a Redis
  Streams entry's fields (the CloudEvent is in ``event``), a Kafka record (its value), or the
  CloudEvent JSON itself — and returns a typed :class:`OcrResult` or :class:`OcrFailure`.
* :func:`result_of` gives a result's provider answer: inline, or fetched from where a claim
  check stored it (``s3://``, ``obs://``, ``file://``) with its size and sha256 checked.
* :class:`ConsumerGuard` runs a handler once per CloudEvent (delivery is at least once: the
  same event can arrive twice), on any idempotency store ocrflow itself uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import OcrflowError
from .idempotency.policy import IdempotencyStore
from .messages import FAILURE_TYPE, RESULT_TYPE
from .ports import ClaimState, ObjectStore
from .text import document_text, text_of

T = TypeVar("T")


class MessageError(OcrflowError):
    """A message that is not an ocrflow CloudEvent (not JSON, unknown type, missing fields)."""


class ResultRefError(OcrflowError):
    """A claim-checked result that cannot be fetched, or whose bytes are not the ones named."""


# --- the message models (CloudEvents 1.0 attributes + ocrflow's data) -------------------------
class _Model(BaseModel):
    # newer producers may add fields; a consumer must not break on them
    model_config = ConfigDict(extra="allow", frozen=True)


class ObjectInfo(_Model):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None


class ResultRef(_Model):
    url: str
    bytes: int
    sha256: str


class ErrorInfo(_Model):
    code: str
    message: str
    http_status: int | None = None
    source: str
    retryable: bool


class Usage(_Model):
    """What the upload cost: units billed by the provider, calls that reached it."""

    billed_units: int = 0
    calls: int = 0


class Confidence(_Model):
    """The provider's confidences over the recognised words or fields."""

    min: float
    mean: float
    count: int = 0


class Page(_Model):
    page: int
    result: Any = None
    request_id: str | None = None
    text: str | None = None
    #: None on messages published before ocrflow reported usage
    usage: Usage | None = None
    confidence: Confidence | None = None


class _Data(_Model):
    object: ObjectInfo | None = None
    api: str | None = None
    ocr_region: str | None = None
    request_id: str | None = None
    attempts: int = 0
    duration_ms: int = 0
    #: None on messages published before ocrflow reported usage
    usage: Usage | None = None


class ResultData(_Data):
    result: Any = None
    result_ref: ResultRef | None = None
    text: str | None = None
    #: None when the provider's answer carries no confidences
    confidence: Confidence | None = None
    pages: list[Page] | None = None
    pages_total: int | None = None


class FailureData(_Data):
    error: ErrorInfo
    event_excerpt: str | None = None


class _Event(_Model):
    specversion: Literal["1.0"]
    id: str
    source: str
    subject: str | None = None
    time: str
    datacontenttype: str = "application/json"
    traceparent: str | None = None
    tracestate: str | None = None


class OcrResult(_Event):
    type: Literal["ocr.result.v1"]
    data: ResultData
    #: the CloudEvents extension attribute set on a result below OCR_REVIEW_BELOW
    ocrreview: bool | None = None

    @property
    def needs_review(self) -> bool:
        """The result's confidence was below ``OCR_REVIEW_BELOW``: a person should look."""
        return self.ocrreview is True


class OcrFailure(_Event):
    type: Literal["ocr.failure.v1"]
    data: FailureData

    @property
    def needs_review(self) -> bool:
        """Failures are never marked for review (they are on the failure queue)."""
        return False


Message = Annotated[OcrResult | OcrFailure, Field(discriminator="type")]
_MESSAGE: TypeAdapter[OcrResult | OcrFailure] = TypeAdapter(Message)


# --- parsing ------------------------------------------------------------------------------------
def parse(event: bytes | str | Mapping[str, Any]) -> OcrResult | OcrFailure:
    """A structured CloudEvent (JSON text or decoded) → its typed model."""
    if isinstance(event, (bytes, bytearray, memoryview)):
        try:
            event = bytes(event).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageError(f"message body is not UTF-8: {exc.reason}") from None
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            raise MessageError(f"message body is not JSON: {exc.msg}") from None
    if not isinstance(event, Mapping):
        raise MessageError("message body is not a JSON object")
    kind = event.get("type")
    if kind not in (RESULT_TYPE, FAILURE_TYPE):
        raise MessageError(f"not an ocrflow message: type {kind!r}")
    try:
        return _MESSAGE.validate_python(dict(event))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "event"
        raise MessageError(f"{kind} message is invalid at {where}: {first['msg']}") from None


def body_of(message: Any) -> Any:
    """The CloudEvent inside a message as a queue client hands it over."""
    if isinstance(message, (bytes, bytearray, memoryview, str)):
        return message
    if isinstance(message, Mapping):
        if message.get("eventSource") == "aws:sqs" and "body" in message:  # Lambda SQS record
            return message["body"]
        if "Body" in message and "MessageId" in message:  # boto3 receive_message entry
            return message["Body"]
        for key in ("event", b"event"):  # Redis Streams entry fields
            if key in message:
                return message[key]
        if "specversion" in message:
            return message
        raise MessageError("unrecognised message: expected an SQS message, a Redis Streams "
                           "entry (field 'event') or a CloudEvent")
    value = getattr(message, "value", None)  # confluent-kafka Message.value(), kafka-python .value
    if callable(value):
        value = value()
    if isinstance(value, (bytes, str)):
        return value
    raise MessageError(f"unrecognised message of type {type(message).__name__}")


def parse_message(message: Any) -> OcrResult | OcrFailure:
    """Any of the queues' framings → the typed message (see the module docstring)."""
    return parse(body_of(message))


def parse_sqs_event(event: Mapping[str, Any]) -> list[tuple[str, OcrResult | OcrFailure]]:
    """A Lambda event from an SQS event source mapping → ``(messageId, message)`` pairs."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise MessageError("not an SQS event: no Records")
    return [(str(r.get("messageId")), parse_message(r)) for r in records]


# --- claim checks -------------------------------------------------------------------------------
def fetch_ref(ref: ResultRef, store: ObjectStore | str | None = None) -> bytes:
    """The bytes a ``result_ref`` names, checked against its size and sha256.

    ``store``: the object store to read ``s3://`` / ``obs://`` references through — an
    :class:`~ocrflow.ports.ObjectStore`, or its URL as ``OBJECT_STORE_URL`` takes it (OBS:
    ``obs://?region=REGION`` or ``obs://?endpoint=…``); by default the reference's own
    scheme with the usual configuration. ``file://`` references are read from the path
    they name."""
    parts = urlsplit(ref.url)
    if parts.scheme == "file":
        try:
            data = Path(unquote(parts.path)).read_bytes()
        except OSError as exc:
            raise ResultRefError(f"cannot read {ref.url}: {exc.strerror}") from None
    elif parts.scheme in ("s3", "obs") and parts.netloc:
        data = _read_bucket(store, parts.scheme, parts.netloc, unquote(parts.path.lstrip("/")))
    else:
        raise ResultRefError(f"unsupported result_ref URL {ref.url!r}: expected s3://, obs:// or file://")
    if len(data) != ref.bytes or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ResultRefError(f"{ref.url} is not the stored result: expected {ref.bytes} bytes with "
                             f"sha256 {ref.sha256}, got {len(data)} bytes")
    return data


def _read_bucket(store: ObjectStore | str | None, scheme: str, bucket: str, key: str) -> bytes:
    from .errors import ObjectStoreError
    from .registry import open_object_store

    opened = store if isinstance(store, ObjectStore) else open_object_store(store or f"{scheme}://")
    try:
        return opened.get(bucket, key)
    except ObjectStoreError as exc:
        raise ResultRefError(f"cannot fetch {scheme}://{bucket}/{key}: {exc}") from None
    finally:
        if opened is not store:
            opened.close()


def result_of(message: OcrResult, store: ObjectStore | str | None = None) -> Any:
    """The provider's result: inline, or fetched and checked when it was claim-checked. For a
    multi-page document, its pages (``[{"page": 1, "result": {…}, …}, …]``)."""
    ref = message.data.result_ref
    if ref is None:
        if message.data.pages is not None:
            return [page.model_dump() for page in message.data.pages]
        return message.data.result
    try:
        return json.loads(fetch_ref(ref, store))
    except json.JSONDecodeError as exc:
        raise ResultRefError(f"{ref.url} is not JSON: {exc.msg}") from None


def text(message: OcrResult, store: ObjectStore | str | None = None) -> str | None:
    """The recognised text: ``data.text``, or, when a claim check left it out of a message
    too large for its queue, computed from the stored result (None for non-text APIs)."""
    if message.data.text is not None or message.data.result_ref is None:
        return message.data.text
    stored = result_of(message, store)
    if message.data.pages_total is not None and isinstance(stored, list):
        return document_text(message.data.api, [p.get("result") for p in stored if isinstance(p, dict)])[1]
    return text_of(message.data.api, stored)


def resolved(event: Mapping[str, Any], store: ObjectStore | str | None = None) -> dict[str, Any]:
    """The CloudEvent with a claim-checked ``data.result`` (a document's ``data.pages``) put
    back inline (``result_ref`` kept beside it, so the reader sees where it came from)."""
    message = parse(event)
    out = dict(event)
    if isinstance(message, OcrResult) and message.data.result_ref is not None:
        # a document's stored object is its pages
        field = "pages" if message.data.pages_total is not None else "result"
        out["data"] = {**event["data"], field: result_of(message, store)}
    return out


# --- processing each event once ------------------------------------------------------------------
class ConsumerGuard:
    """Runs a handler at most once per CloudEvent (``source`` + ``id``, which identify an
    event), on an idempotency store (``sqlite:///…``, ``redis://…``, ``dynamodb://…``).

    A handler that raises leaves the event unprocessed, so its redelivery runs it again;
    one still running elsewhere (within ``lease_s``) is not run twice at once."""

    def __init__(self, store: IdempotencyStore | str, *, namespace: str = "consumer",
                 lease_s: float = 300.0) -> None:
        if isinstance(store, str):
            from .registry import open_idempotency_store

            store = open_idempotency_store(store, "store")
        self.store, self.namespace, self.lease_s = store, namespace, lease_s

    def key(self, message: OcrResult | OcrFailure) -> str:
        identity = json.dumps([self.namespace, message.source, message.id], ensure_ascii=False)
        return "ce:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()

    @contextmanager
    def claim(self, message: OcrResult | OcrFailure) -> Iterator[bool]:
        """``with guard.claim(m) as fresh:`` — ``fresh`` is False for an event already
        processed (or being processed); the body's success marks it processed."""
        key = self.key(message)
        claim = self.store.claim(key, self.lease_s)
        if claim.state is not ClaimState.CLAIMED:
            yield False
            return
        try:
            yield True
        except BaseException:
            self.store.release(key)
            raise
        self.store.complete(key)

    def once(self, message: OcrResult | OcrFailure,
             handler: Callable[[OcrResult | OcrFailure], T]) -> tuple[bool, T | None]:
        """``(ran, handler's answer)``; ``(False, None)`` for a duplicate."""
        with self.claim(message) as fresh:
            if not fresh:
                return False, None
            return True, handler(message)

    def close(self) -> None:
        self.store.close()
