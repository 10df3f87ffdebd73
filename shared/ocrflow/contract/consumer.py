"""Reading ocrflow's messages downstream: parse, resolve claim checks, process each once.

* :func:`parse_message` takes a message as any of the queues deliver it — an SQS message
  (``boto3`` ``receive_message`` entry or a Lambda SQS event record), an AMQP body, a Redis
  Streams entry's fields (the CloudEvent is in ``event``), a Kafka record (its value), or the
  CloudEvent JSON itself — and returns a typed :class:`OcrResult` or :class:`OcrFailure`.
* :func:`result_of` gives a result's provider answer: inline, or fetched from where a claim
  check stored it (``s3://``, ``obs://``, ``file://``) with its size and sha256 checked.

Whoever can write to the queue can write any message, so the message is not trusted: every
way a body can fail to be an ocrflow message is a :class:`MessageError` (bounded size, depth
and number forms, as the function's own event parsing), and a claim-check reference is
followed only to the object ocrflow writes for that message — ``PREFIX/ID.json`` at the
claim-check location (``CLAIM_CHECK_URL``, else ``ocrflow-results/`` in the upload's bucket)
— through the caller's store, no further than the size it declares, within a timeout. A
refusal is a :class:`ResultRefError` that names the reference and nothing of what was read.
* :class:`ConsumerGuard` runs a handler once per CloudEvent (delivery is at least once: the
  same event can arrive twice), on any idempotency store ocrflow itself uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..adapters.idempotency import ClaimState
from ..adapters.idempotency.policy import IdempotencyStore
from ..adapters.stores import ObjectStore
from ..core import boundedjson
from ..core.errors import (
    BucketInvalid,
    KeyInvalid,
    ObjectNotFound,
    ObjectStoreError,
    ObjectTooLarge,
    OcrflowError,
)
from ..provider.text import document_text, text_of
from .messages import FAILURE_TYPE, RESULT_TYPE, claim_check_location

#: The longest message body parsed: above every queue's own limit (RabbitMQ's default
#: 128 MiB aside, which no ocrflow message comes near), and a bound on a consumer's memory.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: The largest claim-checked result fetched unless the caller allows more: a 1,000-page
#: document's answers fit in it many times over.
MAX_RESULT_BYTES = 256 * 1024 * 1024
#: A claim check that has not been read by then is given up.
FETCH_TIMEOUT_S = 60.0

T = TypeVar("T")


class MessageError(OcrflowError):
    """A message that is not an ocrflow CloudEvent (not JSON, unknown type, missing fields)."""


class ResultRefError(OcrflowError):
    """A claim-checked result that cannot be fetched, or whose bytes are not the ones named."""


# --- the message models (CloudEvents 1.0 attributes + ocrflow's data) -------------------------
class _Model(BaseModel):
    # newer producers may add fields; a consumer must not break on them
    model_config = ConfigDict(extra="allow", frozen=True)


class MessageObject(_Model):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None


class ResultRef(_Model):
    url: str = Field(max_length=4096)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ErrorInfo(_Model):
    code: str
    message: str
    http_status: int | None = None
    source: str
    retryable: bool
    #: when a retry is advised (UTC, RFC 3339), for codes whose provider names a wait
    retry_after: str | None = None


class Usage(_Model):
    """What the upload cost: units billed by the provider, calls that reached it."""

    billed_units: int = 0
    calls: int = 0


class Confidence(_Model):
    """The provider's confidences over the recognized words or fields."""

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
    object: MessageObject | None = None
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
    """A structured CloudEvent (JSON text or decoded) → its typed model; anything else is a
    :class:`MessageError`."""
    if isinstance(event, (bytes, bytearray, memoryview, str)):
        text = bytes(event) if not isinstance(event, str) else event
        try:
            event = boundedjson.loads(text, MAX_MESSAGE_BYTES)
        except boundedjson.JsonRejected as exc:
            problem = exc.reason if exc.reason.startswith("not ") else f"not JSON within bounds: {exc.reason}"
            raise MessageError(f"message body is {problem}") from None
    if not isinstance(event, Mapping):
        raise MessageError("message body is not a JSON object")
    try:
        kind = event.get("type")
        fields = dict(event)
    except Exception as exc:  # noqa: BLE001 - a caller's mapping that cannot be read
        raise MessageError(f"message cannot be read ({type(exc).__name__})") from None
    if kind not in (RESULT_TYPE, FAILURE_TYPE):
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 80 else type(kind).__name__
        raise MessageError(f"not an ocrflow message: type {shown}")
    try:
        return _MESSAGE.validate_python(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "event"
        raise MessageError(f"{kind} message is invalid at {where[:200]}: {first['msg'][:200]}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. a structure nested past the recursion limit
        raise MessageError(f"{kind} message cannot be read ({type(exc).__name__})") from None


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
    """Any of the queues' framings → the typed message (see the module docstring); whatever
    the message holds, a failure to read it is a :class:`MessageError`."""
    try:
        body = body_of(message)
    except MessageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a framing object whose accessors raise
        raise MessageError(f"unrecognised message ({type(exc).__name__})") from None
    return parse(body)


def parse_sqs_event(event: Mapping[str, Any]) -> list[tuple[str, OcrResult | OcrFailure | MessageError]]:
    """A Lambda event from an SQS event source mapping → one ``(messageId, message)`` pair per
    record, in order; a record that is not an ocrflow message gives its
    :class:`MessageError` instead, so the caller reports it as a batch item failure and
    handles the others."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise MessageError("not an SQS event: no Records")
    pairs: list[tuple[str, OcrResult | OcrFailure | MessageError]] = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, Mapping) else None
        message_id = message_id if isinstance(message_id, str) else ""
        try:
            pairs.append((message_id, parse_message(record)))
        except MessageError as exc:
            pairs.append((message_id, exc))
    return pairs


# --- claim checks -------------------------------------------------------------------------------
def fetch_ref(message: OcrResult, store: ObjectStore | str | None = None, *,
              claim_check_url: str | None = None, max_bytes: int = MAX_RESULT_BYTES,
              timeout_s: float = FETCH_TIMEOUT_S) -> bytes:
    """The bytes a result's ``result_ref`` names, checked against its size and sha256.

    The reference is followed only to the object ocrflow writes for this message:
    ``PREFIX + id + '.json'`` in the claim-check location (``claim_check_url``, by default
    ``CLAIM_CHECK_URL``; without one, ``ocrflow-results/`` in the upload's bucket), read
    through ``store`` — an :class:`~ocrflow.adapters.stores.ObjectStore` or its URL as
    ``OBJECT_STORE_URL`` takes it (OBS: ``obs://?region=REGION`` or ``obs://?endpoint=…``).
    Without a store, an ``s3://`` / ``obs://`` reference is read through that scheme's store
    with the usual configuration, and a ``file://`` one through ``OBJECT_STORE_URL``'s folder
    (no folder store, no read). At most the declared size plus one byte is read (and never a
    declared size above ``max_bytes``), within ``timeout_s``."""
    ref = message.data.result_ref
    if ref is None:
        raise ResultRefError(f"message {message.id!r} has no result_ref")
    url = ref.url
    shown = url if url.isprintable() else url.encode("unicode_escape").decode("ascii")
    if ref.bytes > max_bytes:
        raise ResultRefError(f"{shown} declares more bytes than this consumer reads (max_bytes)")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in ("s3", "obs", "file"):
        raise ResultRefError(f"unsupported result_ref URL {shown!r}: expected s3://, obs:// or file://")
    upload = message.data.object.bucket if message.data.object is not None else ""
    location = claim_check_url if claim_check_url is not None else os.environ.get("CLAIM_CHECK_URL")
    bucket, prefix = claim_check_location(location, upload)
    key = f"{prefix}{message.id}.json"
    if not bucket or "/" in message.id or message.id in (".", ".."):
        raise ResultRefError(f"{shown} is not where ocrflow writes claim checks")
    opened = _store_for(scheme, store, shown)
    try:
        if scheme == "file":
            _check_file_ref(url, shown, opened, bucket, key)
        elif url != f"{scheme}://{bucket}/{key}":
            raise ResultRefError(f"{shown} is not where ocrflow writes claim checks "
                                 f"({scheme}://{bucket}/{prefix}ID.json)")
        data = _read_within(timeout_s, shown, lambda: opened.get(bucket, key, max_bytes=ref.bytes))
    finally:
        if opened is not store:
            opened.close()
    if len(data) != ref.bytes or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ResultRefError(f"{shown} is not the stored result: its size or sha256 differ from "
                             "the reference")
    return data


def _store_for(scheme: str, store: ObjectStore | str | None, shown: str) -> ObjectStore:
    from ..adapters.registry import open_object_store
    from ..adapters.stores.file import FileStore

    if store is None:
        configured = os.environ.get("OBJECT_STORE_URL", "")
        if scheme == "file" and not configured.startswith("file:"):
            raise ResultRefError(f"{shown}: a file:// reference is read only through a folder "
                                 "store: pass store='file:///ROOT' or set OBJECT_STORE_URL")
        store = configured if scheme == "file" else f"{scheme}://"
    opened = store if isinstance(store, ObjectStore) else open_object_store(store, "store")
    if (scheme == "file") != isinstance(opened, FileStore):
        if opened is not store:
            opened.close()
        raise ResultRefError(f"{shown}: a {scheme}:// reference is not read through this store")
    return opened


def _check_file_ref(url: str, shown: str, store: ObjectStore, bucket: str, key: str) -> None:
    """A ``file://`` reference names no host and is exactly the store's file for ``key``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise ResultRefError(f"{shown}: a file:// reference names no host")
    if parts.query or parts.fragment:
        raise ResultRefError(f"{shown}: a file:// reference has no query or fragment")
    from ..adapters.stores.file import FileStore

    assert isinstance(store, FileStore)  # _store_for chose it for a file:// reference
    root = store.root
    try:
        expected = (root / bucket).resolve() / key
    except (OSError, ValueError):
        raise ResultRefError(f"{shown} is not where ocrflow writes claim checks") from None
    if Path(unquote(parts.path)) != expected:
        raise ResultRefError(f"{shown} is not where ocrflow writes claim checks "
                             f"({expected.parent.as_uri()}/ID.json)")


def _read_within(timeout_s: float, shown: str, read: Callable[[], bytes]) -> bytes:
    """``read()`` on a worker thread, given up after ``timeout_s``. Store errors become
    refusals that say what went wrong but quote nothing the store said (a size, a path)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["data"] = read()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="ocrflow-claim-check", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ResultRefError(f"{shown} was not read within {timeout_s:g} s")
    error = box.get("error")
    if error is None:
        return bytes(box["data"])
    if isinstance(error, ObjectTooLarge):
        raise ResultRefError(f"{shown} holds more bytes than the reference declares")
    if isinstance(error, (KeyInvalid, BucketInvalid)):
        raise ResultRefError(f"{shown} is not an object the store can address")
    if isinstance(error, ObjectNotFound):
        raise ResultRefError(f"{shown} does not exist (or is not a regular file)")
    if isinstance(error, ObjectStoreError):
        raise ResultRefError(f"cannot fetch {shown}: the store refused or failed the read")
    raise ResultRefError(f"cannot fetch {shown} ({type(error).__name__})")


def result_of(message: OcrResult, store: ObjectStore | str | None = None, *,
              claim_check_url: str | None = None, max_bytes: int = MAX_RESULT_BYTES,
              timeout_s: float = FETCH_TIMEOUT_S) -> Any:
    """The provider's result: inline, or fetched and checked when it was claim-checked (see
    :func:`fetch_ref` for ``store`` and the rules a reference must meet). For a multi-page
    document, its pages (``[{"page": 1, "result": {…}, …}, …]``)."""
    ref = message.data.result_ref
    if ref is None:
        if message.data.pages is not None:
            return [page.model_dump() for page in message.data.pages]
        return message.data.result
    data = fetch_ref(message, store, claim_check_url=claim_check_url, max_bytes=max_bytes,
                     timeout_s=timeout_s)
    try:
        return boundedjson.loads(data, max(len(data), 1))
    except boundedjson.JsonRejected as exc:
        raise ResultRefError(f"{ref.url!r} is not JSON within bounds ({exc.reason[:80]})") from None


def text(message: OcrResult, store: ObjectStore | str | None = None, **fetch: Any) -> str | None:
    """The recognized text: ``data.text``, or, when a claim check left it out of a message
    too large for its queue, computed from the stored result (None for non-text APIs)."""
    if message.data.text is not None or message.data.result_ref is None:
        return message.data.text
    stored = result_of(message, store, **fetch)
    if message.data.pages_total is not None and isinstance(stored, list):
        return document_text(message.data.api, [p.get("result") for p in stored if isinstance(p, dict)])[1]
    return text_of(message.data.api, stored)


def resolved(event: Mapping[str, Any], store: ObjectStore | str | None = None,
             **fetch: Any) -> dict[str, Any]:
    """The CloudEvent with a claim-checked ``data.result`` (a document's ``data.pages``) put
    back inline (``result_ref`` kept beside it, so the reader sees where it came from)."""
    message = parse(event)
    out = dict(event)
    if isinstance(message, OcrResult) and message.data.result_ref is not None:
        # a document's stored object is its pages
        field = "pages" if message.data.pages_total is not None else "result"
        out["data"] = {**event["data"], field: result_of(message, store, **fetch)}
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
            from ..adapters.registry import open_idempotency_store

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
