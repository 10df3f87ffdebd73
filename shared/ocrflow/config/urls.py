"""Every URL of the configuration checked at start, without connecting anywhere: parsed by
the library of the adapter that will use it (pika for AMQP, redis-py for Redis, the Kafka
adapter's own parser, urllib3 for HTTP endpoints), so that a URL which would fail at the
first record — an unknown scheme, a bad port, ``maxlen=abc``, a password whose unencoded
``#`` or ``/`` makes the parser read part of it as a port — stops the start instead, with
one :class:`~ocrflow.core.errors.ConfigError` naming the variable. Library messages are never
quoted (they may hold a piece of the password); the URL is shown redacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..core import redact
from ..core.errors import ConfigError, UnknownSchemeError
from ..core.object_names import bucket_problem

_SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
_DYNAMODB_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_STREAM = re.compile(r"[^\s]{1,512}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def _fail(variable: str, url: str, problem: str) -> ConfigError:
    return ConfigError(variable, f"{problem}: {redact.url(url)!r}")


def readable(url: str, variable: str) -> None:
    """``url`` reads as a URL at all: only printable characters (a line break or a control
    character is dropped by one parser and kept by another) and an authority the standard
    parser can split ('[' and ']' only around an IPv6 host, no character that NFKC turns
    into a delimiter). Every check below starts here, so no parser's ValueError reaches the
    caller as a traceback."""
    if not url.isprintable():
        raise _fail(variable, url, "a control character, a line break or another "
                                   "non-printable character in the URL")
    try:
        urlsplit(url)
    except ValueError:
        raise _fail(variable, url, "not a URL: '[' or ']' outside an IPv6 host, or a character "
                                   "that reads as a delimiter once normalised (percent-encode "
                                   "'[', ']', '/', '#', '?', '@' and '%' in a password)") from None


def _query(url: str, variable: str) -> dict[str, str]:
    try:
        pairs = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=False,
                         max_num_fields=32)
    except ValueError:
        raise _fail(variable, url, "too many query options") from None
    return {k: v[-1] for k, v in pairs.items()}


def _port_and_host(url: str, variable: str, default_host: bool = False) -> None:
    """The authority as the standard parser reads it; a bad port (often a password with an
    unencoded ``#``, ``/`` or ``?``) is refused here."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise _fail(variable, url, "the port is not a number from 1 to 65535 (a password with "
                                   "'/', '#', '?' or '@' must be percent-encoded)") from None
    if not parts.hostname and not default_host:
        raise _fail(variable, url, "no host")


def http_endpoint(url: str, variable: str, allow_credentials: bool = False) -> None:
    """An http(s) URL as requests/urllib3 will read it."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise _fail(variable, url, "spaces, control characters or '\\' in the URL")
    readable(url, variable)
    _port_and_host(url, variable)
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise _fail(variable, url, "not a URL") from None
    if parsed.scheme not in ("http", "https"):
        raise _fail(variable, url, "expected an http:// or https:// URL")
    if parsed.auth and not allow_credentials:
        raise _fail(variable, url, "user:password@ is not allowed here (the client would send it "
                                   "as basic authentication)")
    if (parsed.host or "").lower() != (urlsplit(url).hostname or "").lower():
        raise _fail(variable, url, "the host is read differently by different URL parsers")


# --- queues -----------------------------------------------------------------------------------
def _sqlite(url: str, variable: str, needs_queue: bool) -> None:
    from ..adapters.sqlite import parse_sqlite_url, synchronous_mode

    # the file's folder is made when it is opened; one that cannot be made then is a
    # queue or store that is down (redelivered, a paid answer kept), not a refusal here
    _, query = parse_sqlite_url(url, variable)
    synchronous_mode(query, url, variable)
    if needs_queue and not query.get("queue"):
        raise _fail(variable, url, "a sqlite queue URL needs ?queue=NAME")


def writable_folder(folder: Path, variable: str) -> None:
    """``folder`` exists as a writable folder, or can be made under one that does."""
    here = folder if folder.is_absolute() else Path.cwd() / folder
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise ConfigError(variable, f"{here} is not a folder")
    if not os.access(here, os.W_OK | os.X_OK):
        raise ConfigError(variable, f"folder {here} is not writable")


def _amqp(url: str, variable: str) -> None:
    import pika

    _port_and_host(url, variable)
    if not _query(url, variable).get("queue"):
        raise _fail(variable, url, "an AMQP URL needs ?queue=NAME")
    parts = urlsplit(url)
    rest = "&".join(f"{k}={v}" for k, v in _query(url, variable).items()
                    if k not in ("queue", "exchange"))
    try:
        pika.URLParameters(parts._replace(query=rest).geturl())
    except (ValueError, TypeError, KeyError):
        raise _fail(variable, url, "pika cannot read this AMQP URL (check the port, vhost and "
                                   "options; percent-encode '/', '#', '?', '@' and '%' in the "
                                   "password)") from None


def _redis(url: str, variable: str, stream: bool) -> None:
    from redis.connection import parse_url

    _port_and_host(url, variable)
    query = _query(url, variable)
    if stream:
        if not _STREAM.fullmatch(query.get("stream", "")):
            raise _fail(variable, url, "a Redis URL needs ?stream=NAME")
        maxlen = query.get("maxlen")
        if maxlen is not None and not (maxlen.isascii() and maxlen.isdigit()
                                       and 0 < int(maxlen) <= 10**12):
            raise _fail(variable, url, "maxlen must be a whole number above 0")
    path = urlsplit(url).path.strip("/")
    if path and not (path.isascii() and path.isdigit()):
        raise _fail(variable, url, "the path is the database number, /0 to /15")
    rest = {k: v for k, v in query.items() if k not in ("stream", "maxlen", "prefix")}
    parts = urlsplit(url)
    try:
        parse_url(parts._replace(query="&".join(f"{k}={v}" for k, v in rest.items())).geturl())
    except (ValueError, TypeError):
        raise _fail(variable, url, "redis-py cannot read this URL (check the port and options; "
                                   "percent-encode '/', '#', '?', '@' and '%' in the password)"
                    ) from None


def _kafka(url: str, variable: str) -> None:
    from ..adapters.queues.kafka import parse_url

    parse_url(url, variable)


def _sqs(url: str, variable: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "sqs":
        name = parts.netloc or parts.path.strip("/")
        if not _SQS_NAME.fullmatch(name):
            raise _fail(variable, url, "expected sqs://QUEUE_NAME")
        return
    http_endpoint(url, variable)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2 or not _SQS_NAME.fullmatch(segments[1]):
        raise _fail(variable, url, "expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME")


def _sns(url: str, variable: str) -> None:
    from ..adapters.queues.sns import parse_arn

    parse_arn(url, variable)


_QUEUE_CHECKS: dict[str, Callable[[str, str], None]] = {
    "sqlite": lambda u, v: _sqlite(u, v, needs_queue=True),
    "amqp": _amqp, "amqps": _amqp,
    "redis": lambda u, v: _redis(u, v, stream=True), "rediss": lambda u, v: _redis(u, v, stream=True),
    "kafka": _kafka,
    "sqs": _sqs, "https": _sqs, "http": _sqs,
    "arn": _sns,
}


# --- idempotency stores -----------------------------------------------------------------------
def _dynamodb(url: str, variable: str) -> None:
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if not _DYNAMODB_TABLE.fullmatch(table):
        raise _fail(variable, url, "expected dynamodb://TABLE (3-255 letters, digits, '_', '-', '.')")
    query = _query(url, variable)
    unknown = set(query) - {"endpoint", "region"}
    if unknown:
        raise _fail(variable, url, f"unknown options {sorted(unknown)}")
    if query.get("endpoint"):
        http_endpoint(query["endpoint"], variable)


_IDEMPOTENCY_CHECKS: dict[str, Callable[[str, str], None]] = {
    "sqlite": lambda u, v: _sqlite(u, v, needs_queue=False),
    "redis": lambda u, v: _redis(u, v, stream=False), "rediss": lambda u, v: _redis(u, v, stream=False),
    "dynamodb": _dynamodb,
}


# --- entry points -----------------------------------------------------------------------------
def _scheme(url: str, variable: str, known: Callable[[], list[str]]) -> str:
    from ..adapters.registry import known_forms

    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in known():
        raise UnknownSchemeError(variable, f"unsupported scheme in {redact.url(url)!r}; expected "
                                           f"one of {known_forms(known())}")
    readable(url, variable)
    return scheme


def queue(url: str, variable: str) -> None:
    from ..adapters.registry import queue_schemes

    scheme = _scheme(url, variable, queue_schemes)
    _run(_QUEUE_CHECKS[scheme], url, variable, scheme)


def idempotency_store(url: str, variable: str) -> None:
    from ..adapters.registry import idempotency_schemes

    scheme = _scheme(url, variable, idempotency_schemes)
    _run(_IDEMPOTENCY_CHECKS[scheme], url, variable, scheme)


def object_store(url: str, variable: str) -> str:
    """Opens the store's adapter (which reads its URL and connects to nothing); returns the
    scheme."""
    from ..adapters.registry import open_object_store, store_schemes

    scheme = _scheme(url, variable, store_schemes)
    _run(lambda u, v: open_object_store(u, v).close(), url, variable, scheme)
    return scheme


def claim_check(url: str, variable: str, store_scheme: str) -> None:
    """``s3://BUCKET/PREFIX`` (or ``obs://``, ``file://BUCKET/PREFIX``): written through the
    object store, so the bucket must be one that store can address."""
    from ..adapters.registry import store_schemes

    _scheme(url, variable, store_schemes)
    bucket = urlsplit(url).netloc
    problem = bucket_problem(bucket, store_scheme) if bucket else "no bucket"
    if problem is not None:
        raise _fail(variable, url, f"expected SCHEME://BUCKET/PREFIX ({problem})")


def _run(check: Callable[[str, str], None], url: str, variable: str, scheme: str) -> None:
    from ..adapters.registry import check_installed

    check_installed(url, variable)  # names the extra to install
    try:
        check(url, variable)
    except ImportError as exc:
        raise UnknownSchemeError(variable, f"the {scheme}:// backend needs a package that is not "
                                           f"installed ({exc.name})") from None
    except (ValueError, TypeError, KeyError, UnicodeError):
        # a library's parser refusing what the checks above let through; its message may
        # quote a piece of the password, so it is not repeated
        raise _fail(variable, url, f"the {scheme}:// backend cannot read this URL") from None
