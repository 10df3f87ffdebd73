"""Domain types shared by every part of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tracing import TraceContext


@dataclass(frozen=True)
class ObjectRef:
    """One uploaded object, as named by an event. ``key`` is always decoded."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    region: str | None = None
    event_time: str | None = None
    # Identifier of the delivery unit that carried this record (SQS messageId), used for
    # partial batch failures. Not part of the object's identity.
    delivery_id: str | None = field(default=None, compare=False)
    # Set when a failure is replayed: the id of the failure message. A replay is a new
    # attempt (its own idempotency record), replaying the same failure twice is not.
    redrive_of: str | None = field(default=None, compare=False)
    #: The trace the record arrived with (SQS AWSTraceHeader, W3C attributes, a CloudEvent's
    #: extension); None when the event carried none. Not part of the object's identity.
    trace: TraceContext | None = field(default=None, compare=False)

    def as_message_object(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "size": self.size,
        }


@dataclass(frozen=True)
class ObjectHead:
    """What an object store knows of an object without reading its bytes."""

    bucket: str
    key: str
    size: int
    etag: str | None = None
    version_id: str | None = None
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class OutgoingMessage:
    """A serialised CloudEvent ready for a queue adapter."""

    id: str
    type: str
    body: bytes
    key: str  # the decoded object key (Kafka message key, SQS group id)
    attributes: dict[str, str] = field(default_factory=dict)
