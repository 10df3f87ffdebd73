"""The port every queue implements (sqlite, SQS, SNS, AMQP, Redis Streams, Kafka)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

from ...core.errors import PublishError
from ...core.models import OutgoingMessage


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
        """Every message on the queue, oldest first, as decoded JSON, without removing it."""

    def remove(self, message_id: str) -> bool:
        """Deletes the message with this CloudEvent id (redrive, once the message was
        replayed). False when the queue cannot remove a message it delivered (a Kafka topic,
        an SNS topic): the message stays, and consumers see a newer one for the object."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
