"""``s3://``: AWS S3 (or another S3-compatible service) through boto3 and its credential chain.

The endpoint comes from ``AWS_ENDPOINT_URL`` or the URL's ``?endpoint=``; the region from
``?region=`` or ``AWS_REGION``. (Huawei OBS has its own store, ``obs://``, which needs no SDK
and takes the invocation's credentials: :mod:`ocrflow.adapters.stores.obs`.) Reads name the exact
version when the event does, and are refused if the ETag no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...core.errors import ObjectChanged, ObjectNotFound, ObjectStoreError, ObjectTooLarge
from ...core.models import ObjectHead
from ..aws import LazyClient, error_code, http_status
from .options import store_options
from .port import ObjectStore

NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchBucket"}
CHANGED = {"412", "PreconditionFailed"}


class S3Store(ObjectStore):
    def __init__(self, endpoint: str | None = None, region: str | None = None,
                 addressing: str | None = None) -> None:
        self.endpoint, self.region, self.addressing = endpoint, region, addressing
        self._client = LazyClient("s3", self.endpoint, self.region, self.addressing)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _error(self, exc: Exception, bucket: str, key: str) -> ObjectStoreError:
        code = error_code(exc)
        status = str(http_status(exc) or "")
        where = f"s3://{bucket}/{key}"
        if code in NOT_FOUND or status == "404":
            return ObjectNotFound(f"{where} does not exist ({code})")
        if code in CHANGED or status == "412":
            return ObjectChanged(f"{where} changed since the event (ETag no longer matches)")
        return ObjectStoreError(f"{where}: {code}")

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead:
        from botocore.exceptions import BotoCoreError, ClientError

        args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        try:
            r = self.client.head_object(**args)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, bucket, key) from None
        return ObjectHead(bucket=bucket, key=key, size=int(r["ContentLength"]),
                          etag=str(r.get("ETag", "")).strip('"') or None,
                          version_id=r.get("VersionId"), content_type=r.get("ContentType"),
                          metadata=dict(r.get("Metadata") or {}))

    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        if if_match:
            args["IfMatch"] = f'"{if_match.strip(chr(34))}"'
        try:
            body = self.client.get_object(**args)["Body"]
            try:
                data = body.read() if max_bytes is None else body.read(max_bytes + 1)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, bucket, key) from None
        if max_bytes is not None and len(data) > max_bytes:
            raise ObjectTooLarge(f"s3://{bucket}/{key} is larger than {max_bytes} bytes")
        return data

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, bucket, key) from None
        return f"s3://{bucket}/{key}"

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectHead]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectHead(bucket=bucket, key=obj["Key"], size=int(obj["Size"]),
                                     etag=str(obj.get("ETag", "")).strip('"') or None)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, bucket, prefix) from None


def open_store(url: str) -> S3Store:
    query = store_options(url)
    return S3Store(query.get("endpoint"), query.get("region"), query.get("addressing"))


REQUIRES = ("boto3", "aws")


def check_url(url: str, variable: str) -> None:
    """Opening the store reads its URL and connects to nothing."""
    open_store(url).close()
