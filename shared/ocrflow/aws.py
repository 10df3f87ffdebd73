"""boto3 clients built one way (timeouts, retries, endpoint), imported only by the AWS
adapters."""

from __future__ import annotations

import os
from typing import Any


def client(service: str, endpoint_url: str | None = None, region: str | None = None,
           addressing_style: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": addressing_style} if addressing_style else None)
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=region, config=config)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))


def http_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status else None
