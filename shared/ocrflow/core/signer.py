"""Huawei Cloud AK/SK request signing (``SDK-HMAC-SHA256``).

One implementation serves both sides: the OCR client signs with :func:`sign`, the local
emulator checks with :func:`verify`. It agrees with the official SDK core's test vectors
(``tests/unit/test_signer.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: The gateway refuses a request whose X-Sdk-Date is further than this from its clock.
MAX_SKEW_S = 15 * 60

_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,]+),\s*SignedHeaders=(?P<signed>[^,]+),"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)$"
)


@dataclass(frozen=True)
class Credentials:
    """AK/SK, with the security token of temporary credentials when there is one."""

    ak: str
    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never show the secret parts
        return f"Credentials(ak={self.ak[:4]}…, temporary={self.security_token is not None})"


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    segments = unquote(path).split("/")
    uri = "/".join(_encode(s) for s in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    # The SDK leaves out headers with an underscore (proxies drop them) and multipart bodies'
    # content type; everything else present is signed.
    names = []
    for name, value in headers.items():
        lower = name.lower()
        if "_" in lower or lower == "authorization":
            continue
        if lower == "content-type" and "multipart/form-data" in value:
            continue
        names.append(lower)
    return sorted(names)


def canonical_request(method: str, path: str, query: Iterable[tuple[str, str]],
                      headers: Mapping[str, str], signed: list[str], body: bytes) -> str:
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed)
    return "\n".join([
        method.upper(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])


def signature(sk: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, sdk_date, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes,
         credentials: Credentials, now: datetime | None = None) -> dict[str, str]:
    """Returns ``headers`` plus ``Host``, ``X-Sdk-Date``, ``X-Security-Token`` (temporary
    credentials) and ``Authorization``. The input mapping is not changed."""
    parts = urlsplit(url)
    out = dict(headers)
    lower = {k.lower() for k in out}
    if "host" not in lower:
        out["Host"] = parts.netloc
    if "x-sdk-date" not in lower:
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        out[DATE_HEADER] = moment.strftime(DATE_FORMAT)
    if credentials.security_token and "x-security-token" not in lower:
        out["X-Security-Token"] = credentials.security_token
    sdk_date = next(v for k, v in out.items() if k.lower() == "x-sdk-date")
    signed = signed_header_names(out)
    canonical = canonical_request(
        method, parts.path or "/", parse_qsl(parts.query, keep_blank_values=True), out, signed, body
    )
    sig = signature(credentials.sk, sdk_date, canonical)
    out["Authorization"] = (f"{ALGORITHM} Access={credentials.ak}, "
                            f"SignedHeaders={';'.join(signed)}, Signature={sig}")
    return out


@dataclass(frozen=True)
class Authorization:
    ak: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    match = _AUTH_RE.match(value.strip())
    if not match:
        return None
    return Authorization(match["ak"].strip(), match["signed"].strip().split(";"), match["sig"].lower())


class VerifyError(Exception):
    """Why a signed request was refused: ``reason`` is ``unsigned``, ``malformed``,
    ``unknown_ak``, ``date``, ``skew`` or ``signature``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
           secret_for: Mapping[str, str] | None, now: datetime | None = None) -> str:
    """Checks a signed request; returns the AK. ``secret_for`` maps AK → SK (None accepts
    any AK but still checks the form and the date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    auth_value = lowered.get("authorization")
    if not auth_value:
        raise VerifyError("unsigned", "no Authorization header")
    auth = parse_authorization(auth_value)
    if auth is None:
        raise VerifyError("malformed", "Authorization is not SDK-HMAC-SHA256")
    sdk_date = lowered.get("x-sdk-date", "")
    try:
        signed_at = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise VerifyError("date", "X-Sdk-Date missing or not YYYYMMDDTHHMMSSZ") from None
    current = now or datetime.now(timezone.utc)
    if abs((current - signed_at).total_seconds()) > MAX_SKEW_S:
        raise VerifyError("skew", "X-Sdk-Date is more than 15 minutes from the server's clock")
    if secret_for is None:
        return auth.ak
    sk = secret_for.get(auth.ak)
    if sk is None:
        raise VerifyError("unknown_ak", "unknown access key")
    missing = [h for h in auth.signed_headers if h not in lowered]
    if missing or "x-sdk-date" not in auth.signed_headers:
        raise VerifyError("malformed", "signed headers missing from the request")
    canonical = canonical_request(
        method, path, parse_qsl(query, keep_blank_values=True), lowered, auth.signed_headers, body
    )
    expected = signature(sk, sdk_date, canonical)
    if not hmac.compare_digest(expected, auth.signature):
        raise VerifyError("signature", "signature does not match")
    return auth.ak
