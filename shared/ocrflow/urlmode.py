"""URL-mode input: the OCR service fetches the object itself. Only HTTPS URLs on hosts in
``OCR_URL_ALLOWED_HOSTS`` are sent, so a route can never point the service (or us) at a
metadata endpoint or an internal address."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, urlsplit

from .errors import FailureError


def build_url(template: str, bucket: str, key: str, region: str, allowed: list[str]) -> str:
    url = template.format(bucket=bucket, key=quote(key, safe="/"), region=region)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise FailureError.of("OCRFLOW.URL_NOT_ALLOWED", f"only https URLs are sent, not {parts.scheme}://")
    try:
        ipaddress.ip_address(host)
        raise FailureError.of("OCRFLOW.URL_NOT_ALLOWED", "IP-address hosts are never sent")
    except ValueError:
        pass
    if parts.username or parts.password:
        raise FailureError.of("OCRFLOW.URL_NOT_ALLOWED", "URLs with credentials are never sent")
    if not any(host == h.lower() or (h.startswith(".") and host.endswith(h.lower()))
               for h in allowed):
        raise FailureError.of("OCRFLOW.URL_NOT_ALLOWED",
                              f"host {host!r} is not in OCR_URL_ALLOWED_HOSTS")
    return url
