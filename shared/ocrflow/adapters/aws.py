"""boto3 clients built one way (timeouts, retries, endpoint), imported only by the AWS
adapters."""

from __future__ import annotations

import os
import threading
from typing import Any

from ..core.retry import AWS_SDK_RETRIES


def client(service: str, endpoint_url: str | None = None, region: str | None = None,
           addressing_style: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=20, retries=dict(AWS_SDK_RETRIES),
                    s3={"addressing_style": addressing_style} if addressing_style else None)
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=region, config=config)


class LazyClient:
    """A client built on first use, once, whichever thread of a batch gets there first
    (importing boto3 and building a client is the costly part of an adapter's start)."""

    def __init__(self, service: str, endpoint_url: str | None = None, region: str | None = None,
                 addressing_style: str | None = None) -> None:
        self._args = (service, endpoint_url, region, addressing_style)
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = client(*self._args)
        return self._client


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))


def http_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status else None
