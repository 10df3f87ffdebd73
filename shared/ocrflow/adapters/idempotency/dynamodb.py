"""``dynamodb://TABLE``: the idempotency store on AWS, shared by every function instance.

Table: partition key ``pk`` (string), TTL attribute ``expires`` (epoch seconds). Each
primitive is one conditional write, so exactly one writer wins; ``expires_at`` holds the
precise expiry the conditions compare (DynamoDB's TTL deletes items only eventually).
The policy is in :mod:`ocrflow.adapters.idempotency.policy`.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...core.errors import ConfigError, IdempotencyError
from ..aws import LazyClient, error_code
from ..urls import http_endpoint, query_of, refusal
from .policy import IdempotencyStore
from .port import ClaimState, Entry, IdempotencyStorage


class _Refused(Exception):
    """A condition was not met (ConditionalCheckFailedException)."""


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value)}


class DynamoDbStorage(IdempotencyStorage):
    def __init__(self, table: str, endpoint: str | None = None, region: str | None = None) -> None:
        self.table, self.endpoint, self.region = table, endpoint, region
        self._client = LazyClient("dynamodb", self.endpoint, self.region)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, name)(TableName=self.table, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise _Refused from None
            raise IdempotencyError(f"dynamodb idempotency store: {error_code(exc)}") from None
        except BotoCoreError as exc:
            raise IdempotencyError(f"dynamodb idempotency store: {type(exc).__name__}") from None

    def _conditional(self, name: str, **kwargs: Any) -> bool:
        try:
            self._call(name, **kwargs)
        except _Refused:
            return False
        return True

    @staticmethod
    def _item(entry: Entry) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": entry.key}, "state": {"S": entry.state.value},
            "version": {"S": entry.version}, "expires_at": _n(entry.expires_at),
            "expires": {"N": str(math.ceil(entry.expires_at))}}
        if entry.destination is not None:
            item["destination"] = {"S": entry.destination}
        if entry.message_id is not None:
            item["message_id"] = {"S": entry.message_id}
        if entry.message is not None:
            item["message"] = {"B": entry.message}
        if entry.held_until:
            item["held_until"] = _n(entry.held_until)
        return item

    def put_new(self, entry: Entry, now: float) -> bool:
        return self._conditional(
            "put_item", Item=self._item(entry),
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
            ExpressionAttributeValues={":now": _n(now)})

    def replace(self, entry: Entry, expected_version: str, now: float) -> bool:
        return self._conditional(
            "put_item", Item=self._item(entry),
            ConditionExpression="version = :v AND expires_at > :now",
            ExpressionAttributeValues={":v": {"S": expected_version}, ":now": _n(now)})

    def get(self, key: str, now: float) -> Entry | None:
        item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if item is None or "version" not in item or float(item["expires_at"]["N"]) <= now:
            return None
        return Entry(key, ClaimState(item["state"]["S"]), item["version"]["S"],
                     float(item["expires_at"]["N"]), item.get("destination", {}).get("S"),
                     item.get("message_id", {}).get("S"), item.get("message", {}).get("B"),
                     float(item.get("held_until", {}).get("N", 0)))

    def delete(self, key: str, expected_version: str) -> bool:
        return self._conditional(
            "delete_item", Key={"pk": {"S": key}}, ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": {"S": expected_version}})

    def increment(self, counter: str, limit: int | None, expires_in_s: float, now: float,
                  amount: int = 1) -> int | None:
        key = {"pk": {"S": "counter:" + counter}}
        live = "expires_at > :now"
        values: dict[str, Any] = {":n": {"N": str(amount)}, ":now": _n(now)}
        condition = live
        if limit is not None:
            # the new value stays within the limit: value + amount <= limit
            condition = f"{live} AND #v <= :room"
            values[":room"] = {"N": str(limit - amount)}
        for _ in range(3):
            try:
                out = self._call("update_item", Key=key, UpdateExpression="ADD #v :n",
                                 ConditionExpression=condition,
                                 ExpressionAttributeNames={"#v": "value"},
                                 ExpressionAttributeValues=values, ReturnValues="UPDATED_NEW")
                return int(out["Attributes"]["value"]["N"])
            except _Refused:
                pass
            # absent or expired: start it at the amount, unless another writer just did
            expires_at = now + expires_in_s
            if self._conditional(
                    "put_item", Item={**key, "value": {"N": str(amount)}, "expires_at": _n(expires_at),
                                      "expires": {"N": str(math.ceil(expires_at))}},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                    ExpressionAttributeValues={":now": _n(now)}):
                return amount
            if limit is not None:
                item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
                if item is not None and float(item["expires_at"]["N"]) > now \
                        and int(item["value"]["N"]) + amount > limit:
                    return None
        raise IdempotencyError(f"dynamodb idempotency store: counter {counter} kept changing")

def table_of(url: str) -> tuple[str, str | None, str | None]:
    """``dynamodb://TABLE[?endpoint=…&region=…]`` → (table, endpoint, region); shared with the
    rate store, which keeps its items in the same table."""
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if not table:
        raise ConfigError("IDEMPOTENCY_STORE_URL", f"expected dynamodb://TABLE, got {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return table, query.get("endpoint"), query.get("region")


REQUIRES = ("boto3", "aws")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def check_url(url: str, variable: str) -> None:
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if not _TABLE.fullmatch(table):
        raise refusal(variable, url, "expected dynamodb://TABLE (3-255 letters, digits, '_', '-', '.')")
    query = query_of(url, variable)
    unknown = set(query) - {"endpoint", "region"}
    if unknown:
        raise refusal(variable, url, f"unknown options {sorted(unknown)}")
    if query.get("endpoint"):
        http_endpoint(query["endpoint"], variable)


def open_store(url: str) -> IdempotencyStore:
    return IdempotencyStore(DynamoDbStorage(*table_of(url)))
