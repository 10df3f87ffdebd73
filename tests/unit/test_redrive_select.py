"""A redrive replays only failures it can read: a failure-typed message whose data, object,
bucket, key or id is missing or of the wrong type is left where it is, as is anything that
is not a failure at all; the well-formed failures beside them are replayed."""

from __future__ import annotations

from typing import Any

from ocrflow.adapters.queues.port import decoded
from ocrflow.contract.messages import FAILURE_TYPE
from ocrflow.flow.redrive import select


def failure(**changes: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "f-1", "type": FAILURE_TYPE,
        "data": {"object": {"bucket": "b", "key": "k.png"},
                 "error": {"code": "ModelArts.4204", "retryable": False}}}
    for path, value in changes.items():
        target = message
        *parents, last = path.split("__")
        for name in parents:
            target = target[name]
        target[last] = value
    return message


def test_malformed_failures_and_foreign_messages_are_left_and_the_rest_replayed() -> None:
    good = failure()
    malformed = [failure(data=[1, 2]), failure(data__object="b/k.png"),
                 failure(data__object__bucket=None), failure(data__object__key=7),
                 failure(id=12), failure(data__error="ModelArts.4204"),
                 decoded(b"not json"), decoded(b"[1]"), {"type": FAILURE_TYPE}]
    chosen, waiting = select([*malformed[:5], good, *malformed[6:]], None)
    assert chosen == [good] and waiting == 0
    # an error that is not an object matches no code, but the failure is still replayable
    assert select([malformed[5]], None) == ([malformed[5]], 0)
    assert select([malformed[5]], {"ModelArts.4204"}) == ([], 0)
