"""The S3 and OBS stores (on moto server) read no further than the byte limit they are given."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ocrflow.adapters.registry import open_object_store
from ocrflow.core.errors import ObjectTooLarge
from tests.integration.test_aws_adapters import bucket


def test_s3_get_is_capped(moto_endpoint: str) -> None:
    s3: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    b = bucket(s3)
    s3.put_object(Bucket=b, Key="big.png", Body=b"x" * 50_000)
    store = open_object_store("s3://")
    with pytest.raises(ObjectTooLarge):
        store.get(b, "big.png", max_bytes=1_000)
    assert len(store.get(b, "big.png", max_bytes=50_000)) == 50_000


def test_obs_get_is_capped(moto_endpoint: str) -> None:
    from ocrflow.adapters.stores.obs import open_store
    from ocrflow.core.signer import Credentials

    s3: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    b = bucket(s3)
    s3.put_object(Bucket=b, Key="big.png", Body=b"x" * 50_000)
    store = open_store(f"obs://?endpoint={moto_endpoint}", env={}).scoped(
        Credentials("TESTAK", "TESTSK"), "cn-north-4")
    with pytest.raises(ObjectTooLarge):
        store.get(b, "big.png", max_bytes=1_000)
    assert len(store.get(b, "big.png", max_bytes=50_000)) == 50_000
