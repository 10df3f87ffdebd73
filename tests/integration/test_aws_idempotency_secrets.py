"""DynamoDB idempotency store and Secrets Manager credentials on moto server."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from ocrflow.adapters.idempotency import ClaimState
from ocrflow.adapters.registry import open_idempotency_store
from ocrflow.config.secrets import with_secret_credentials
from ocrflow.config.settings import load_settings
from ocrflow.core.errors import ConfigError
from tests.support.races import claim_race


@pytest.fixture
def table(moto_endpoint: str) -> str:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"idem-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return name


def test_dynamodb_claims_race_lifecycle_and_takeover(table: str) -> None:
    store: Any = open_idempotency_store(f"dynamodb://{table}")
    states = claim_race(store, "rec", 8)
    assert states.count(ClaimState.CLAIMED) == 1 and states.count(ClaimState.IN_PROGRESS) == 7
    assert store.claim("crash", 0.2).state is ClaimState.CLAIMED
    time.sleep(0.3)
    assert store.claim("crash", 30).state is ClaimState.CLAIMED  # lease passed: taken over
    store.save_outcome("crash", "failure", "m-1", b'{"a": 1}')
    c = store.claim("crash", 30)
    assert (c.state, c.destination, c.message_id, c.message) == (
        ClaimState.OUTCOME_STORED, "failure", "m-1", b'{"a": 1}')
    store.complete("crash")
    assert store.claim("crash", 30).state is ClaimState.COMPLETED
    store.release("rec")
    assert store.claim("rec", 30).state is ClaimState.CLAIMED
    assert [store.increment("day", 3, 60) for _ in range(5)] == [1, 2, 3, None, None]


def test_credentials_from_secrets_manager(moto_endpoint: str) -> None:
    sm = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")
    arn = sm.create_secret(Name=f"ocr-{uuid.uuid4().hex[:6]}",
                           SecretString=json.dumps({"ak": "SECRET-AK", "sk": "SECRET-SK"}))["ARN"]
    s = with_secret_credentials(load_settings({"HUAWEICLOUD_SDK_SECRET_ARN": arn}))
    assert (s.ak, s.sk) == ("SECRET-AK", "SECRET-SK")
    bad = sm.create_secret(Name=f"ocr-{uuid.uuid4().hex[:6]}", SecretString="not json")["ARN"]
    with pytest.raises(ConfigError) as err:
        with_secret_credentials(load_settings({"HUAWEICLOUD_SDK_SECRET_ARN": bad}))
    assert str(err.value).startswith("HUAWEICLOUD_SDK_SECRET_ARN:")
