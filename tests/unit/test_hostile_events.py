"""Whoever can write to the intake queue cannot take a batch down: each message that cannot
be understood ends in exactly one OCRFLOW.EVENT_INVALID failure and the others are processed.
Every hostile body is made here, at test time; the function is called as Lambda calls it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.contract.events import MAX_WRAPPING, InvalidRecord, parse_event
from ocrflow.core import boundedjson
from ocrflow.core.models import ObjectRef
from tests.conftest import load_event
from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

BUCKET = "ocrflow-uploads"


def notification(key: str, size: Any = None, bucket: str = BUCKET) -> dict[str, Any]:
    record = copy.deepcopy(load_event("s3_put.json")["Records"][0])
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"] = {"key": key, **({} if size is None else {"size": size})}
    return {"Records": [record]}


def sns_wrapped(body: str, levels: int) -> str:
    """``levels`` SNS envelopes around ``body``, each as JSON text nested in the next."""
    for _ in range(levels):
        body = json.dumps({"Type": "Notification", "MessageId": "m", "Message": body})
    return body


def good_body(key: str = "good.png") -> str:
    return json.dumps(notification(key))


def nested_objects(levels: int) -> str:
    """``levels`` SNS envelopes as nested objects in one JSON text (no string escaping)."""
    inner = json.dumps(notification("deep.png"))
    return '{"Type": "Notification", "Message": ' * levels + inner + "}" * levels


HOSTILE_BODIES = {
    "bracket nested 50,000 deep": "[" * 50_000,
    "object nested 50,000 deep": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "size 1e999": good_body().replace('"key": "good.png"', '"key": "x.png", "size": 1e999'),
    "size Infinity": good_body().replace('"key": "good.png"', '"key": "x.png", "size": Infinity'),
    "size NaN": good_body().replace('"key": "good.png"', '"key": "x.png", "size": NaN'),
    "5,000-digit size": good_body().replace('"key": "good.png"',
                                            '"key": "x.png", "size": ' + "9" * 5_000),
    "5,000-digit float": good_body().replace('"key": "good.png"',
                                             '"key": "x.png", "size": 1.' + "5" * 5_000),
    "400 SNS envelopes as objects": nested_objects(400),
    "12 SNS envelopes as text": sns_wrapped(good_body("wrapped.png"), 12),
    "lone surrogate in the key": good_body().replace("good.png", "\\ud800.png"),
    "lone surrogate in the bucket": good_body().replace(BUCKET, "b\\udfff"),
    "ETag longer than any field": good_body().replace('"key": "good.png"',
                                                      '"key": "x.png", "eTag": "' + "e" * 5_000 + '"'),
    "body over 1 MiB": json.dumps({"pad": "x" * (1024 * 1024 + 1)}),
    "array of records nested in a key": good_body().replace('"good.png"', '[[["x"]]]'),
}


def sqs_batch(*bodies: str) -> dict[str, Any]:
    template = load_event("sqs_batch_s3.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        r = copy.deepcopy(template)
        r["messageId"] = f"msg-{i}"
        r["body"] = body
        records.append(r)
    return {"Records": records}


@pytest.fixture
def platform(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    yield p
    tear_down()


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_a_poison_message_fails_alone_and_the_batch_proceeds(
        platform: Platform, replay: ReplayServer, validate_message: Any, name: str) -> None:
    platform.put(BUCKET, "good.png", png_bytes())
    platform.put(BUCKET, "after.png", png_bytes(90, 40))
    answer = platform.invoke(sqs_batch(good_body("good.png"), HOSTILE_BODIES[name],
                                       good_body("after.png")))
    assert answer == {"batchItemFailures": []}
    assert sorted(m["subject"] for m in map(validate_message, platform.results())) == [
        "after.png", "good.png"]
    failures = [validate_message(m) for m in platform.failures()]
    assert [f["data"]["error"]["code"] for f in failures] == ["OCRFLOW.EVENT_INVALID"]
    assert len(replay.received) == 2
    # the same batch again (a redelivery) publishes nothing new and pays nothing
    assert platform.invoke(sqs_batch(good_body("good.png"), HOSTILE_BODIES[name],
                                     good_body("after.png"))) == {"batchItemFailures": []}
    assert len(platform.failures()) == 1 and len(replay.received) == 2


def test_an_event_given_as_a_dict_with_non_finite_and_huge_sizes(platform: Platform,
                                                                  replay: ReplayServer) -> None:
    """What Lambda's own JSON parser hands over for ``1e999`` and a long number."""
    platform.put(BUCKET, "good.png", png_bytes())
    event = notification("good.png")
    for size in (float("inf"), float("nan"), 10**400, -1, 2.5, "12abc", {"n": 1}, True):
        event["Records"].append(notification("bad.png", size=size)["Records"][0])
    answer = platform.invoke(event)
    assert answer["counts"]["results"] == 1
    assert answer["counts"]["failures"] == 8 and answer["counts"]["unpublished"] == 0
    assert {f["data"]["error"]["code"] for f in platform.failures()} == {"OCRFLOW.EVENT_INVALID"}


def test_envelopes_deeper_than_the_bound_are_one_invalid_record() -> None:
    inner = notification("k.png")
    ok = json.loads(sns_wrapped(json.dumps(inner), MAX_WRAPPING - 1))
    assert isinstance(parse_event(ok)[0], ObjectRef)
    deep: Any = inner
    for _ in range(500):  # a structure handed over as a dict: no text to measure
        deep = {"Type": "Notification", "Message": deep}
    [record] = parse_event(deep)
    assert isinstance(record, InvalidRecord) and "envelopes nested" in record.reason
    assert len(record.excerpt) <= 1025


def test_event_text_that_is_not_utf8_is_one_invalid_record() -> None:
    [record] = parse_event(b'{"Records": [\xff\xfe]}')
    assert isinstance(record, InvalidRecord) and "not UTF-8" in record.reason


def test_excerpts_of_hostile_structures_are_bounded_and_valid_utf8() -> None:
    deep: Any = "x"
    for _ in range(900):
        deep = [deep]
    for event in (deep, {"junk": "\ud800" * 3}, {"a": [float("inf")] * 10_000}):
        [record] = parse_event(event)
        assert isinstance(record, InvalidRecord)
        assert len(record.excerpt) <= 1025
        record.excerpt.encode("utf-8")  # a message can carry it


@pytest.mark.parametrize("text, reason", [
    ("[" * 65 + "]" * 65, "nested 65 levels"),
    ('{"n": ' + "1" * 33 + "}", "33 digits"),
    ('{"n": -Infinity}', "-Infinity is not"),
    ('{"n": 1e400}', "out of range"),
    ('"' + "[" * 100 + '"', None),  # brackets inside a string are not nesting
])
def test_bounded_json(text: str, reason: str | None) -> None:
    if reason is None:
        assert boundedjson.loads(text, 1000) == "[" * 100
        return
    with pytest.raises(boundedjson.JsonRejected) as err:
        boundedjson.loads(text, 1000)
    assert reason in err.value.reason


def test_invoke_with_an_event_file_that_is_not_utf8(tmp_path: Path, replay: ReplayServer) -> None:
    from tests.unit.test_cli import base_env, ocrflow

    (tmp_path / "buckets").mkdir()
    (tmp_path / "event.json").write_bytes(b'{"Records": [{"s3": {"bucket": {"name": "\xff\xfe"}}}]}')
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=base_env(tmp_path, replay))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "UnicodeDecodeError" not in run.stderr
    summary = json.loads(run.stdout)
    assert summary["counts"] == {"records": 1, "results": 0, "failures": 1, "duplicates": 0,
                                 "ignored": 0, "unpublished": 0}
    assert summary["outcomes"][0]["code"] == "OCRFLOW.EVENT_INVALID"
    assert "not UTF-8" in summary["outcomes"][0]["detail"]
    assert replay.received == []


_ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, float("inf"), "", "x", "\ud800", "a\x00b", "../..",
                          [], {}, [1], {"a": 1}, "x" * 3000, 10**30, "ObjectCreated:Put", "aws:sqs",
                          "aws:sns", "Notification", "HC.OBS", "1.0"]
_SHAPES = ["s3_put.json", "sqs_batch_s3.json", "sqs_sns_s3.json", "sns_s3.json",
           "eventbridge_object_created.json", "eventgrid_obs.json", "obs_native_v3.json",
           "obs_s3_compatible.json", "s3_multi_record.json"]


def _mutated(value: Any, rng: Any) -> Any:
    """``value`` with fields replaced by odd values, dropped or added, at every level,
    JSON bodies inside strings included (sometimes cut short)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            r = rng.random()
            if r < 0.08:
                out[k] = rng.choice(_ODD_VALUES)
            elif r >= 0.12:
                out[k] = _mutated(v, rng)
        if rng.random() < 0.05:
            out[rng.choice(["Records", "body", "Message", "Type", "eventSource", "detail",
                            "events", "data", "s3", "obs"])] = rng.choice(_ODD_VALUES)
        return out
    if isinstance(value, list):
        extra = [rng.choice(_ODD_VALUES)] if rng.random() < 0.05 else []
        return [_mutated(v, rng) for v in value] + extra
    if isinstance(value, str) and value.startswith("{") and rng.random() < 0.7:
        text = json.dumps(_mutated(json.loads(value), rng))
        return text if rng.random() < 0.9 else text[:-3]
    return value


def test_mutated_sample_events_never_raise_and_every_message_is_published(
        platform: Platform, replay: ReplayServer) -> None:
    import random

    rng = random.Random(20261125)
    platform.put("ocrflow-uploads", "any.png", png_bytes())
    for _ in range(150):
        event = _mutated(load_event(rng.choice(_SHAPES)), rng)
        answer = platform.invoke(event)  # raises RecordsNotPublished if any record was not
        assert answer.get("batchItemFailures", []) == []


def test_a_hostile_tracestate_is_dropped_not_a_poison_record(
        platform: Platform, replay: ReplayServer, validate_message: Any) -> None:
    platform.put(BUCKET, "good.png", png_bytes())
    event = sqs_batch(good_body("good.png"))
    event["Records"][0]["messageAttributes"] = {
        "traceparent": {"stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                        "dataType": "String"},
        "tracestate": {"stringValue": "a=\ud800x,b=c\r\nInjected: 1,vendor=ok",
                       "dataType": "String"}}
    assert platform.invoke(event) == {"batchItemFailures": []}
    [message] = [validate_message(m) for m in platform.results()]
    assert message["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert message.get("tracestate") == "vendor=ok"
    assert len(replay.received) == 1
