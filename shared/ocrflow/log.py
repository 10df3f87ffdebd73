"""structlog configured so every line is one JSON object in AWS Lambda Powertools' format.

Keys: ``level``, ``location`` (``func:line``), ``message``, ``timestamp``
(``2021-05-03 11:47:12,494+0000``), ``service``, ``cold_start``, ``function_name``,
``function_memory_size``, ``function_arn``, ``function_request_id``, ``xray_trace_id`` when
traced, ``correlation_id`` when set, then the event's own keys; exceptions as
``exception``, ``exception_name`` and ``stack_trace``.

Credentials, signatures, tokens, image bytes and whole events never reach a line: keys
that could hold them are replaced by ``"***"`` (see :data:`REDACTED_KEYS`), and every line,
exception and stack trace included, goes through :func:`ocrflow.redact.text`.

Client libraries log through the standard ``logging`` module (pika, botocore, urllib3,
redis, and librdkafka through confluent-kafka's ``logger`` setting). Their records at
WARNING and above become lines of the same format, with ``logger`` naming the library and
passwords, signatures and keys scrubbed from the text (:func:`ocrflow.redact.text`); below WARNING they
are dropped. So every line on stderr is one of ours.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import MutableMapping
from datetime import datetime, timezone
from typing import IO, Any, TextIO, cast

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, merge_contextvars

from . import redact
from .terminal import json_text

REDACTED_KEYS = frozenset({
    "authorization", "x-auth-token", "x-security-token", "sk", "secret", "secret_key",
    "security_token", "token", "iam_token", "password", "signature", "image", "data", "body",
    "event", "headers",
})
_FIRST = ("level", "location", "message", "timestamp", "service", "cold_start",
          "function_name", "function_memory_size", "function_arn", "function_request_id",
          "xray_trace_id", "correlation_id")
_cold_start = True
_configured: tuple[str, str, int] | None = None


def _timestamp(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    now = datetime.now(timezone.utc)
    event["timestamp"] = now.strftime("%Y-%m-%d %H:%M:%S,") + f"{now.microsecond // 1000:03d}+0000"
    return event


def _level(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["level"] = {"warn": "WARNING", "exception": "ERROR"}.get(method, method.upper())
    return event


def _location(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    func = event.pop("func_name", None)
    line = event.pop("lineno", None)
    if func is not None and "location" not in event:  # a library's record brings its own
        event["location"] = f"{func}:{line}"
    return event


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in REDACTED_KEYS:
            event[key] = "***"
    return event


def _exception(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    exc_info = event.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        etype, value, tb = exc_info
        if etype is not None:
            event["exception"] = "".join(traceback.format_exception(etype, value, tb))
            event["exception_name"] = etype.__name__
            frames = traceback.extract_tb(tb)
            event["stack_trace"] = {
                "type": etype.__name__, "value": str(value)[:500], "module": etype.__module__,
                "frames": [{"file": f.filename, "line": f.lineno, "function": f.name} for f in frames],
            }
    return event


class _RedactedJson:
    """The JSON renderer, then one :func:`ocrflow.redact.text` over the whole line: cheaper
    than one pass per value (a few microseconds a line instead of about twenty), and
    nothing added by a processor or an exception escapes it. Characters that readers take
    for line ends (U+2028, U+2029, U+0085) and the other non-printable ones are written as
    ``\\u`` escapes, so a line stays one line whatever a key or a library's text holds."""

    def __init__(self) -> None:
        self._render = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        return json_text(redact.text(str(self._render(logger, method, event))))


def _order(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # structlog keeps the message under "event"; Powertools calls it "message"
    event["message"] = event.pop("event", event.get("message"))
    ordered = {k: event.pop(k) for k in _FIRST if k in event}
    ordered.update((k, v) for k, v in event.items() if v is not None)
    return ordered


#: Loggers of the client libraries a function may load; their records go through
#: :class:`_LibraryRecords` only (not to handlers of the root logger, which would print them
#: a second time, unformatted).
LIBRARY_LOGGERS = ("pika", "botocore", "boto3", "s3transfer", "urllib3", "redis",
                   "confluent_kafka", "ocrflow")
class _LibraryRecords(logging.Handler):
    """Writes a library's ``logging`` record as one of our JSON lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must not break the caller
            message = str(record.msg)
        fields: dict[str, Any] = {"logger": record.name,
                                  "location": f"{record.funcName}:{record.lineno}"}
        if record.exc_info and record.exc_info[0] is not None:
            fields["exception_name"] = record.exc_info[0].__name__
        # redacted before the cut, so no secret is split where the line's own pass cannot see it
        structlog.get_logger().log(record.levelno, redact.text(message)[:2000], **fields)


_library_handler = _LibraryRecords(logging.WARNING)


def _route_library_logs() -> None:
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _library_handler not in logger.handlers:
            logger.addHandler(_library_handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:  # else the platform's own handler already serves other loggers
        root.addHandler(_library_handler)


def configure(service: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Idempotent: the same service and level configure once per process."""
    global _configured
    key = (service, level, id(stream))
    if _configured == key:
        return
    _configured = key

    def _service(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        # also on lines from threads that never saw the invocation's context (a client
        # library's I/O thread)
        event.setdefault("service", service)
        return event

    structlog.configure(
        processors=[
            merge_contextvars,
            _service,
            _level,
            structlog.processors.CallsiteParameterAdder(
                {structlog.processors.CallsiteParameter.FUNC_NAME,
                 structlog.processors.CallsiteParameter.LINENO}),
            _location,
            _timestamp,
            _order,
            _redact,
            _exception,
            _RedactedJson(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, stream or sys.stderr)),
        cache_logger_on_first_use=False,
    )
    bind_contextvars(service=service)
    _route_library_logs()


def bind_invocation(context: Any, service: str) -> bool:
    """Binds the Powertools context keys for one invocation; returns whether this is the
    cold start. Works with a Lambda context, a FunctionGraph context or none."""
    global _cold_start
    cold, _cold_start = _cold_start, False
    clear_contextvars()
    fields: dict[str, Any] = {"service": service, "cold_start": cold}
    if context is not None:
        if hasattr(context, "aws_request_id"):  # AWS Lambda
            fields.update(
                function_name=getattr(context, "function_name", None),
                function_memory_size=getattr(context, "memory_limit_in_mb", None),
                function_arn=getattr(context, "invoked_function_arn", None),
                function_request_id=context.aws_request_id,
            )
        elif hasattr(context, "getRequestID"):  # Huawei FunctionGraph
            fields.update(
                function_name=_call(context, "getFunctionName"),
                function_memory_size=_call(context, "getMemorySize"),
                function_request_id=_call(context, "getRequestID"),
            )
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    if trace:
        fields["xray_trace_id"] = trace.split(";")[0].removeprefix("Root=")
    bind_contextvars(**{k: v for k, v in fields.items() if v is not None})
    return cold


def _call(obj: Any, name: str) -> Any:
    method = getattr(obj, name, None)
    try:
        return method() if callable(method) else None
    except Exception:  # noqa: BLE001 - a context helper must never break logging
        return None


def get_logger() -> Any:
    return structlog.get_logger()
