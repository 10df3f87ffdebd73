"""The message contract: CloudEvents 1.0, structured JSON.

``ocr.result.v1`` carries the provider's result verbatim (or, when too large for the queue,
``result_ref`` naming where it was stored); ``ocr.failure.v1`` carries ``error``. The JSON
Schemas ship in ``ocrflow/data/schemas/``.

The typed messages (:class:`ResultMessage`, :class:`FailureMessage`) are what the flow builds
and delivers; each knows its destination queue.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from ..core.errors import Failure
from ..core.models import ObjectRef, OutgoingMessage
from ..core.tracing import TraceContext, new_trace
from ..provider.confidence import Confidence
from ..provider.usage import Usage

#: The CloudEvents extension attribute (and message attribute / header) of a result to review.
REVIEW_ATTRIBUTE = "ocrreview"
RESULT_TYPE = "ocr.result.v1"
FAILURE_TYPE = "ocr.failure.v1"
SCHEMA_FILES = {RESULT_TYPE: "ocr.result.v1.json", FAILURE_TYPE: "ocr.failure.v1.json"}


#: Where a claim check is stored without CLAIM_CHECK_URL: this prefix in the upload's bucket.
CLAIM_CHECK_PREFIX = "ocrflow-results/"


def claim_check_location(claim_check_url: str | None, upload_bucket: str) -> tuple[str, str]:
    """(bucket, key prefix) where a claim-checked result is written — by the producer, and the
    only place a consumer follows a reference to. The object is ``PREFIX + message id +
    '.json'``."""
    if claim_check_url:
        parts = urlsplit(claim_check_url)
        prefix = parts.path.lstrip("/")
        return parts.netloc, (prefix if not prefix or prefix.endswith("/") else prefix + "/")
    return upload_bucket, CLAIM_CHECK_PREFIX


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Destination = Literal["result", "failure"]


@dataclass(frozen=True, kw_only=True)
class Message:
    """One record's message, decided before it is delivered: a :class:`ResultMessage` or a
    :class:`FailureMessage`, each knowing its queue (``destination``) and CloudEvent type.

    To carry a new field in ``data``, give the class that carries it an optional attribute
    (``None`` by default) and add it in that class's ``_payload``: a ``None`` is left out of
    the event, so messages without it keep their exact shape. A new CloudEvents attribute
    (an extension such as ``traceparent``) goes on this base class and in :meth:`event`.
    """

    destination: ClassVar[Destination]
    type: ClassVar[str]

    function: str
    ref: ObjectRef | None
    api: str | None = None
    region: str | None = None
    request_id: str | None = None
    attempts: int = 0
    duration_ms: int = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=_now)
    #: The upload's trace (CloudEvents distributed-tracing extension); the flow sets the
    #: record's, a message built elsewhere starts a trace of its own.
    trace: TraceContext = field(default_factory=new_trace)
    #: Calls that got no answer and may still have been billed. Bookkeeping for the
    #: invocation's figures, not part of the event.
    billed_unknown: int = field(default=0, compare=False)
    #: What the upload cost, every delivery of it included (``data.usage``, on every message).
    usage: Usage = Usage()

    def _payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "object": self.ref.as_message_object() if self.ref else None,
            "api": self.api,
            "ocr_region": self.region,
            "request_id": self.request_id,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "usage": self.usage.as_dict(),
        }
        data.update(self._payload())
        return data

    def _extensions(self) -> dict[str, Any]:
        """CloudEvents extension attributes of this kind of message, beside the trace's."""
        return {}

    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": f"ocrflow/{self.function}",
            "type": self.type,
        }
        if self.ref is not None and self.ref.key:
            # CloudEvents: a subject, when present, is a non-empty string
            event["subject"] = self.ref.key
        event.update(time=self.time, datacontenttype="application/json", **self.trace.headers(),
                     **self._extensions(), data=self.data())
        return event

    def body(self) -> bytes:
        return serialise(self.event())


@dataclass(frozen=True, kw_only=True)
class ResultMessage(Message):
    """``ocr.result.v1``: the provider's result verbatim, or ``result_ref`` naming where a
    result too large for its queue was stored (claim check)."""

    destination: ClassVar[Destination] = "result"
    type: ClassVar[str] = RESULT_TYPE

    result: Any = None
    result_ref: dict[str, Any] | None = None
    #: A multi-page document: ``[{"page": 1, "result": {…}, "request_id": …}, …]`` in page
    #: order, instead of ``result``; ``pages_total`` beside it.
    pages: list[dict[str, Any]] | None = None
    pages_total: int | None = None
    #: What was sent when ocrflow changed the file: {"format", "width", "height", "scale"}.
    input: dict[str, Any] | None = None
    #: Text APIs: the recognized lines in reading order (:func:`ocrflow.provider.text.text_of`); for a
    #: document, the whole document's (each page's is in its entry of ``pages``).
    text: str | None = None
    #: The provider's confidences over the recognized words or fields (:mod:`ocrflow.provider.confidence`);
    #: None when its answer has none. For a document, the whole document's.
    confidence: Confidence | None = None
    #: Below ``OCR_REVIEW_BELOW``: the event carries the extension attribute ``ocrreview``.
    review: bool = False

    def _payload(self) -> dict[str, Any]:
        payload: dict[str, Any]
        if self.result_ref is not None:
            payload = {"result_ref": self.result_ref}
        elif self.pages is not None:
            payload = {"pages": self.pages}
        else:
            payload = {"result": self.result}
        if self.text is not None:
            payload["text"] = self.text
        if self.confidence is not None:
            payload["confidence"] = self.confidence.as_dict()
        return _with_document(payload, self.pages_total, self.input)

    def _extensions(self) -> dict[str, Any]:
        return {REVIEW_ATTRIBUTE: True} if self.review else {}

    @property
    def first_result(self) -> Any:
        """The result, or the first page's (for summaries)."""
        if self.pages is not None:
            return self.pages[0].get("result") if self.pages else None
        return self.result

    def stored_bytes(self) -> bytes:
        """The result (a document's pages) as it is stored for a claim check."""
        stored = self.result if self.pages is None else self.pages
        return json.dumps(stored, ensure_ascii=False).encode("utf-8")

    def stored_at(self, result_ref: dict[str, Any]) -> ResultMessage:
        """The same message (same id) naming the stored result instead of carrying it."""
        return replace(self, result=None, pages=None, result_ref=result_ref)


@dataclass(frozen=True, kw_only=True)
class FailureMessage(Message):
    """``ocr.failure.v1``: always for the failure queue, whatever step decided it."""

    destination: ClassVar[Destination] = "failure"
    type: ClassVar[str] = FAILURE_TYPE

    error: Failure
    #: A bounded excerpt of an event that could not be parsed (no object to name).
    event_excerpt: str | None = None
    #: A multi-page document that failed on ``failed_page``: the pages answered before it
    #: (``pages``, in page order; kept, and not paid again by a redrive) and ``pages_total``.
    failed_page: int | None = None
    pages: list[dict[str, Any]] | None = None
    pages_total: int | None = None
    input: dict[str, Any] | None = None
    #: where the answered pages were stored when the message was too large for its queue
    result_ref: dict[str, Any] | None = None

    def _payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"error": self.error.as_dict()}
        if self.event_excerpt is not None:
            payload["event_excerpt"] = self.event_excerpt
        if self.failed_page is not None:
            payload["failed_page"] = self.failed_page
        if self.result_ref is not None:
            payload["result_ref"] = self.result_ref
        elif self.pages is not None:
            payload["pages"] = self.pages
        return _with_document(payload, self.pages_total, self.input)

    def stored_bytes(self) -> bytes:
        """The answered pages as they are stored for a claim check."""
        return json.dumps(self.pages or [], ensure_ascii=False).encode("utf-8")

    def stored_at(self, result_ref: dict[str, Any]) -> FailureMessage:
        return replace(self, pages=None, result_ref=result_ref)


def _with_document(payload: dict[str, Any], pages_total: int | None,
                   sent: dict[str, Any] | None) -> dict[str, Any]:
    if pages_total is not None:
        payload["pages_total"] = pages_total
    if sent is not None:
        payload["input"] = sent
    return payload


def serialise(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def outgoing(event: dict[str, Any], body: bytes | None = None) -> OutgoingMessage:
    data = event["data"]
    attributes = {"type": event["type"]}
    if data.get("api"):
        attributes["api"] = data["api"]
    if data.get("ocr_region"):
        attributes["region"] = data["ocr_region"]
    if "error" in data:
        attributes["error_code"] = data["error"]["code"]
    if event.get(REVIEW_ATTRIBUTE) is True:
        attributes[REVIEW_ATTRIBUTE] = "true"
    for name in ("traceparent", "tracestate"):  # W3C names, as tracing instrumentations read them
        if event.get(name):
            attributes[name] = event[name]
    return OutgoingMessage(id=event["id"], type=event["type"],
                           body=body if body is not None else serialise(event),
                           key=event.get("subject", ""), attributes=attributes)


def schema(kind: str) -> dict[str, Any]:
    text = (Path(__file__).parents[1] / "data" / "schemas" / SCHEMA_FILES[kind]).read_text("utf-8")
    return json.loads(text)
