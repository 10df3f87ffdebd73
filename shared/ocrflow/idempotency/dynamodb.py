"""``dynamodb://TABLE``: the idempotency store on AWS, shared by every function instance.

Table: partition key ``pk`` (string), TTL attribute ``expires`` (epoch seconds). Claims are
conditional writes, so exactly one delivery wins; an in-progress claim whose ``lease``
passed can be taken over; counters are conditional ``ADD`` updates.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..aws import LazyClient, error_code
from ..errors import ConfigError, IdempotencyError
from ..ports import Claim, ClaimState, IdempotencyStore


class DynamoDbIdempotencyStore(IdempotencyStore):
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
                raise
            raise IdempotencyError(f"dynamodb idempotency store: {error_code(exc)}") from None
        except BotoCoreError as exc:
            raise IdempotencyError(f"dynamodb idempotency store: {type(exc).__name__}") from None

    def claim(self, key: str, expires_in_s: float) -> Claim:
        from botocore.exceptions import ClientError

        now = time.time()
        try:
            self._call("put_item", Item={
                "pk": {"S": key}, "state": {"S": ClaimState.IN_PROGRESS.value},
                "lease": {"N": f"{now + expires_in_s:.3f}"},
                "expires": {"N": str(int(now + expires_in_s + 3600))}},
                ConditionExpression="attribute_not_exists(pk) OR (#s = :p AND lease < :now) "
                                    "OR expires < :nows",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":p": {"S": ClaimState.IN_PROGRESS.value},
                                           ":now": {"N": f"{now:.3f}"}, ":nows": {"N": str(int(now))}})
            return Claim(ClaimState.CLAIMED)
        except ClientError:
            pass  # held or done: read what is there
        item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if item is None:  # deleted between the two calls (a release): try once more
            return self.claim(key, expires_in_s)
        state = ClaimState(item["state"]["S"])
        if state is ClaimState.IN_PROGRESS:
            return Claim(ClaimState.IN_PROGRESS)
        return Claim(state, message=item.get("message", {}).get("B"),
                     destination=item.get("destination", {}).get("S"),
                     message_id=item.get("message_id", {}).get("S"))

    def save_outcome(self, key: str, destination: str, message_id: str, message: bytes) -> None:
        self._call("update_item", Key={"pk": {"S": key}},
                   UpdateExpression="SET #s = :s, destination = :d, message_id = :m, message = :b, "
                                    "expires = :e",
                   ExpressionAttributeNames={"#s": "state"},
                   ExpressionAttributeValues={
                       ":s": {"S": ClaimState.OUTCOME_STORED.value}, ":d": {"S": destination},
                       ":m": {"S": message_id}, ":b": {"B": message},
                       ":e": {"N": str(int(time.time() + self.retention_s))}})

    def complete(self, key: str) -> None:
        self._call("update_item", Key={"pk": {"S": key}},
                   UpdateExpression="SET #s = :s, expires = :e",
                   ExpressionAttributeNames={"#s": "state"},
                   ExpressionAttributeValues={":s": {"S": ClaimState.COMPLETED.value},
                                              ":e": {"N": str(int(time.time() + self.retention_s))}})

    def release(self, key: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("delete_item", Key={"pk": {"S": key}}, ConditionExpression="#s = :p",
                       ExpressionAttributeNames={"#s": "state"},
                       ExpressionAttributeValues={":p": {"S": ClaimState.IN_PROGRESS.value}})
        except ClientError:
            pass  # not ours to release any more

    def increment(self, counter: str, limit: int | None, expires_in_s: float,
                  amount: int = 1) -> int | None:
        from botocore.exceptions import ClientError

        now = time.time()
        kwargs: dict[str, Any] = {
            "Key": {"pk": {"S": "counter:" + counter}},
            "UpdateExpression": "ADD #v :n SET expires = if_not_exists(expires, :e)",
            "ExpressionAttributeNames": {"#v": "value"},
            "ExpressionAttributeValues": {":n": {"N": str(amount)},
                                          ":e": {"N": str(int(now + expires_in_s))}},
            "ReturnValues": "UPDATED_NEW",
        }
        if limit is not None:
            # the new value stays within the limit: value + amount <= limit
            kwargs["ConditionExpression"] = "attribute_not_exists(#v) OR #v <= :room"
            kwargs["ExpressionAttributeValues"][":room"] = {"N": str(limit - amount)}
            if limit < amount:
                return None
        try:
            out = self._call("update_item", **kwargs)
        except ClientError:
            return None
        return int(out["Attributes"]["value"]["N"])


def open_store(url: str) -> DynamoDbIdempotencyStore:
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if not table:
        raise ConfigError("IDEMPOTENCY_STORE_URL", f"expected dynamodb://TABLE, got {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return DynamoDbIdempotencyStore(table, query.get("endpoint"), query.get("region"))
