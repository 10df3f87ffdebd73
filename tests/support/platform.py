"""The recognize function called the way AWS Lambda calls it: the environment set, the
module ``functions/recognize/handler.py`` loaded from its file, ``handler(event, context)``
with a Lambda context object, the runtime built from the environment on first use."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ocrflow import log, redact
from ocrflow import runtime as runtime_mod
from tests.support.harness import run_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LambdaContext:
    function_name: str = "ocrflow-recognize"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ocrflow-recognize"
    aws_request_id: str = ""
    remaining_ms: int = 60_000

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_function(name: str = "recognize") -> Callable[[Any, Any], Any]:
    spec = importlib.util.spec_from_file_location(
        f"function_{name}_{uuid.uuid4().hex}", ROOT / "functions" / name / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


@dataclass
class Platform:
    root: Path
    handler: Callable[[Any, Any], Any]

    def put(self, bucket: str, key: str, data: bytes) -> Path:
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def invoke(self, event: Any) -> Any:
        return self.handler(event, LambdaContext())

    def results(self) -> list[dict[str, Any]]:
        return list(runtime_mod.runtime().queue("result").dump())

    def failures(self) -> list[dict[str, Any]]:
        return list(runtime_mod.runtime().queue("failure").dump())


def make_platform(tmp: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str,
                  **env: str) -> Platform:
    for name, value in run_env(tmp, endpoint, AWS_LAMBDA_FUNCTION_NAME="ocrflow-recognize",
                                **env).items():
        monkeypatch.setenv(name, value)
    runtime_mod.reset_runtime()
    log._configured = None  # the cold start configures logging onto the current stderr
    return Platform(tmp / "buckets", load_function())


def tear_down() -> None:
    """After a test: no runtime, logging back on the stderr that outlives the test's capture,
    no secrets remembered from its environment."""
    runtime_mod.reset_runtime()
    log._configured = None
    # the interpreter's own stderr: this runs before a capsys capture is torn down, and a
    # logger left on the capture's stream breaks later tests once that stream is closed
    log.configure("ocrflow", "INFO", sys.__stderr__)
    redact.forget()
