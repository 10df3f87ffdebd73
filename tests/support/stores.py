"""The idempotency store URL of each real backend, with names of the test's own (a sqlite file
in the test's folder, a Redis key prefix, a DynamoDB table on moto server)."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

BACKENDS = ["sqlite", "redis", "dynamodb"]


def store_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'idempotency.db'}"
    if backend == "redis":
        return f"{request.getfixturevalue('redis_url')}?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:"
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"idem-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").create_table(
        TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")
    return f"dynamodb://{table}"
