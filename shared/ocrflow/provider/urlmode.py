"""URL-mode input: the OCR service fetches the object itself. Only HTTPS URLs on hosts in
``OCR_URL_ALLOWED_HOSTS`` are sent, so a route can never point the service (or us) at a
metadata endpoint or an internal address.

The bucket and key come from events, so they are never pasted into the template as they
are: the bucket must be a DNS-compatible bucket name (OBS rules) and is percent-encoded, the
key is percent-encoded except for its ``/``. The finished string is then parsed the way the
HTTP client that fetches it will (urllib3, which requests uses; browsers agree with it on
``\\``, which Python's ``urlsplit`` reads differently), and the host, scheme, port and
userinfo of *that* reading are checked, as well as that both parsers see the same host.
"""

from __future__ import annotations

import ipaddress
import string
from urllib.parse import quote, urlsplit

from ..core.errors import FailureError
from ..core.object_names import dns_bucket_problem

PLACEHOLDERS = ("bucket", "key", "region")
#: Values that stand in for an event's names when a template is checked at start.
_SAMPLE = {"bucket": "bucket", "key": "key.png", "region": "cn-north-4"}


def _refuse(reason: str) -> FailureError:
    return FailureError.of("OCRFLOW.URL_NOT_ALLOWED", reason)


def template_problem(template: str) -> str | None:
    """What is wrong with a URL template whatever the event (checked at start), or None."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"the URL template does not format ({exc})"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            return (f"unknown placeholder {{{name}}} in the URL template; only "
                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    try:
        url_problem(template.format(**_SAMPLE), None)
    except FailureError as exc:
        return exc.failure.message
    return None


def parse_allowed(entry: str) -> tuple[str, int | None]:
    """``host``, ``.suffix`` or either with ``:port``; raises ValueError when malformed."""
    if any(c in entry for c in "/@?#\\") or any(c.isspace() for c in entry.strip()):
        raise ValueError(f"{entry!r} is not a host name (no scheme, path or userinfo)")
    host, colon, port = entry.strip().lower().rpartition(":") if ":" in entry else (
        entry.strip().lower(), "", "")
    if colon and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad port in {entry!r}")
    name = host.removeprefix(".")
    labels = name.split(".")
    if (not name or any(not label for label in labels)
            or any(not all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
                   for label in labels)):
        raise ValueError(f"{entry!r} is not a host name (no scheme, path or userinfo)")
    if host.startswith(".") and len(labels) < 2:
        raise ValueError(f"the suffix {entry!r} would allow a whole top-level domain")
    return host, int(port) if colon else None


def url_problem(url: str, allowed: list[str] | None) -> None:
    """Raises ``OCRFLOW.URL_NOT_ALLOWED`` unless ``url`` is an HTTPS URL without userinfo on
    an allowed host (``allowed`` None: any host, for checking a template's shape)."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if not url.isascii() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\"
                                for c in url):
        raise _refuse("the URL has spaces, control characters, '\\' or non-ASCII characters")
    try:
        parsed = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError):
        raise _refuse("the URL does not parse") from None
    if (parsed.scheme or "").lower() != "https" or split.scheme.lower() != "https":
        raise _refuse(f"only https URLs are sent, not {parsed.scheme}://")
    if parsed.auth or split.username is not None or "@" in split.netloc:
        raise _refuse("URLs with credentials are never sent")
    host = (parsed.host or "").lower()
    if not host or host != (split.hostname or "").lower() or parsed.port != split_port:
        raise _refuse("the URL's host is read differently by different clients")
    if parsed.fragment or split.fragment:
        raise _refuse("URLs with a fragment are never sent")
    try:
        ipaddress.ip_address(host.strip("[]"))
        raise _refuse("IP-address hosts are never sent")
    except ValueError:
        pass
    if allowed is None:
        return
    for entry in allowed:
        try:
            pattern, port = parse_allowed(entry)
        except ValueError:
            continue  # refused at start; never a match
        if port != parsed.port:
            continue
        if host == pattern or (pattern.startswith(".") and host.endswith(pattern)):
            return
    shown = f"{host}:{parsed.port}" if parsed.port else host
    raise _refuse(f"host {shown!r} is not in OCR_URL_ALLOWED_HOSTS")


def build_url(template: str, bucket: str, key: str, region: str, allowed: list[str]) -> str:
    problem = template_problem(template)
    if problem is not None:
        raise _refuse(problem)
    bucket_problem = dns_bucket_problem(bucket)
    if bucket_problem is not None:
        raise _refuse(f"{bucket_problem}: it cannot be part of a URL")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise _refuse("the key has a '.' or '..' segment")
    url = template.format(bucket=quote(bucket, safe=""), key=quote(key, safe="/"),
                          region=quote(region, safe=""))
    url_problem(url, allowed)
    return url
