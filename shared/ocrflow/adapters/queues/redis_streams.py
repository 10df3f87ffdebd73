"""``redis://host:port/db?stream=NAME``: Redis Streams (also Huawei DCS for Redis).

One ``XADD`` per message with the CloudEvent JSON in the field ``event``, and beside it
``id`` and the attributes other backends carry as message attributes or headers (``type``,
``api``, ``region``, ``error_code``, ``ocrreview``, ``traceparent``, ``tracestate``), so a
reader decides without parsing the event; ``?maxlen=N`` trims the stream approximately.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from ..ports import Queue


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
            yield json.loads(fields[b"event"])

    def remove(self, message_id: str) -> None:
        for entry_id, fields in self._entries():
            if fields.get(b"id", b"").decode() == message_id:
                self.client.xdel(self.stream, entry_id)
                return

    def close(self) -> None:
        self.client.close()


def open_queue(url: str) -> RedisStream:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    stream = query.pop("stream", None)
    if not stream:
        raise ConfigError("RESULT_QUEUE_URL", "Redis URL needs ?stream=NAME")
    maxlen = query.pop("maxlen", None)
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    return RedisStream(urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), stream,
                       int(maxlen) if maxlen else None)
