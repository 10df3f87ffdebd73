"""A password with ``@ : / # %`` in it, fed through every adapter's failure path against the
real services, never shows: not in a log line, not in the handler's answer or exception, not
in a message. The URLs are well formed (the password percent-encoded) and the password is
wrong, so each adapter fails where it talks to its service."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import load_event
from tests.integration.kafka_broker import TansuBroker
from tests.support.platform import make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

pytest_plugins = ["tests.integration.kafka_broker"]  # the Kafka broker fixtures, only where used

PASSWORD = "Pw0rd@Leak:Sl/ash#Hash%Perc?Quest"
PIECES = ["Pw0rd", "Leak", "Sl/ash", "Hash", "Perc", "Quest", quote(PASSWORD, safe="")]
SECRET = quote(PASSWORD, safe="")


def batch(key: str) -> dict[str, Any]:
    notification = load_event("s3_put.json")
    notification["Records"][0]["s3"]["object"] = {"key": key}
    record = copy.deepcopy(load_event("sqs_batch_s3.json")["Records"][0])
    record["messageId"], record["body"] = "m-1", json.dumps(notification)
    return {"Records": [record]}


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    tear_down()


def run_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
             capsys: pytest.CaptureFixture[str], **env: str) -> tuple[Any, str]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}", **env)
    p.put("ocrflow-uploads", "a.png", png_bytes())
    try:
        answer: Any = p.invoke(batch("a.png"))
    except Exception as exc:  # noqa: BLE001 - its text is what is checked
        answer = f"{type(exc).__name__}: {exc}"
    return answer, capsys.readouterr().err


def assert_never_shown(*texts: str) -> None:
    for text in texts:
        for piece in PIECES:
            assert piece not in text, f"{piece!r} shown in {text[:300]!r}"


def test_amqp_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             replay: ReplayServer, capsys: pytest.CaptureFixture[str],
                             rabbitmq: str, cleanup: None) -> None:
    queue = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    answer, logs = run_with(tmp_path, monkeypatch, replay, capsys,
                            RESULT_QUEUE_URL=f"amqp://guest:{SECRET}@127.0.0.1:5672/%2F?queue={queue}")
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert "unreachable" in logs  # the failure path was taken and logged
    assert_never_shown(json.dumps(answer), logs)


def test_redis_stream_and_idempotency_wrong_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        capsys: pytest.CaptureFixture[str], redis_url: str, cleanup: None) -> None:
    stream = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    answer, logs = run_with(
        tmp_path, monkeypatch, replay, capsys,
        RESULT_QUEUE_URL=f"redis://ocrflow-nobody:{SECRET}@127.0.0.1:6379/0?stream={stream}",
        IDEMPOTENCY_STORE_URL=f"redis://ocrflow-nobody:{SECRET}@127.0.0.1:6379/0?prefix={stream}:")
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert "OCRFLOW.IDEMPOTENCY_UNAVAILABLE" in logs
    assert_never_shown(json.dumps(answer), logs)


def test_kafka_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              replay: ReplayServer, capsys: pytest.CaptureFixture[str],
                              kafka_broker: TansuBroker, cleanup: None) -> None:
    topic = f"ocrflow-test-{uuid.uuid4().hex[:8]}"
    url = (f"kafka://u:{SECRET}@{kafka_broker.bootstrap}/{topic}"
           "?security_protocol=SASL_PLAINTEXT&delivery_timeout_ms=3000")
    answer, logs = run_with(tmp_path, monkeypatch, replay, capsys, RESULT_QUEUE_URL=url)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert_never_shown(json.dumps(answer), logs)


@pytest.mark.parametrize("variable, url", [
    ("RESULT_QUEUE_URL", f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F?queue=q"),
    ("RESULT_QUEUE_URL", f"redis://default:{PASSWORD}@127.0.0.1:6379/0?stream=s"),
    ("IDEMPOTENCY_STORE_URL", f"redis://default:{PASSWORD}@127.0.0.1:6379/0"),
    ("RESULT_QUEUE_URL", f"kafka://u:{PASSWORD}@127.0.0.1:9092/topic"),
    ("RESULT_QUEUE_URL", f"https://u:{SECRET}@sqs.us-east-1.amazonaws.com/123456789012/q"),
    ("IDEMPOTENCY_STORE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:5432/ocrflow"),
    ("IDEMPOTENCY_STORE_URL", f"postgresql://u:{SECRET}@127.0.0.1:5432/ocrflow"),
    ("OCR_ENDPOINT", f"https://u:{SECRET}@ocr.{{region}}.myhuaweicloud.com"),
    ("OCR_ENDPOINT", f"ftp://u:{PASSWORD}@ocr.example"),
])
def test_raw_and_encoded_passwords_in_refused_urls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        capsys: pytest.CaptureFixture[str], variable: str, url: str, cleanup: None) -> None:
    """The platform's cold start fails on the configuration; its exception text is what
    the platform logs."""
    answer, logs = run_with(tmp_path, monkeypatch, replay, capsys, **{variable: url})
    assert isinstance(answer, str) and f"Error: {variable}: " in answer, answer
    assert_never_shown(answer, logs)
    assert replay.received == []
