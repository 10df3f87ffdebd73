"""``obs://``: Huawei Cloud OBS through its S3-compatible API, signed with AWS Signature V4.

No SDK: a few signed requests over the ``requests`` session the function already carries.
``make bench`` measures why (``obs_client_alternatives``): boto3 adds about 2,200 files and
17 MB to the FunctionGraph zip and Huawei's ``esdk-obs-python`` about 330 files and 3 MB
(pycryptodome, crcmod), and both take longer from a cold start to the first read, for four
operations whose signing is the same as the official OBS SDK's ``V4Authentication``
(``tests/unit/test_obs_signing.py`` checks it against that SDK and against botocore).

Credentials, first found wins: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
(``AWS_SESSION_TOKEN``) in the environment, as configured keys for OBS; else the
invocation's own (:meth:`ObsStore.scoped`): configured ``HUAWEICLOUD_SDK_AK``/``_SK``, or the
temporary AK, SK and security token of a FunctionGraph agency, which rotate and so are
handed in per invocation. The token travels as ``x-amz-security-token``.

Endpoint: ``?endpoint=`` when given; else ``https://obs.{region}.myhuaweicloud.com`` for the
region the event names (``?region=`` overrides it). Buckets are addressed virtual-host style
(``BUCKET.obs.…``), path style for an IP or ``localhost`` endpoint, a bucket name with dots
over HTTPS, or ``?addressing=path``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import random
import re
import threading
import time
import xml.etree.ElementTree as ET  # noqa: S405 - answers of the configured OBS endpoint
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from ...core.errors import (
    ConfigError,
    ObjectChanged,
    ObjectNotFound,
    ObjectStoreError,
    ObjectTooLarge,
)
from ...core.models import ObjectHead
from ...core.signer import Credentials
from ..httpsession import new_session, proxies_for
from .options import store_options
from .port import ObjectStore

if TYPE_CHECKING:
    import requests

ENDPOINT_TEMPLATE = "https://obs.{region}.myhuaweicloud.com"
ALGORITHM = "AWS4-HMAC-SHA256"
#: As the official OBS SDK signs: the body is protected by TLS, not hashed into the signature.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound"}
ATTEMPTS = 3
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+$")


# --- AWS Signature V4, as OBS's S3-compatible API takes it ----------------------------------
def _uri_encode(value: str, safe: str = "") -> str:
    return quote(value, safe="-_.~" + safe)


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(params.items()))


def signing_key(sk: str, date: str, region: str, service: str = "s3") -> bytes:
    key = hmac.new(("AWS4" + sk).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign_v4(method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str],
            credentials: Credentials, region: str, now: datetime,
            payload_hash: str = UNSIGNED_PAYLOAD) -> dict[str, str]:
    """``headers`` plus ``x-amz-date``, ``x-amz-content-sha256``, ``x-amz-security-token``
    (temporary credentials) and ``Authorization``; every header given is signed. ``path`` is
    the request path as sent (already percent-encoded), ``headers`` must hold ``host``."""
    moment = now.astimezone(timezone.utc)
    amz_date, date = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    out = {k.lower(): v for k, v in headers.items()}
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    if credentials.security_token:
        out["x-amz-security-token"] = credentials.security_token
    names = sorted(out)
    canonical = "\n".join([
        method.upper(), path, canonical_query(params),
        "".join(f"{n}:{' '.join(str(out[n]).split())}\n" for n in names),
        ";".join(names), payload_hash,
    ])
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.sk, date, region), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    out["authorization"] = (f"{ALGORITHM} Credential={credentials.ak}/{scope},"
                            f"SignedHeaders={';'.join(names)},Signature={signature}")
    return out


def _env_credentials(env: Mapping[str, str]) -> Credentials | None:
    ak, sk = env.get("AWS_ACCESS_KEY_ID", "").strip(), env.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if ak and sk:
        return Credentials(ak, sk, env.get("AWS_SESSION_TOKEN", "").strip() or None)
    return None


def _is_ip_or_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Transport:
    """The HTTP session shared by every scoped view of one store (one per process)."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None
        self._proxies: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = new_session(16)
        return self._session

    def proxies_for(self, origin: str) -> dict[str, str]:
        return proxies_for(self._proxies, origin)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


class ObsStore(ObjectStore):
    def __init__(self, endpoint: str | None = None, region: str | None = None,
                 addressing: str | None = None, static: Credentials | None = None,
                 credentials: Credentials | None = None, event_region: str | None = None,
                 transport: _Transport | None = None) -> None:
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.region, self.addressing, self.static = region, addressing, static
        self._credentials = credentials
        self._event_region = event_region
        self._transport = transport or _Transport()

    def scoped(self, credentials: Credentials | None = None, region: str | None = None) -> ObsStore:
        """This store as one invocation uses it: with its credentials (configured OBS keys
        still win) and the region its event names (a configured endpoint or region wins)."""
        return ObsStore(self.endpoint, self.region, self.addressing, self.static,
                        credentials, region, self._transport)

    # --- where and as whom ---------------------------------------------------------------
    @property
    def signing_region(self) -> str | None:
        """``?region=``; else the region a configured OBS endpoint names (a bucket of another
        region); else the event's."""
        if self.region:
            return self.region
        return (_region_of(self.endpoint) if self.endpoint else None) or self._event_region

    @property
    def credentials(self) -> Credentials | None:
        return self.static or self._credentials

    def _base(self, where: str) -> str:
        if self.endpoint:
            return self.endpoint
        region = self.signing_region
        if not region:
            raise ObjectStoreError(f"{where}: no OBS endpoint: the event names no region; set "
                                   "OBJECT_STORE_URL=obs://?endpoint=https://obs.REGION.myhuaweicloud.com")
        if not _REGION.fullmatch(region):
            raise ObjectStoreError(f"{where}: the event's region {region[:40]!r} is not a region name")
        return ENDPOINT_TEMPLATE.format(region=region)

    def url_for(self, bucket: str, key: str = "") -> tuple[str, str]:
        """(origin, path as sent) for an object, or for the bucket when ``key`` is empty."""
        parts = urlsplit(self._base(f"obs://{bucket}/{key}"))
        host = parts.hostname or ""
        path_style = (self.addressing == "path" or _is_ip_or_local(host)
                      or not _DNS_BUCKET.match(bucket)
                      or (parts.scheme == "https" and "." in bucket))
        prefix = parts.path.rstrip("/")
        encoded_key = _uri_encode(key, "/")
        if path_style:
            return f"{parts.scheme}://{parts.netloc}", f"{prefix}/{_uri_encode(bucket)}/{encoded_key}"
        return f"{parts.scheme}://{bucket}.{parts.netloc}", f"{prefix}/{encoded_key}"

    # --- requests ----------------------------------------------------------------------------
    def _request(self, method: str, bucket: str, key: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, body: bytes = b"",
                 stream: bool = False) -> requests.Response:
        import requests

        where = f"obs://{bucket}/{key}"
        credentials = self.credentials
        if credentials is None:
            raise ObjectStoreError(
                f"{where}: no credentials for OBS: give the function an agency (FunctionGraph "
                "passes its temporary keys) or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        origin, path = self.url_for(bucket, key)
        params = params or {}
        region = self.signing_region or "us-east-1"  # any region for a local S3 server
        url = origin + path + (("?" + canonical_query(params)) if params else "")
        transport = self._transport
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            signed = sign_v4(method, path, params, {"host": urlsplit(origin).netloc, **(headers or {})},
                             credentials, region, datetime.now(timezone.utc))
            prepared = transport.session.prepare_request(
                requests.Request(method, url, headers=signed, data=body or None))
            # the path as signed: requests would drop './' and resolve '../', reading
            # 'a.png' for the key './a.png' (there another object)
            prepared.url = url
            try:
                response = transport.session.send(
                    prepared, timeout=(3.05, 20), proxies=transport.proxies_for(origin),
                    allow_redirects=False, stream=stream)
            except requests.RequestException as exc:
                last = exc
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                last = _error_of(response, where)
                response.close()
            if attempt + 1 < ATTEMPTS:
                time.sleep(min(2.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))  # noqa: S311
        if isinstance(last, ObjectStoreError):
            raise last
        raise ObjectStoreError(f"{where}: {type(last).__name__}") from None

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead:
        r = self._request("HEAD", bucket, key, {"versionId": version_id} if version_id else None)
        if r.status_code != 200:
            raise _error_of(r, f"obs://{bucket}/{key}")
        return _info(bucket, key, r.headers)

    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        headers = {"if-match": f'"{if_match.strip(chr(34))}"'} if if_match else {}
        r = self._request("GET", bucket, key, {"versionId": version_id} if version_id else None,
                          headers, stream=max_bytes is not None)
        if r.status_code != 200:
            raise _error_of(r, f"obs://{bucket}/{key}")
        if max_bytes is None:
            return r.content
        try:  # no further than one byte past the limit, whatever the event announced
            data = r.raw.read(max_bytes + 1, decode_content=True)
        finally:
            r.close()
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"obs://{bucket}/{key} is larger than {max_bytes} bytes")
        return bytes(data)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        r = self._request("PUT", bucket, key, None, {"content-type": content_type,
                                                     "content-length": str(len(data))}, data)
        if r.status_code not in (200, 201, 204):
            raise _error_of(r, f"obs://{bucket}/{key}")
        return f"obs://{bucket}/{key}"

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectHead]:
        token: str | None = None
        while True:
            params = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
            r = self._request("GET", bucket, "", params)
            if r.status_code != 200:
                raise _error_of(r, f"obs://{bucket}/{prefix}")
            root = ET.fromstring(r.content)  # noqa: S314 - the store's own endpoint answers
            ns = {"s3": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
            q = (lambda name: f"s3:{name}") if ns else (lambda name: name)
            for item in root.findall(q("Contents"), ns):
                yield ObjectHead(bucket=bucket, key=item.findtext(q("Key"), "", ns),
                                 size=int(item.findtext(q("Size"), "0", ns)),
                                 etag=(item.findtext(q("ETag"), "", ns) or "").strip('"') or None)
            token = root.findtext(q("NextContinuationToken"), None, ns)
            if root.findtext(q("IsTruncated"), "false", ns) != "true" or not token:
                return

    def close(self) -> None:
        self._transport.close()


def _region_of(origin: str) -> str | None:
    match = re.search(r"\bobs\.([a-z0-9-]+)\.", origin)
    return match.group(1) if match else None


def _info(bucket: str, key: str, headers: Mapping[str, str]) -> ObjectHead:
    metadata = {k.lower().split("-meta-", 1)[1]: v for k, v in headers.items()
                if k.lower().startswith(("x-amz-meta-", "x-obs-meta-"))}
    return ObjectHead(bucket=bucket, key=key, size=int(headers.get("Content-Length", "0")),
                      etag=headers.get("ETag", "").strip('"') or None,
                      version_id=headers.get("x-amz-version-id") or headers.get("x-obs-version-id"),
                      content_type=headers.get("Content-Type"), metadata=metadata)


def _error_of(response: requests.Response, where: str) -> ObjectStoreError:
    """By status and the S3 error ``Code`` (never the message text)."""
    code = ""
    if response.content:
        try:
            code = ET.fromstring(response.content).findtext("Code") or ""  # noqa: S314
        except ET.ParseError:
            code = ""
    status = response.status_code
    label = f"{status} {code}".strip()
    if status == 404 or code in NOT_FOUND:
        return ObjectNotFound(f"{where} does not exist ({label})")
    if status == 412:
        return ObjectChanged(f"{where} changed since the event (ETag no longer matches)")
    return ObjectStoreError(f"{where}: {label}")


def open_store(url: str, env: Mapping[str, str] | None = None) -> ObsStore:
    query = store_options(url)
    endpoint = query.get("endpoint")
    if endpoint is not None and not re.match(r"^https?://[^/?#]+", endpoint):
        raise ConfigError("OBJECT_STORE_URL", f"endpoint must be an http(s) URL, got {endpoint[:80]!r}")
    region = query.get("region")
    if region is not None and not _REGION.fullmatch(region):
        raise ConfigError("OBJECT_STORE_URL", f"region {region[:40]!r} is not a region name")
    return ObsStore(endpoint, region, query.get("addressing"),
                    _env_credentials(os.environ if env is None else env))


REQUIRES = None


def check_url(url: str, variable: str) -> None:
    """Opening the store reads its URL and connects to nothing."""
    open_store(url).close()
