"""The recognize function called the way AWS Lambda or Huawei FunctionGraph calls it: the
environment set, the module ``functions/recognize/handler.py`` loaded from its file,
``handler(event, context)`` with that platform's context object, the runtime built from the
environment on first use."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ocrflow import runtime as runtime_mod
from ocrflow.core import redact
from ocrflow.observability import log
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


class FunctionGraphLogger:
    """What ``context.getLogger()`` returns: ``info`` (and its siblings) write one
    "time-request id-content" line."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.lines: list[str] = []

    def _log(self, level: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.lines.append(f"{stamp} {self.request_id} {level} {message}")

    def info(self, message: str) -> None:
        self._log("INFO", message)

    def warn(self, message: str) -> None:
        self._log("WARN", message)

    def error(self, message: str) -> None:
        self._log("ERROR", message)

    def debug(self, message: str) -> None:
        self._log("DEBUG", message)


@dataclass
class FunctionGraphContext:
    """The context FunctionGraph hands a Python event function: the methods of its SDK
    interface (FunctionGraph developer guide, Python, "Developing an Event Function", SDK
    APIs). The agency's temporary keys come from ``getSecurityAccessKey``,
    ``getSecuritySecretKey`` and ``getSecurityToken``; ``getAccessKey`` and ``getSecretKey``
    are no longer maintained and give no keys. The project id is in the environment
    (``RUNTIME_PROJECT_ID``, see :func:`functiongraph_env`)."""

    request_id: str = ""
    remaining_ms: int = 60_000
    access_key: str = "TEMPAKFUNCTIONGRAPH0"
    secret_key: str = "temp-sk-functiongraph-0000000000"
    security_token: str = "temp-security-token-functiongraph"
    function_name: str = "ocrflow-recognize"
    package: str = "default"
    version: str = "latest"
    alias: str = ""
    memory_mb: int = 512
    timeout_s: int = 300
    user_data: dict[str, str] = field(default_factory=dict)
    logger: FunctionGraphLogger | None = None

    def __post_init__(self) -> None:
        self.request_id = self.request_id or str(uuid.uuid4())
        self.logger = self.logger or FunctionGraphLogger(self.request_id)

    def getRequestID(self) -> str:  # noqa: N802 - FunctionGraph's names
        return self.request_id

    def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802
        return self.remaining_ms

    def getAccessKey(self) -> str:  # noqa: N802
        return ""

    def getSecretKey(self) -> str:  # noqa: N802
        return ""

    def getSecurityAccessKey(self) -> str:  # noqa: N802
        return self.access_key

    def getSecuritySecretKey(self) -> str:  # noqa: N802
        return self.secret_key

    def getSecurityToken(self) -> str:  # noqa: N802
        return self.security_token

    def getToken(self) -> str:  # noqa: N802
        return "MIIFunctionGraphAgencyIamToken"

    def getUserData(self, key: str) -> str | None:  # noqa: N802
        return self.user_data.get(key)

    def getFunctionName(self) -> str:  # noqa: N802
        return self.function_name

    def getRunningTimeInSeconds(self) -> int:  # noqa: N802
        return self.timeout_s

    def getVersion(self) -> str:  # noqa: N802
        return self.version

    def getMemorySize(self) -> int:  # noqa: N802
        return self.memory_mb

    def getCPUNumber(self) -> int:  # noqa: N802
        return max(1, self.memory_mb // 128) * 100

    def getPackage(self) -> str:  # noqa: N802
        return self.package

    def getAlias(self) -> str:  # noqa: N802
        return self.alias

    def getLogger(self) -> FunctionGraphLogger:  # noqa: N802
        assert self.logger is not None
        return self.logger


FUNCTIONGRAPH_PROJECT_ID = "fa1b2c3d4e5f60718293a4b5c6d7e8f9"


def functiongraph_env(code_root: Path, function_name: str = "ocrflow-recognize",
                      handler: str = "handler.handler") -> dict[str, str]:
    """The preset variables FunctionGraph puts in every function's environment (they cannot
    be configured; a function's own variables come beside them)."""
    return {
        "RUNTIME_PROJECT_ID": FUNCTIONGRAPH_PROJECT_ID,
        "RUNTIME_FUNC_NAME": function_name,
        "RUNTIME_FUNC_VERSION": "latest",
        "RUNTIME_PACKAGE": "default",
        "RUNTIME_HANDLER": handler,
        "RUNTIME_TIMEOUT": "300",
        "RUNTIME_USERDATA": "",
        "RUNTIME_CPU": "400",
        "RUNTIME_MEMORY": "512",
        "RUNTIME_MAX_RESP_BODY_SIZE": "6291456",
        "RUNTIME_ROOT": "/home/snuser/runtime",
        "RUNTIME_CODE_ROOT": str(code_root),
        "RUNTIME_LOG_DIR": "/home/snuser/log",
    }


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
    context: Callable[[], Any] = LambdaContext

    def put(self, bucket: str, key: str, data: bytes) -> Path:
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def invoke(self, event: Any, context: Any = None) -> Any:
        return self.handler(event, context if context is not None else self.context())

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


#: the keys a FunctionGraph function with an agency does not have in its environment
STATIC_KEYS = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
               "HUAWEICLOUD_SDK_SECRET_ARN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME")


def make_functiongraph_platform(tmp: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str,
                                **env: str) -> Platform:
    """The recognize function as FunctionGraph runs it with a function agency: its preset
    variables, the function's own variables (``env``), no key anywhere in the environment,
    and a :class:`FunctionGraphContext` on every invocation."""
    values = {**run_env(tmp, endpoint), **functiongraph_env(tmp / "code"), **env}
    for name in STATIC_KEYS:
        values.pop(name, None)
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    runtime_mod.reset_runtime()
    log._configured = None
    return Platform(tmp / "buckets", load_function(), FunctionGraphContext)


def tear_down() -> None:
    """After a test: no runtime, logging back on the stderr that outlives the test's capture,
    no secrets remembered from its environment."""
    runtime_mod.reset_runtime()
    log._configured = None
    # the interpreter's own stderr: this runs before a capsys capture is torn down, and a
    # logger left on the capture's stream breaks later tests once that stream is closed
    log.configure("ocrflow", "INFO", sys.__stderr__)
    redact.forget()
