"""The ``?endpoint=&region=&addressing=`` options the S3-API stores (``s3://``, ``obs://``)
share."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ...core import redact
from ...core.errors import ConfigError

OPTIONS = ("endpoint", "region", "addressing")


def store_options(url: str) -> dict[str, str]:
    """The ``?endpoint=&region=&addressing=`` of an ``s3://`` or ``obs://`` URL, checked."""
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    unknown = set(query) - set(OPTIONS)
    if unknown:
        raise ConfigError("OBJECT_STORE_URL", f"unknown options {sorted(unknown)}; "
                          f"expected {', '.join(OPTIONS)}")
    if query.get("addressing") not in (None, "virtual", "path"):
        raise ConfigError("OBJECT_STORE_URL", "addressing is virtual or path")
    endpoint = query.get("endpoint")
    if endpoint is not None:  # read as the client library will read it
        from ..urls import http_endpoint

        if not endpoint.lower().startswith(("http://", "https://")):
            raise ConfigError("OBJECT_STORE_URL",
                              f"endpoint must be an http(s) URL, got {redact.url(endpoint)[:80]!r}")
        http_endpoint(endpoint, "OBJECT_STORE_URL")
    return query
