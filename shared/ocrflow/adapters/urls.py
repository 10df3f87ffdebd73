"""Reading a backend's URL as the library that will use it reads it, without connecting: the
helpers every backend's ``check_url`` shares (and the configuration, for HTTP endpoints).
A refusal is a :class:`~ocrflow.core.errors.ConfigError` naming the variable, with the URL
redacted; a library's own message is never quoted (it may hold a piece of the password)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from ..core import redact
from ..core.errors import ConfigError

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def scheme_of(url: str) -> str:
    """The URL's scheme, lowercased (``arn`` for an SNS topic's ARN); ``""`` when it has none.
    Read without a URL parser, so no URL can make it raise."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


def refusal(variable: str, url: str, problem: str) -> ConfigError:
    return ConfigError(variable, f"{problem}: {redact.url(url)!r}")


def readable(url: str, variable: str) -> None:
    """``url`` reads as a URL at all: only printable characters (a line break or a control
    character is dropped by one parser and kept by another) and an authority the standard
    parser can split ('[' and ']' only around an IPv6 host, no character that NFKC turns
    into a delimiter). Every check below starts here, so no parser's ValueError reaches the
    caller as a traceback."""
    if not url.isprintable():
        raise refusal(variable, url, "a control character, a line break or another "
                                   "non-printable character in the URL")
    try:
        urlsplit(url)
    except ValueError:
        raise refusal(variable, url, "not a URL: '[' or ']' outside an IPv6 host, or a character "
                                   "that reads as a delimiter once normalised (percent-encode "
                                   "'[', ']', '/', '#', '?', '@' and '%' in a password)") from None


def query_of(url: str, variable: str) -> dict[str, str]:
    try:
        pairs = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=False,
                         max_num_fields=32)
    except ValueError:
        raise refusal(variable, url, "too many query options") from None
    return {k: v[-1] for k, v in pairs.items()}


def port_and_host(url: str, variable: str, default_host: bool = False) -> None:
    """The authority as the standard parser reads it; a bad port (often a password with an
    unencoded ``#``, ``/`` or ``?``) is refused here."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise refusal(variable, url, "the port is not a number from 1 to 65535 (a password with "
                                   "'/', '#', '?' or '@' must be percent-encoded)") from None
    if not parts.hostname and not default_host:
        raise refusal(variable, url, "no host")


def http_endpoint(url: str, variable: str, allow_credentials: bool = False) -> None:
    """An http(s) URL as requests/urllib3 will read it."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise refusal(variable, url, "spaces, control characters or '\\' in the URL")
    readable(url, variable)
    port_and_host(url, variable)
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise refusal(variable, url, "not a URL") from None
    if parsed.scheme not in ("http", "https"):
        raise refusal(variable, url, "expected an http:// or https:// URL")
    if parsed.auth and not allow_credentials:
        raise refusal(variable, url, "user:password@ is not allowed here (the client would send it "
                                   "as basic authentication)")
    if (parsed.host or "").lower() != (urlsplit(url).hostname or "").lower():
        raise refusal(variable, url, "the host is read differently by different URL parsers")
