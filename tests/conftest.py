"""Fixtures shared by every test folder."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Generated inputs are a fixed, bounded set per run (derandomized): ``make test`` takes the
# same time every run and a failure found once is found again. HYPOTHESIS_PROFILE=explore
# draws fresh examples (and more of them) when hunting by hand.
settings.register_profile("ocrflow", deadline=None, database=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ocrflow"))

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "shared") not in sys.path:  # the package is installed by `make test`; this
    sys.path.insert(0, str(ROOT / "shared"))  # keeps a bare `pytest` working from a checkout
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENTS = ROOT / "tests" / "events"

#: Each test folder is a marker, applied here from the folder: ``pytest -m "not integration"``
#: runs everything that needs no service (RabbitMQ, Redis, moto, a Kafka broker).
FOLDER_MARKERS = ("unit", "integration", "e2e", "contract")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = ROOT / "tests"
    for item in items:
        path = Path(str(item.path)).resolve()
        parts = path.relative_to(tests).parts if path.is_relative_to(tests) else ()
        if parts and parts[0] in FOLDER_MARKERS:
            item.add_marker(parts[0])


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text("utf-8"))


def cloudevents_sdk_check(message: dict[str, Any]) -> None:
    """The official CloudEvents SDK reads the message as a valid structured CloudEvent 1.0
    with its extensions (``traceparent``, ``tracestate``) and its data intact."""
    from cloudevents.core.formats.json import JSONFormat

    read = JSONFormat().read(None, json.dumps(message, ensure_ascii=False))
    assert read.get_id() == message["id"] and read.get_type() == message["type"]
    assert read.get_data() == message["data"]
    for name in ("traceparent", "tracestate"):
        assert read.get_extension(name) == message.get(name)


@pytest.fixture
def validate_message() -> Any:
    """Validates a message (dict or bytes) against the JSON Schema shipped for its type, with
    the official CloudEvents SDK, and reads it back with the consumer helper."""
    import jsonschema

    from ocrflow import consumer
    from ocrflow.contract import messages

    checkers = {kind: jsonschema.Draft202012Validator(
        messages.schema(kind), format_checker=jsonschema.FormatChecker())
        for kind in (messages.RESULT_TYPE, messages.FAILURE_TYPE)}

    def check(message: Any) -> dict[str, Any]:
        if isinstance(message, (bytes, str)):
            message = json.loads(message)
        checkers[message["type"]].validate(message)
        cloudevents_sdk_check(message)
        assert consumer.parse(message).id == message["id"]
        return message  # type: ignore[no-any-return]

    return check


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Captures every structured log line written while the test runs."""
    from ocrflow.observability import log

    stream = io.StringIO()
    log._configured = None
    log.configure("ocrflow-test", "DEBUG", stream)
    yield stream
    log._configured = None


@pytest.fixture
def replay() -> Iterator[Any]:
    from tests.support.replay_server import ReplayServer

    server = ReplayServer()
    yield server
    server.stop()


@pytest.fixture
def cloud_eye() -> Iterator[Any]:
    """A local Cloud Eye metric-data endpoint: records requests, answers 201 with no body."""
    from tests.support.replay_server import Answer, ReplayServer

    server = ReplayServer()
    server.default = Answer(status=201, body=b"")
    yield server
    server.stop()
