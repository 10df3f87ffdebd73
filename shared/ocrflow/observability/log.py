"""structlog configured so every line is one JSON object in AWS Lambda Powertools' format.

Keys: ``level``, ``location`` (``func:line``), ``message``, ``timestamp``
(``2021-05-03 11:47:12,494+0000``), ``service``, ``cold_start``, ``function_name``,
``function_memory_size``, ``function_arn``, ``function_request_id``, ``xray_trace_id`` when
traced, ``correlation_id`` when set, then the event's own keys; exceptions as
``exception``, ``exception_name`` and ``stack_trace``.

Credentials, signatures, tokens, image bytes and whole events never reach a line: keys
that could hold them are replaced by ``"***"`` (see :data:`REDACTED_KEYS`), and every line,
exception and stack trace included, goes through :func:`ocrflow.core.redact.text`.

Client libraries log through the standard ``logging`` module (pika, botocore, urllib3,
redis, pypdf, and librdkafka through confluent-kafka's ``logger`` setting). Their records at
WARNING and above become lines of the same format, with ``logger`` naming the library and
passwords, signatures and keys scrubbed from the text (:func:`ocrflow.core.redact.text`); below WARNING they
are dropped. Python warnings (Pillow's ``DecompressionBombWarning``, a library's
``UserWarning``) become such lines too (``logger`` ``py.warnings``), and so do the messages
libtiff writes to the process's stderr on its own once :func:`route_image_library_messages`
ran (the image code calls it when it loads Pillow). So every line on stderr is one of ours.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
import warnings
from collections.abc import MutableMapping
from datetime import datetime, timezone
from typing import IO, Any, TextIO, cast

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, merge_contextvars

from ..core import redact
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
    """The JSON renderer, then one :func:`ocrflow.core.redact.text` over the whole line: cheaper
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
                   "confluent_kafka", "ocrflow", "PIL", "pypdf", "pypdfium2")
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
        try:
            structlog.get_logger().log(record.levelno, redact.text(message)[:2000], **fields)
        except (ValueError, OSError):
            # the stream is closed or gone (a process shutting down): the line is lost, and
            # the library that logged it — a producer flushing as it closes — goes on
            pass


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


def _library_line(level: int, logger: str, location: str, message: str) -> None:
    """One line for something a library said, redacted before the cut (as its records)."""
    structlog.get_logger().log(level, redact.text(message)[:2000], logger=logger,
                               location=location)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning``: a warning as one of our lines instead of two raw ones."""
    if file is not None:  # shown to a file someone chose: theirs, as it was
        _original_show_warning(message, category, filename, lineno, file, line)
        return
    try:
        _library_line(logging.WARNING, "py.warnings", f"{os.path.basename(filename)}:{lineno}",
                      f"{category.__name__}: {message}")
    except Exception:  # noqa: BLE001, S110 - a warning must never break the code that warned
        pass


_original_show_warning = warnings.showwarning
_native_lock = threading.Lock()
#: The C callbacks handed to native libraries, kept alive for the process (a callback that
#: is collected while the library still holds it would crash the process).
_native_callbacks: list[Any] = []
_native_routed = False


def route_image_library_messages() -> None:
    """Makes libtiff's errors (``ZIPDecode: Decoding error at scanline 0, …``, written by
    libtiff straight to the process's stderr while Pillow decodes a broken TIFF) lines of
    ours, at WARNING with ``logger`` ``libtiff``. Call it after importing Pillow; once per
    process, cheap after the first call. (Pillow already silences libtiff's warnings itself;
    its errors it leaves to libtiff's default handler.)

    The handler is libtiff's own hook (``TIFFSetErrorHandler``), found through Pillow's
    ``_imaging`` module, so it sees exactly libtiff's messages, from any decoding thread,
    and nothing else. Redirecting file descriptor 2 around decoding would instead capture
    whatever other threads write meanwhile, our own lines included. Where the hook cannot be
    found (a Pillow built without libtiff), nothing changes."""
    global _native_routed
    if _native_routed:
        return
    with _native_lock:
        if _native_routed:
            return
        _native_routed = True
        try:
            _route_libtiff()
        except (ImportError, OSError, AttributeError):  # no libtiff in this Pillow
            pass


def _route_libtiff() -> None:
    import ctypes

    from PIL import _imaging

    # symbols of _imaging's own dependencies (the libtiff it was linked with) resolve here
    set_handler = ctypes.CDLL(_imaging.__file__).TIFFSetErrorHandler
    try:
        vsnprintf: Any = ctypes.CDLL(None).vsnprintf
        vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError, TypeError):
        vsnprintf = None  # the format string alone, unformatted
    # va_list reaches a handler as one pointer-sized argument on the ABIs Pillow ships for
    # (an array that decays to a pointer, a structure passed by reference, or a char *)
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)

    def on_error(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        try:
            text = (fmt or b"").decode("utf-8", "replace")
            if vsnprintf is not None and fmt:
                buffer = ctypes.create_string_buffer(1024)
                vsnprintf(buffer, len(buffer), fmt, args)
                text = buffer.value.decode("utf-8", "replace")
            where = (module or b"libtiff").decode("utf-8", "replace")
            _library_line(logging.WARNING, "libtiff", where[:100], f"{where}: {text}")
        except Exception:  # noqa: BLE001, S110 - never raise into C (logging is what failed)
            pass

    callback = handler_type(on_error)
    set_handler.argtypes = [handler_type]
    set_handler.restype = ctypes.c_void_p
    set_handler(callback)
    _native_callbacks.append(callback)


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
    warnings.showwarning = _show_warning


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
