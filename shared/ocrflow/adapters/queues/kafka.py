"""``kafka://[user:pass@]host:port[,host:port…]/TOPIC[?option=value…]``: Apache Kafka,
Huawei DMS for Kafka, Amazon MSK.

One message per CloudEvent: the value is the structured CloudEvent JSON exactly as given,
the key is the decoded object key (so every outcome for one object lands on one partition,
in order), and the event's context attributes are repeated as Kafka headers the way the
CloudEvents Kafka protocol binding names them (``ce_id``, ``ce_type``, …) so consumers can
route without parsing the value; the trace context also goes under its W3C names
(``traceparent``, ``tracestate``), where tracing instrumentations look for it.
``content-type`` says ``application/cloudevents+json``: the value is the whole event
(structured mode), and a CloudEvents SDK reading the message must not take the envelope for
the event's ``data``.

The client is confluent-kafka (librdkafka); why, with measurements, is in docs/kafka.md.
It is imported here only, so other backends never pay for it. The producer is idempotent
with ``acks=all``; :meth:`KafkaQueue.publish` returns only after the broker acknowledged
the message, and raises :class:`KafkaPublishError` (a ``PublishError``) once librdkafka
gave up on it, which happens at the latest after ``delivery_timeout_ms``.

Options (query string): ``security_protocol`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL;
SASL_SSL when the URL carries credentials, else PLAINTEXT), ``sasl_mechanism`` (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512; PLAIN), ``ssl_cafile`` (PEM file of the CA that signed the
brokers' certificates), ``ssl_check_hostname`` (true), ``delivery_timeout_ms`` (15000),
``idempotence`` (true), ``max_message_bytes`` (1000000), ``client_id`` (ocrflow).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...core import redact as redaction
from ...core.errors import ConfigError, OcrflowError, PublishError
from ...core.models import OutgoingMessage
from .port import Queue, decoded

if TYPE_CHECKING:  # the library is imported by the code that talks to a broker, not at import
    import confluent_kafka
    from confluent_kafka import KafkaError, KafkaException, Message

LOG = logging.getLogger(__name__)

DEFAULT_PORT = 9092
DEFAULT_DELIVERY_TIMEOUT_MS = 15_000
#: Kafka's own default limit for a record batch (broker ``message.max.bytes``, topic
#: ``max.message.bytes``) is about 1 MB on Apache Kafka and MSK; DMS allows up to 10 MB.
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
#: How long publish waits past the delivery timeout for librdkafka's own report, which
#: normally comes at the delivery timeout itself.
_REPORT_GRACE_S = 5.0
#: Bound on dump(): metadata, offsets and reading the topic up to its end offsets.
_DUMP_TIMEOUT_S = 60.0
_NO_END = 2**63 - 1

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: CloudEvents attributes that are not repeated as ``ce_`` headers: the payload, and
#: ``datacontenttype``, which the binding carries as ``content-type`` in binary mode only.
_NOT_HEADERS = frozenset({"data", "data_base64", "datacontenttype"})
CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


@cache
def _transient() -> frozenset[int]:
    """Outcomes librdkafka does not flag retriable in a delivery report, though a later
    attempt may well succeed: the broker was not reached or did not answer in time."""
    from confluent_kafka import KafkaError

    return frozenset({
        KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN, KafkaError._QUEUE_FULL, KafkaError.REQUEST_TIMED_OUT,
        KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,
    })

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+")
_QUERY_KEYS = frozenset({
    "security_protocol", "sasl_mechanism", "ssl_cafile", "ssl_check_hostname",
    "delivery_timeout_ms", "idempotence", "max_message_bytes", "client_id",
})


class KafkaPublishError(PublishError):
    """A message the broker did not confirm. ``code`` is librdkafka's error name
    (``_MSG_TIMED_OUT``, ``_TRANSPORT``, ``TOPIC_AUTHORIZATION_FAILED``, …); ``retriable``
    says a later attempt may succeed (librdkafka's verdict, or a timeout or lost
    connection); both come from the error object, never its text."""

    def __init__(self, message: str, code: str, retriable: bool, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable
        self.fatal = fatal


class KafkaReadError(OcrflowError):
    """The topic could not be read to its end (``dump``)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KafkaSettings:
    """What a ``kafka://`` URL says, checked."""

    bootstrap: tuple[str, ...]
    topic: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    ssl_cafile: str | None = None
    ssl_check_hostname: bool = True
    delivery_timeout_ms: int = DEFAULT_DELIVERY_TIMEOUT_MS
    idempotence: bool = True
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    client_id: str = "ocrflow"

    @property
    def where(self) -> str:
        """Names the destination in messages, without credentials."""
        return f"kafka topic {self.topic!r} on {','.join(self.bootstrap)}"

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings shared by the producer, the admin client and the reader."""
        conf: dict[str, Any] = {
            "bootstrap.servers": ",".join(self.bootstrap),
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
            # librdkafka logs through Python logging (served by poll/flush), not stderr.
            "logger": LOG,
        }
        if self.security_protocol.startswith("SASL_"):
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.username
            conf["sasl.password"] = self.password
        if self.security_protocol.endswith("SSL"):
            if self.ssl_cafile:
                conf["ssl.ca.location"] = self.ssl_cafile
            conf["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_check_hostname else "none")
        return conf

    def producer_config(self) -> dict[str, Any]:
        conf = self.client_config()
        conf.update({
            "enable.idempotence": self.idempotence,
            "acks": "all",
            # The delivery report comes at the latest after this; a ProduceRequest in
            # flight uses the lesser of socket.timeout.ms and what is left of it.
            "delivery.timeout.ms": self.delivery_timeout_ms,
            "socket.timeout.ms": min(60_000, max(self.delivery_timeout_ms, 1_000)),
            # Java's partitioner: a key lands on the partition that Java, kafka-python and
            # Kafka Streams producers choose for it, not librdkafka's CRC32 default.
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "message.max.bytes": self.max_message_bytes + 64 * 1024,  # room for headers
        })
        if not self.idempotence:
            # Without sequence numbers a retried batch may overtake the next one.
            conf["max.in.flight.requests.per.connection"] = 1
        return conf


def parse_url(url: str, variable: str = "RESULT_QUEUE_URL") -> KafkaSettings:
    """Reads a ``kafka://`` URL; raises ConfigError naming ``variable`` (never the
    password)."""
    shown = redaction.url(url)
    parts = urlsplit(url)
    if parts.scheme.lower() != "kafka":
        raise ConfigError(variable, f"not a kafka:// URL: {shown!r}")
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username, password = unquote(user), unquote(secret)
        redaction.register_password(secret)
        if not username or not colon:
            raise ConfigError(variable, f"credentials must be user:password in {shown!r}")
    bootstrap = tuple(_check_host(h, variable, shown) for h in hostlist.split(","))
    topic = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not _TOPIC.fullmatch(topic):
        raise ConfigError(variable, f"the path must be a Kafka topic name "
                                    f"(letters, digits, '.', '_', '-'): {shown!r}")
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _QUERY_KEYS:
            known = ", ".join(sorted(_QUERY_KEYS))
            raise ConfigError(variable, f"unknown option {key!r} in {shown!r}; known: {known}")
        if key in query:
            raise ConfigError(variable, f"option {key!r} given twice in {shown!r}")
        query[key] = value

    protocol = query.get("security_protocol", "SASL_SSL" if at else "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(variable, f"security_protocol must be one of "
                                    f"{', '.join(SECURITY_PROTOCOLS)}: {shown!r}")
    mechanism = None
    if protocol.startswith("SASL_"):
        if not at:
            raise ConfigError(variable, f"{protocol} needs user:password@ in {shown!r}")
        mechanism = query.get("sasl_mechanism", "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise ConfigError(variable, f"sasl_mechanism must be one of "
                                        f"{', '.join(SASL_MECHANISMS)}: {shown!r}")
    elif at:
        raise ConfigError(variable, f"credentials given but security_protocol is {protocol}; "
                                    f"use SASL_SSL or SASL_PLAINTEXT: {shown!r}")
    elif "sasl_mechanism" in query:
        raise ConfigError(variable, f"sasl_mechanism needs a SASL_* security_protocol: {shown!r}")

    cafile = query.get("ssl_cafile") or None
    if cafile is not None:
        if not protocol.endswith("SSL"):
            raise ConfigError(variable, f"ssl_cafile needs security_protocol SSL or SASL_SSL: "
                                        f"{shown!r}")
        if not os.path.isfile(cafile) or not os.access(cafile, os.R_OK):
            raise ConfigError(variable, f"ssl_cafile {cafile!r} is not a readable file")
    return KafkaSettings(
        bootstrap=bootstrap,
        topic=topic,
        username=username,
        password=password,
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        ssl_cafile=cafile,
        ssl_check_hostname=_flag(query, "ssl_check_hostname", True, variable),
        delivery_timeout_ms=_int(query, "delivery_timeout_ms", DEFAULT_DELIVERY_TIMEOUT_MS,
                                 100, 900_000, variable),
        idempotence=_flag(query, "idempotence", True, variable),
        max_message_bytes=_int(query, "max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES,
                               1024, 100_000_000, variable),
        client_id=query.get("client_id") or "ocrflow",
    )


#: Kept under its old name for callers of this module: the one redaction of ocrflow.
redact = redaction.url


def _check_host(item: str, variable: str, shown: str) -> str:
    host, port = item, str(DEFAULT_PORT)
    if item.startswith("["):
        end = item.find("]")
        host, rest = item[: end + 1], item[end + 1:]
        if rest:
            port = rest.removeprefix(":")
    elif ":" in item:
        host, _, port = item.rpartition(":")
    if not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(variable, f"each broker must be host:port, got {item!r} in {shown!r}")
    return f"{host}:{int(port)}"


def _flag(query: dict[str, str], key: str, default: bool, variable: str) -> bool:
    value = query.get(key)
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ConfigError(variable, f"{key} must be true or false, got {value!r}")


def _int(query: dict[str, str], key: str, default: int, low: int, high: int,
         variable: str) -> int:
    value = query.get(key)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(variable, f"{key} must be an integer from {low} to {high}, "
                                    f"got {value!r}")
    return int(value)


def cloudevent_headers(message: OutgoingMessage) -> list[tuple[str, str | bytes | None]]:
    """CloudEvents Kafka binding headers for a structured CloudEvent body: ``ce_<name>``
    for each context attribute found in the JSON, and ``content-type``."""
    attributes: dict[str, Any] = {}
    try:
        event = json.loads(message.body)
    except ValueError:  # not JSON: fall back to what the message itself names
        event = None
    if isinstance(event, dict):
        attributes = {k: v for k, v in event.items() if k not in _NOT_HEADERS}
    attributes.setdefault("id", message.id)
    attributes.setdefault("type", message.type)
    headers: list[tuple[str, str | bytes | None]] = []
    for name, value in attributes.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (str, int)):
            text = str(value)
        else:  # maps, lists and nulls are no CloudEvents attribute values
            continue
        headers.append((f"ce_{name}", text.encode("utf-8")))
    # W3C Trace Context under its own names too, where tracing instrumentations look for it
    headers += [(name, str(attributes[name]).encode("ascii")) for name in ("traceparent", "tracestate")
                if isinstance(attributes.get(name), str) and attributes[name].isascii()]
    headers.append(("content-type", CONTENT_TYPE.encode("ascii")))
    return headers


#: Refusals of the producer's identity rather than of the message: nothing was written,
#: and a new producer (new id) can send it. Tansu answers PRODUCER_FENCED to the epoch
#: that librdkafka bumps on its own after a delivery timeout (KIP-360), every time.
_REFUSED_IDENTITY = frozenset({
    "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "UNKNOWN_PRODUCER_ID",
    "OUT_OF_ORDER_SEQUENCE_NUMBER", "INVALID_PRODUCER_ID_MAPPING",
})


class _Pending:
    """Slot for a delivery report that has not come yet."""


_PENDING = _Pending()


class KafkaQueue(Queue):
    """Publishes to one Kafka topic through one long-lived idempotent producer."""

    def __init__(self, settings: KafkaSettings, variable: str = "RESULT_QUEUE_URL") -> None:
        self.settings = settings
        self.variable = variable
        self._lock = threading.Lock()
        self._producer: confluent_kafka.Producer | None = None
        #: Why the current producer must be replaced before its next use, if it must.
        self._stale: str | None = None

    # -- producing ---------------------------------------------------------------------

    def connect(self) -> None:
        """Creates the producer now and warms it up in the background.

        An idempotent librdkafka producer sends nothing before it holds a producer id. It
        asks for one when a metadata answer comes from a broker it is connected to, else
        on a fixed 500 ms timer (rdkafka_idempotence.c); a new producer's first message
        waited 0.5 to 1 s here. Two metadata requests (the first through the bootstrap
        address, the second through the broker it names) get the id within a few round
        trips. They ask for no topic by name, so no broker auto-creates one because of
        them. Failures are left to publish, which reports them."""
        self._get_producer()

    def _get_producer(self) -> confluent_kafka.Producer:
        import confluent_kafka
        from confluent_kafka import KafkaException
        with self._lock:
            if self._producer is not None and self._stale is not None:
                LOG.warning("kafka producer for %s replaced: %s", self.settings.where,
                            self._stale)
                self._discard_locked()
            if self._producer is None:
                conf = self.settings.producer_config()
                conf["error_cb"] = self._on_error
                try:
                    self._producer = confluent_kafka.Producer(conf)
                except KafkaException as exc:
                    raise ConfigError(self.variable, f"{self.settings.where}: "
                                                     f"{redaction.text(_describe(exc))}") from None
                self._stale = None
                self._warm_up(self._producer)
            return self._producer

    def _warm_up(self, producer: confluent_kafka.Producer) -> None:
        from confluent_kafka import KafkaException
        timeout = min(5.0, self.settings.delivery_timeout_ms / 1000)

        def metadata_twice() -> None:
            for _ in range(2):
                try:
                    producer.list_topics(timeout=timeout)
                except KafkaException:
                    return

        threading.Thread(target=metadata_twice, name="ocrflow-kafka-warm-up",
                         daemon=True).start()

    def _on_error(self, error: KafkaError) -> None:
        # Called from poll/flush. Transient errors (a broker down) are librdkafka's to retry
        # until the delivery timeout; only a fatal one needs us.
        if error.fatal():
            self._stale = f"fatal error {error.name()}"
            LOG.error("kafka producer fatal error on %s: %s", self.settings.where, error.name())
        else:
            LOG.debug("kafka client error on %s: %s", self.settings.where, error.name())

    def publish(self, message: OutgoingMessage) -> None:
        outcome = self.publish_many([message])[0]
        if outcome is not None:
            raise outcome

    def publish_many(self, messages: Sequence[OutgoingMessage]) -> list[Exception | None]:
        """Produces every message, then waits once for all delivery reports. Returns, in
        order, None for each message the broker confirmed and the error for each it did
        not. Never reports a message as confirmed without its delivery report.

        Messages the broker refused because of the producer's identity (fenced epoch,
        unknown producer id, sequence out of order: nothing was written) are sent once
        more through a new producer. So the wait is bounded by the delivery timeout plus a
        grace, twice that at worst when the producer had to be replaced."""
        if not messages:
            return []
        results = self._attempt(messages)
        refused = [(i, r.code) for i, r in enumerate(results)
                   if isinstance(r, KafkaPublishError) and r.code in _REFUSED_IDENTITY]
        if refused:
            self._stale = f"broker refused its producer identity ({refused[0][1]})"
            again = [i for i, _ in refused]
            for index, outcome in zip(again, self._attempt([messages[i] for i in again]),
                                      strict=True):
                results[index] = outcome
        return results

    def _attempt(self, messages: Sequence[OutgoingMessage]) -> list[Exception | None]:
        try:
            producer = self._get_producer()
        except ConfigError as exc:
            return [exc for _ in messages]
        timeout_s = self.settings.delivery_timeout_ms / 1000
        deadline = time.monotonic() + timeout_s + _REPORT_GRACE_S
        outcomes: list[Exception | None | _Pending] = [_PENDING] * len(messages)

        def report(index: int) -> Any:
            def on_delivery(error: KafkaError | None, _msg: Message) -> None:
                outcomes[index] = None if error is None else self._error(
                    error, messages[index], "was not confirmed")
            return on_delivery

        for index, message in enumerate(messages):
            outcomes[index] = self._produce(producer, message, report(index), deadline)

        while any(o is _PENDING for o in outcomes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            producer.flush(min(remaining, 1.0))
        if any(o is _PENDING for o in outcomes):
            # librdkafka always reports by the delivery timeout; this is a safety net. The
            # messages still queued locally are dropped so they cannot be sent later.
            producer.purge(in_queue=True, in_flight=False)
            producer.poll(0)
        results: list[Exception | None] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, _Pending):
                outcome = KafkaPublishError(
                    f"message {messages[index].id} to {self.settings.where}: no delivery "
                    f"report within {timeout_s + _REPORT_GRACE_S:.0f} s",
                    code="_MSG_TIMED_OUT", retriable=True)
            results.append(outcome)
        return results

    def _produce(self, producer: confluent_kafka.Producer, message: OutgoingMessage,
                 on_delivery: Any, deadline: float) -> Exception | None | _Pending:
        from confluent_kafka import KafkaException
        if len(message.body) > self.settings.max_message_bytes:
            return KafkaPublishError(
                f"message {message.id} is {len(message.body)} bytes, over max_message_bytes "
                f"{self.settings.max_message_bytes} of {self.settings.where}",
                code="MSG_SIZE_TOO_LARGE", retriable=False)
        while True:
            try:
                producer.produce(
                    self.settings.topic,
                    value=message.body,
                    key=message.key.encode("utf-8") if message.key else None,
                    headers=cloudevent_headers(message),
                    on_delivery=on_delivery,
                )
                return _PENDING
            except BufferError:  # local queue full: let deliveries drain it, within bounds
                if time.monotonic() >= deadline:
                    return KafkaPublishError(
                        f"message {message.id} to {self.settings.where}: the local producer "
                        "queue stayed full", code="_QUEUE_FULL", retriable=True)
                producer.poll(0.1)
            except KafkaException as exc:
                return self._error(exc.args[0], message, "was refused")

    def _error(self, error: Any, message: OutgoingMessage, what: str) -> KafkaPublishError:
        from confluent_kafka import KafkaError
        if not isinstance(error, KafkaError):
            return KafkaPublishError(f"message {message.id} to {self.settings.where} {what}",
                                     code="_UNKNOWN", retriable=False)
        if error.fatal():
            self._stale = f"fatal error {error.name()}"
        return KafkaPublishError(
            f"message {message.id} to {self.settings.where} {what}: {error.name()} "
            f"({redaction.text(error.str())})",
            code=error.name(), fatal=bool(error.fatal()),
            retriable=(error.name() in _REFUSED_IDENTITY or not error.fatal()
                       and (error.retriable() or error.code() in _transient())))

    # -- reading -----------------------------------------------------------------------

    def dump(self) -> Iterator[dict[str, Any]]:
        """Every message on the topic, oldest first (by timestamp, then partition and
        offset), read by partition assignment from the beginning up to the end offsets
        seen when reading started. No consumer group is joined, no offset committed."""
        for partition, offset, value in self._read_records():
            event = decoded(value)
            if "unreadable" in event and len(event) == 1:
                event["unreadable"]["where"] = f"partition {partition} offset {offset}"
            yield event

    def _read_records(self) -> list[tuple[int, int, bytes]]:
        import confluent_kafka
        from confluent_kafka import KafkaError, KafkaException, TopicPartition
        conf = self.settings.client_config()
        conf.update({
            # The Python binding insists on a group id; assign() never joins the group.
            "group.id": f"ocrflow-dump-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "isolation.level": "read_uncommitted",
        })
        topic, where = self.settings.topic, self.settings.where
        deadline = time.monotonic() + _DUMP_TIMEOUT_S
        try:
            consumer = confluent_kafka.Consumer(conf)
        except KafkaException as exc:
            raise ConfigError(self.variable, f"{where}: {redaction.text(_describe(exc))}") from None
        found: list[tuple[int, int, int, bytes]] = []
        try:
            try:
                metadata = consumer.list_topics(topic, timeout=_left(deadline))
            except KafkaException as exc:
                raise KafkaReadError(f"{where}: metadata: {redaction.text(_describe(exc))}",
                                     _code(exc)) from None
            info = metadata.topics.get(topic)
            if info is None or info.error is not None:
                code = info.error.name() if info is not None and info.error else None
                raise KafkaReadError(f"{where}: topic not found ({code})", code)
            # The end of each partition is the high watermark of the first fetch answer
            # (not ListOffsets, which Tansu answers wrongly); a partition is done at that
            # offset or at end-of-partition, whichever comes first, so records produced
            # while dumping never keep the dump going.
            ends: dict[int, int] = {}
            pending = set(info.partitions)
            consumer.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                             for p in sorted(pending)])
            while pending:
                if time.monotonic() >= deadline:
                    raise KafkaReadError(f"{where}: could not read to the end within "
                                         f"{_DUMP_TIMEOUT_S:.0f} s", "_TIMED_OUT")
                # consume() waits up to its timeout to fill the batch: keep it short.
                for msg in consumer.consume(500, timeout=0.1):
                    partition, offset, error = msg.partition(), msg.offset(), msg.error()
                    if partition is None or offset is None or partition not in pending:
                        continue
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(partition)
                            continue
                        raise KafkaReadError(f"{where}: partition {partition}: "
                                             f"{error.name()}", error.name())
                    if partition not in ends:
                        marks = consumer.get_watermark_offsets(
                            TopicPartition(topic, partition), cached=True)
                        # Unknown only if no fetch answer was cached; then end-of-partition
                        # alone ends it.
                        high = marks[1] if marks else -1
                        ends[partition] = high if high > offset else _NO_END
                    if offset < ends[partition]:
                        found.append((msg.timestamp()[1], partition, offset, msg.value() or b""))
                    if offset + 1 >= ends[partition]:
                        pending.discard(partition)
        finally:
            consumer.close()
        found.sort(key=lambda item: item[:3])
        return [(partition, offset, value) for _, partition, offset, value in found]

    def close(self) -> None:
        with self._lock:
            self._discard_locked()

    def _discard_locked(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # publish() waited for every message it produced, so nothing is outstanding;
            # purge anyway so closing never blocks on a broker that went away.
            producer.purge()
            producer.flush(0)


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def _describe(exc: KafkaException) -> str:
    from confluent_kafka import KafkaError
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return f"{error.name()} ({error.str()})"
    return type(exc).__name__


def _code(exc: KafkaException) -> str | None:
    from confluent_kafka import KafkaError
    error = exc.args[0] if exc.args else None
    return error.name() if isinstance(error, KafkaError) else None


REQUIRES = ("confluent_kafka", "kafka")


def check_url(url: str, variable: str) -> None:
    parse_url(url, variable)


def max_message_bytes(url: str, variable: str = "RESULT_QUEUE_URL") -> int:
    return parse_url(url, variable).max_message_bytes


def open_queue(url: str, variable: str = "RESULT_QUEUE_URL") -> KafkaQueue:
    queue = KafkaQueue(parse_url(url, variable), variable)
    queue.connect()
    return queue
