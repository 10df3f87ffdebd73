"""Amazon SQS: the queue URL as CloudFormation's ``!Ref`` gives it
(``https://sqs.<region>.amazonaws.com/<account>/<name>``, any ``http(s)://host/<account>/<name>``
for a local endpoint), or ``sqs://NAME`` (looked up; ``AWS_ENDPOINT_URL`` honoured).

Message attributes carry ``type``, ``api``, ``region`` (and ``error_code`` on failures).
FIFO queues (``.fifo``) group by object key, so one object's messages stay in order, and
deduplicate by the CloudEvent id. Bodies over the SQS limit go through the claim check
(:mod:`ocrflow.flow.delivery`), which reads the limit from :func:`max_message_bytes`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from ..aws import LazyClient, error_code
from ..urls import http_endpoint, refusal
from .port import Queue, decoded

#: 256 KiB for body and attributes together; a little is kept for the attributes.
SQS_LIMIT = 256 * 1024
ATTRIBUTE_ROOM = 1024


def _region_of(host: str) -> str | None:
    parts = host.split(".")
    return parts[1] if len(parts) >= 4 and parts[0] == "sqs" else None


MAX_MESSAGE_BYTES = SQS_LIMIT - ATTRIBUTE_ROOM


def max_message_bytes(url: str, variable: str = "RESULT_QUEUE_URL") -> int:
    return MAX_MESSAGE_BYTES


def attributes_of(message: OutgoingMessage) -> dict[str, dict[str, str]]:
    """The message's attributes as SQS and SNS take them: String values, empty ones left out."""
    return {k: {"DataType": "String", "StringValue": v} for k, v in message.attributes.items() if v}


def fifo_ids(message: OutgoingMessage) -> dict[str, str]:
    """FIFO queues and topics: one group per object key (its messages stay in order),
    deduplicated by the CloudEvent id."""
    return {"MessageGroupId": hashlib.sha256(message.key.encode("utf-8")).hexdigest(),
            "MessageDeduplicationId": message.id}


class SqsQueue(Queue):

    def __init__(self, url: str | None, name: str | None = None, region: str | None = None,
                 endpoint: str | None = None) -> None:
        self._url, self.name, self.region, self.endpoint = url, name, region, endpoint
        self._client = LazyClient("sqs", self.endpoint, self.region)
        self._receipts: dict[str, str] = {}

    @property
    def client(self) -> Any:
        return self._client.get()

    @property
    def url(self) -> str:
        if self._url is None:
            from botocore.exceptions import BotoCoreError, ClientError
            try:
                self._url = self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
            except (ClientError, BotoCoreError) as exc:
                raise PublishError(f"SQS queue {self.name!r}: {error_code(exc)}") from None
        return self._url

    @property
    def fifo(self) -> bool:
        return self.url.endswith(".fifo")

    def publish(self, message: OutgoingMessage) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if len(message.body) > MAX_MESSAGE_BYTES:
            raise PublishError(f"message of {len(message.body)} bytes is over the SQS limit")
        args: dict[str, Any] = {
            "QueueUrl": self.url,
            "MessageBody": message.body.decode("utf-8"),
            "MessageAttributes": attributes_of(message),
            **(fifo_ids(message) if self.fifo else {}),
        }
        try:
            self.client.send_message(**args)
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"SQS send failed: {error_code(exc)}") from None

    def publish_many(self, messages: list[OutgoingMessage]) -> list[Exception | None]:
        """SendMessageBatch, ten at a time; one entry per message (None = confirmed)."""
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[Exception | None] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            entries = []
            for i, m in enumerate(chunk):
                entries.append({"Id": str(i), "MessageBody": m.body.decode("utf-8"),
                                **(fifo_ids(m) if self.fifo else {})})
            try:
                r = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                out += [PublishError(f"SQS send failed: {error_code(exc)}")] * len(chunk)
                continue
            failed = {f["Id"]: f.get("Code", "failed") for f in r.get("Failed", [])}
            out += [PublishError(f"SQS send failed: {failed[str(i)]}") if str(i) in failed else None
                    for i in range(len(chunk))]
        return out

    def dump(self) -> Iterator[dict[str, Any]]:
        """Receives every visible message, then makes them visible again at once.

        SQS has no browse: while the dump runs (seconds), the messages are invisible to
        consumers; they are released (visibility 0) right after."""
        received: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            batch = self.client.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0,
                AttributeNames=["SentTimestamp", "SequenceNumber"]).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen.add(m["MessageId"])
                received.append(m)
        for m in received:
            self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)

        def order(m: dict[str, Any]) -> tuple[int, int]:
            a = m.get("Attributes", {})
            return int(a.get("SentTimestamp", 0)), int(a.get("SequenceNumber", 0))

        for m in sorted(received, key=order):
            event = decoded(m.get("Body"))
            if isinstance(event.get("id"), str):
                self._receipts[event["id"]] = m["ReceiptHandle"]
            yield event

    def remove(self, message_id: str) -> bool:
        """Deletes a message seen by the last ``dump``."""
        handle = self._receipts.pop(message_id, None)
        if handle:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        return True


REQUIRES = ("boto3", "aws")
_SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")


def check_url(url: str, variable: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "sqs":
        name = parts.netloc or parts.path.strip("/")
        if not _SQS_NAME.fullmatch(name):
            raise refusal(variable, url, "expected sqs://QUEUE_NAME")
        return
    http_endpoint(url, variable)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2 or not _SQS_NAME.fullmatch(segments[1]):
        raise refusal(variable, url, "expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME")


def open_queue(url: str) -> SqsQueue:
    parts = urlsplit(url)
    if parts.scheme == "sqs":
        name = parts.netloc or parts.path.strip("/")
        if not name:
            raise ConfigError("RESULT_QUEUE_URL", f"expected sqs://QUEUE_NAME, got {url!r}")
        return SqsQueue(None, name=name)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2:
        raise ConfigError("RESULT_QUEUE_URL",
                          f"expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, got {url!r}")
    host = parts.hostname or ""
    # a local endpoint (moto, ElasticMQ) is reached where its queue URL points
    endpoint = None if host.endswith("amazonaws.com") else f"{parts.scheme}://{parts.netloc}"
    return SqsQueue(url, name=segments[1], region=_region_of(parts.hostname or ""), endpoint=endpoint)
