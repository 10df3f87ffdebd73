"""``amqp://user:pass@host:port/vhost?queue=NAME[&exchange=EXCHANGE]``: RabbitMQ and Huawei
DMS for RabbitMQ.

A durable queue ``NAME`` on the default exchange (routing key = ``NAME``), persistent
messages (delivery mode 2), publisher confirms: a publish returns only once the broker
confirmed it, and an unroutable or refused message is a ``PublishError``. With
``exchange=EXCHANGE`` messages go to that exchange instead (declared by the user, e.g. a
headers exchange routing on the ``ocrreview`` header; routing key still ``NAME``), and
``NAME`` is the queue ``dump`` reads. One connection, reused and reconnected once when it
broke; publishes are serialised (pika's blocking connection is not thread-safe).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ...core import redact
from ...core.errors import ConfigError, PublishError
from ...core.models import OutgoingMessage
from ..urls import port_and_host, query_of, refusal
from .port import Queue, decoded


def _safe(url: str) -> str:
    """The URL as messages show it: without its query, the password masked."""
    return redact.url(urlsplit(url)._replace(query="").geturl())


class AmqpQueue(Queue):
    def __init__(self, url: str, name: str, exchange: str = "") -> None:
        self.url, self.name, self.exchange = url, name, exchange
        self._conn: Any = None
        self._channel: Any = None
        self._lock = threading.Lock()
        self._removed: set[str] = set()

    def _params(self) -> Any:
        import pika

        params = pika.URLParameters(self.url)
        params.socket_timeout = 5
        params.blocked_connection_timeout = 15
        params.connection_attempts = 1
        params.heartbeat = 30
        return params

    def _open(self) -> Any:
        import pika

        if self._channel is None or self._channel.is_closed or self._conn is None or self._conn.is_closed:
            self._conn = pika.BlockingConnection(self._params())
            self._channel = self._conn.channel()
            self._channel.confirm_delivery()
            if self.exchange:
                # the user's topology: checked, never declared (a missing exchange would
                # otherwise close the channel at the first publish)
                self._channel.exchange_declare(exchange=self.exchange, passive=True)
            else:
                self._channel.queue_declare(queue=self.name, durable=True)
        return self._channel

    def _drop(self) -> None:
        try:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()
        except Exception:  # noqa: BLE001, S110 - the connection is being thrown away
            pass
        self._conn = self._channel = None

    def publish(self, message: OutgoingMessage) -> None:
        import pika
        from pika import exceptions as px

        props = pika.BasicProperties(
            delivery_mode=2, content_type="application/cloudevents+json; charset=UTF-8",
            message_id=message.id, type=message.type, headers=dict(message.attributes))
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._open().basic_publish(exchange=self.exchange, routing_key=self.name,
                                               body=message.body, properties=props, mandatory=True)
                    return
                except (px.UnroutableError, px.NackError) as exc:
                    raise PublishError(f"{_safe(self.url)} {self._target()} refused the message "
                                       f"({type(exc).__name__})") from None
                except px.ChannelClosedByBroker as exc:
                    self._drop()
                    if exc.reply_code == 404:  # NOT_FOUND: the exchange is missing
                        raise PublishError(f"{_safe(self.url)} {self._target()} does not exist"
                                           ) from None
                    if attempt == 2:
                        raise PublishError(f"{_safe(self.url)} {self._target()} closed the channel "
                                           f"({exc.reply_code})") from None
                except (px.AMQPError, OSError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise PublishError(f"{_safe(self.url)} unreachable ({type(exc).__name__})") from None

    def _target(self) -> str:
        return f"exchange {self.exchange!r}" if self.exchange else f"queue {self.name!r}"

    def dump(self) -> Iterator[dict[str, Any]]:
        """Gets every message without acknowledging, then returns them all to the queue (in
        their order) by closing the channel."""
        import pika

        conn = pika.BlockingConnection(self._params())
        try:
            channel = conn.channel()
            channel.queue_declare(queue=self.name, durable=True)
            bodies = []
            while True:
                method, _, body = channel.basic_get(self.name, auto_ack=False)
                if method is None:
                    break
                bodies.append(body)
        finally:
            conn.close()
        for body in bodies:
            yield decoded(body)

    def remove(self, message_id: str) -> bool:
        """Acknowledges (deletes) the message with this CloudEvent id, leaving the rest."""
        import pika

        conn = pika.BlockingConnection(self._params())
        try:
            channel = conn.channel()
            while True:
                method, props, _ = channel.basic_get(self.name, auto_ack=False)
                if method is None:
                    break
                if props.message_id == message_id:
                    channel.basic_ack(method.delivery_tag)
                    break
        finally:
            conn.close()
        return True

    def close(self) -> None:
        with self._lock:
            self._drop()


REQUIRES = ("pika", "amqp")


def check_url(url: str, variable: str) -> None:
    """The URL as pika will read it, and the queue it names."""
    import pika

    port_and_host(url, variable)
    if not query_of(url, variable).get("queue"):
        raise refusal(variable, url, "an AMQP URL needs ?queue=NAME")
    parts = urlsplit(url)
    rest = "&".join(f"{k}={v}" for k, v in query_of(url, variable).items()
                    if k not in ("queue", "exchange"))
    try:
        pika.URLParameters(parts._replace(query=rest).geturl())
    except (ValueError, TypeError, KeyError):
        raise refusal(variable, url, "pika cannot read this AMQP URL (check the port, vhost and "
                                     "options; percent-encode '/', '#', '?', '@' and '%' in the "
                                     "password)") from None


def open_queue(url: str) -> AmqpQueue:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    name = query.pop("queue", None)
    if not name:
        raise ConfigError("RESULT_QUEUE_URL", f"AMQP URL needs ?queue=NAME: {_safe(url)}")
    exchange = query.pop("exchange", "")
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    return AmqpQueue(urlunsplit((parts.scheme, parts.netloc, parts.path or "/%2F", rest, "")), name,
                     exchange)
