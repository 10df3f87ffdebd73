"""The shared rate in DynamoDB: one item per API and region (``pk`` = ``rate:…``) in the
idempotency table. Each step reads the item (strongly consistent), applies
:mod:`.policy`, and writes it back on condition that its version is still the one read;
a lost race reads again. Timed by each instance's clock (NTP-synchronised on the
platforms); ``expires`` lets the table's TTL drop idle items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..aws import LazyClient, error_code
from . import policy
from .port import RateStoreError, ReadModifyWriteStore

_FIELDS = ("tat", "base", "cut_at", "armed_at")
#: lost races before giving up (each is a round trip; many instances contend on one item)
MAX_RACES = 50


class DynamoDbRateStore(ReadModifyWriteStore):
    def __init__(self, table: str, endpoint: str | None = None, region: str | None = None) -> None:
        self.table = table
        self._client = LazyClient("dynamodb", endpoint, region)

    def _step(self, key: str, change: Callable[[policy.RateState, float], object]) -> object:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client.get()
        try:
            for _ in range(MAX_RACES):
                item = client.get_item(TableName=self.table, Key={"pk": {"S": key}},
                                       ConsistentRead=True).get("Item")
                now = time.time()
                version = int(item["version"]["N"]) if item else 0
                live = item is not None and float(item["expires"]["N"]) > now
                state = policy.RateState(*(_num(item, k) for k in _FIELDS)) \
                    if live else policy.RateState()
                out = change(state, now)
                new: dict[str, Any] = {"pk": {"S": key}, "version": {"N": str(version + 1)},
                                       "expires": {"N": str(int(now + self.aimd.idle_ttl_s))}}
                for name in _FIELDS:
                    value = getattr(state, name)
                    if value is not None:
                        new[name] = {"N": f"{value:.6f}"}
                try:
                    client.put_item(TableName=self.table, Item=new,
                                    ConditionExpression="attribute_not_exists(pk) OR version = :v",
                                    ExpressionAttributeValues={":v": {"N": str(version)}})
                    return out
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
        except ClientError as exc:
            raise RateStoreError(f"dynamodb rate store: {error_code(exc)}") from None
        except BotoCoreError as exc:
            raise RateStoreError(f"dynamodb rate store: {type(exc).__name__}") from None
        raise RateStoreError(f"dynamodb rate store: {MAX_RACES} conflicting writes in a row on {key}")


def _num(item: dict[str, Any] | None, name: str) -> float | None:
    value = (item or {}).get(name)
    return float(value["N"]) if value else None


REQUIRES = ("boto3", "aws")


def open_store(url: str) -> DynamoDbRateStore:
    """The idempotency store's ``dynamodb://TABLE[?endpoint=…&region=…]``: the same table."""
    from ..idempotency.dynamodb import table_of

    return DynamoDbRateStore(*table_of(url))
