"""Amazon SNS: the topic ARN as CloudFormation's ``!Ref`` gives it
(``arn:aws:sns:<region>:<account>:<name>``; ``AWS_ENDPOINT_URL`` honoured).

``Publish`` with the same message attributes as SQS (``type``, ``api``, ``region``,
``error_code``, ``ocrreview``, ``traceparent``, ``tracestate``), so each subscription can take
only what its filter policy names — uncertain results to a review queue, say — without
parsing the body. FIFO topics (``.fifo``) group by object key and deduplicate by the
CloudEvent id. The body limit is SQS's (256 KiB with the attributes); larger results go
through the claim check. A topic keeps no messages: ``dump`` names a subscribed queue instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from ..aws import LazyClient, error_code
from .port import Queue
from .sqs import MAX_MESSAGE_BYTES, attributes_of, fifo_ids

_ARN = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)")


def parse_arn(url: str, variable: str = "RESULT_QUEUE_URL") -> tuple[str, str]:
    """(region, topic name) of a topic ARN; ConfigError naming ``variable`` otherwise."""
    found = _ARN.fullmatch(url)
    if not found:
        raise ConfigError(variable, "expected an SNS topic ARN, arn:aws:sns:REGION:ACCOUNT:NAME, "
                                    f"got {url[:120]!r}")
    return found.group(1), found.group(3)


def max_message_bytes(url: str, variable: str = "RESULT_QUEUE_URL") -> int:
    return MAX_MESSAGE_BYTES


class SnsTopic(Queue):
    def __init__(self, arn: str, region: str) -> None:
        self.arn, self.region = arn, region
        self._client = LazyClient("sns", None, region)

    @property
    def client(self) -> Any:
        return self._client.get()

    def publish(self, message: OutgoingMessage) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if len(message.body) > MAX_MESSAGE_BYTES:
            raise PublishError(f"message of {len(message.body)} bytes is over the SNS limit")
        args: dict[str, Any] = {
            "TopicArn": self.arn,
            "Message": message.body.decode("utf-8"),
            "MessageAttributes": attributes_of(message),
            **(fifo_ids(message) if self.arn.endswith(".fifo") else {}),
        }
        try:
            self.client.publish(**args)
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"SNS publish failed: {error_code(exc)}") from None

    def dump(self) -> Iterator[dict[str, Any]]:
        raise ConfigError("QUEUE_URL", "an SNS topic keeps no messages: dump a queue subscribed "
                                       "to it (with raw message delivery) instead")


REQUIRES = ("boto3", "aws")


def check_url(url: str, variable: str) -> None:
    parse_arn(url, variable)


def open_queue(url: str) -> SnsTopic:
    region, _ = parse_arn(url)
    return SnsTopic(url, region)
