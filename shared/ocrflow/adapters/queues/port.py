"""The port every queue implements (sqlite, SQS, SNS, AMQP, Redis Streams, Kafka)."""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator
from typing import Any

from ...core.errors import PublishError
from ...core.models import OutgoingMessage

#: Characters of a body that is not a message kept in its dump entry, to recognize it by.
UNREADABLE_EXCERPT = 200


def decoded(body: bytes | str | None) -> dict[str, Any]:
    """A message's body as :meth:`Queue.dump` gives it: its JSON object, or, for a body that
    is not one (another producer's, a truncated write), an entry that says so —
    ``{"unreadable": {"reason", "bytes", "excerpt"}}`` — so a dump (``ocrflow queue dump``,
    redrive) goes on past it instead of stopping there."""
    if body is None:
        return unreadable("no message body", b"")
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return unreadable(f"not JSON ({type(exc).__name__})", body)
    if not isinstance(event, dict):
        return unreadable(f"JSON, but {type(event).__name__} rather than an object", body)
    return event


def unreadable(reason: str, body: bytes | str) -> dict[str, Any]:
    if isinstance(body, bytes):
        size, text = len(body), body.decode("utf-8", "replace")
    else:
        size, text = len(body.encode("utf-8", "surrogatepass")), body
    return {"unreadable": {"reason": reason, "bytes": size, "excerpt": text[:UNREADABLE_EXCERPT]}}


class Queue(abc.ABC):
    """A message queue that results or failures are published to. The largest body a
    queue takes is known from its URL alone (:func:`ocrflow.adapters.registry.queue_max_message_bytes`)."""

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
        """Every message on the queue, oldest first, as decoded JSON (:func:`decoded`: a body
        that is not a JSON object comes as an ``unreadable`` entry), without removing it."""

    def remove(self, message_id: str) -> bool:
        """Deletes the message with this CloudEvent id (redrive, once the message was
        replayed). False when the queue cannot remove a message it delivered (a Kafka topic,
        an SNS topic): the message stays, and consumers see a newer one for the object."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
