"""``redis://host:port/db?stream=NAME``: Redis Streams (also Huawei DCS for Redis).

One ``XADD`` per message with the CloudEvent JSON in the field ``event``, and beside it
``id`` and the attributes other backends carry as message attributes or headers (``type``,
``api``, ``region``, ``error_code``, ``ocrreview``, ``traceparent``, ``tracestate``), so a
reader decides without parsing the event; ``?maxlen=N`` trims the stream approximately.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from .. import redis as redis_url
from .port import Queue, decoded


class RedisStream(Queue):
    def __init__(self, url: str, stream: str, maxlen: int | None) -> None:
        import redis

        self.stream, self.maxlen = stream, maxlen
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                           retry_on_timeout=False)

    def publish(self, message: OutgoingMessage) -> None:
        import redis

        fields: dict[str, str | bytes] = {"event": message.body, "type": message.type,
                                          "id": message.id}
        fields.update((k, v) for k, v in message.attributes.items() if v and k not in fields)
        try:
            self.client.xadd(self.stream, fields, maxlen=self.maxlen,  # type: ignore[arg-type]
                             approximate=self.maxlen is not None)
        except redis.RedisError as exc:
            raise PublishError(f"redis stream {self.stream!r}: {type(exc).__name__}") from None

    def _entries(self) -> Iterator[tuple[bytes, dict[bytes, bytes]]]:
        start = "-"
        while True:
            batch: Any = self.client.xrange(self.stream, min=start, max="+", count=500)
            if not batch:
                return
            yield from batch
            last = bytes(batch[-1][0]).decode()
            ms, seq = last.split("-")
            start = f"{ms}-{int(seq) + 1}"

    def dump(self) -> Iterator[dict[str, Any]]:
        for _, fields in self._entries():
            yield decoded(fields.get(b"event"))

    def remove(self, message_id: str) -> bool:
        for entry_id, fields in self._entries():
            if fields.get(b"id", b"").decode() == message_id:
                self.client.xdel(self.stream, entry_id)
                break
        return True

    def close(self) -> None:
        self.client.close()


REQUIRES = redis_url.REQUIRES


def check_url(url: str, variable: str) -> None:
    redis_url.check_url(url, variable, stream=True)


def open_queue(url: str) -> RedisStream:
    parsed = redis_url.parse(url)
    if not parsed.stream:
        raise ConfigError("RESULT_QUEUE_URL", "Redis URL needs ?stream=NAME")
    return RedisStream(parsed.client_url, parsed.stream, parsed.maxlen)
