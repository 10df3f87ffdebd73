"""The small interfaces behind which every backend sits.

Adapters live one module per backend (``stores/``, ``queues/``, ``idempotency/``) and are
chosen by URL scheme in :mod:`ocrflow.registry`, imported only when that scheme is used.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .errors import PublishError
from .models import ObjectInfo, OutgoingMessage

if TYPE_CHECKING:
    from .signer import Credentials


class ObjectStore(abc.ABC):
    """Read access to buckets (and write access for claim-check results)."""

    @abc.abstractmethod
    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """Size, ETag and metadata of an object. Raises ObjectNotFound."""

    @abc.abstractmethod
    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None) -> bytes:
        """The object's bytes. Raises ObjectNotFound, or ObjectChanged when ``if_match``
        (an ETag) no longer matches."""

    @abc.abstractmethod
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        """Stores bytes and returns a URL that names them (``file://…``, ``s3://…``)."""

    @abc.abstractmethod
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order."""

    def scoped(self, credentials: Credentials | None, region: str | None) -> ObjectStore:
        """The store as one invocation uses it: with that invocation's credentials (a
        FunctionGraph agency's rotate) and the region its event names. Stores that find
        their own credentials and endpoint (files, S3 through boto3) are the same store."""
        return self

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Queue(abc.ABC):
    """A message queue that results or failures are published to. The largest body a
    queue takes is known from its URL alone (``registry.queue_max_message_bytes``)."""

    @abc.abstractmethod
    def publish(self, message: OutgoingMessage) -> None:
        """Publishes one message and returns only once the broker confirmed it.
        Raises PublishError otherwise."""

    def publish_many(self, messages: list[OutgoingMessage]) -> list[Exception | None]:
        """Publishes several messages; one entry per message: None when confirmed, else the
        error. Adapters that can confirm a batch at once (Kafka) override this."""
        out: list[Exception | None] = []
        for message in messages:
            try:
                self.publish(message)
                out.append(None)
            except PublishError as exc:
                out.append(exc)
        return out

    @abc.abstractmethod
    def dump(self) -> Iterator[dict[str, Any]]:
        """Every message on the queue, oldest first, as decoded JSON, without removing it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class ClaimState(str, Enum):
    CLAIMED = "claimed"  # the caller owns the record and goes on
    IN_PROGRESS = "in_progress"  # someone else holds an unexpired claim
    OUTCOME_STORED = "outcome_stored"  # called before; the stored message still to publish
    COMPLETED = "completed"  # published before: nothing to do


@dataclass
class Claim:
    state: ClaimState
    #: The serialised CloudEvent stored after the call (OUTCOME_STORED, COMPLETED).
    message: bytes | None = None
    #: Which queue the stored message is for: "result" or "failure".
    destination: str | None = None
    message_id: str | None = None


class IdempotencyStore(abc.ABC):
    """Remembers what was done for each record, so no OCR call is paid twice.

    Lifecycle of a key: ``claim`` (in progress, with an expiry) → ``save_outcome`` (the
    message is stored before it is published, so a failed publish is retried without a
    second call) → ``complete``. A claim whose expiry passed can be taken over.
    """

    #: How long a stored outcome / completed record is remembered (IDEMPOTENCY_TTL_S).
    retention_s: float = 7 * 24 * 3600

    @abc.abstractmethod
    def claim(self, key: str, expires_in_s: float) -> Claim:
        """Atomically claims ``key`` unless it is held, has a stored outcome, or is done."""

    @abc.abstractmethod
    def save_outcome(self, key: str, destination: str, message_id: str,
                     message: bytes) -> None:
        """Stores the message for ``key`` (still to be published)."""

    @abc.abstractmethod
    def complete(self, key: str) -> None:
        """Marks ``key`` as published."""

    @abc.abstractmethod
    def release(self, key: str) -> None:
        """Drops a claim that produced no outcome, so the next delivery starts afresh."""

    @abc.abstractmethod
    def increment(self, counter: str, limit: int | None, expires_in_s: float,
                  amount: int = 1) -> int | None:
        """Adds ``amount`` to ``counter`` unless that would pass ``limit``; returns the new
        value, or None when it would (nothing added). A negative ``amount`` with no limit
        gives back what was taken (calls reserved and not made). Counters expire."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
