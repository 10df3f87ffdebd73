"""Every supported event shape becomes object references with the key decoded once."""

from __future__ import annotations

import json

import pytest

from ocrflow.contract.events import IgnoredEvent, InvalidRecord, delivery_ids, parse_event
from ocrflow.core.models import ObjectRef
from tests.conftest import load_event


def refs(name: str) -> list[ObjectRef]:
    out = parse_event(load_event(name))
    assert all(isinstance(r, ObjectRef) for r in out), out
    return out  # type: ignore[return-value]


def test_s3_put_decodes_plus_as_space_and_keeps_version_and_etag() -> None:
    [ref] = refs("s3_put.json")
    assert ref == ObjectRef("ocrflow-uploads", "invoices/2026/scan 01.png",
                            "096fKKXTRTtl3on89fVO.nfljtsv6qko", "0123456789abcdef0123456789abcdef",
                            1024, "us-east-1", "2026-11-25T08:00:00.000Z")


def test_s3_test_event_yields_nothing() -> None:
    assert parse_event(load_event("s3_test_event.json")) == []


def test_several_records_give_several_refs_with_every_kind_of_key() -> None:
    keys = [r.key for r in refs("s3_multi_record.json")]
    assert keys == ["scans/receipt march.jpg", "scans/a+b.png", "发票/增值税 发票.jpg",
                    "2026/11/25/deep/nested/folder/page 1.tiff"]


def test_deletions_are_not_uploads() -> None:
    assert parse_event(load_event("s3_delete.json")) == [
        IgnoredEvent("ObjectRemoved:Delete", "ocrflow-uploads", "old.png")]


def test_eventbridge_key_is_not_decoded_again() -> None:
    [ref] = refs("eventbridge_object_created.json")
    assert ref.key == "contracts/signed copy+v2.pdf"
    assert ref.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert ref.etag == "b1946ac92492d2347c6235b4d2611184"
    assert ref.size == 5


def test_sqs_batch_keeps_the_message_id_of_each_record_and_skips_test_events() -> None:
    event = load_event("sqs_batch_s3.json")
    out = refs("sqs_batch_s3.json")
    assert [r.key for r in out] == ["batch/one.png", "batch/two words.png"]
    assert [r.delivery_id for r in out] == [m["messageId"] for m in event["Records"][:2]]
    assert delivery_ids(event) == [m["messageId"] for m in event["Records"]]


@pytest.mark.parametrize("name", ["sns_s3.json", "sqs_sns_s3.json"])
def test_sns_wrapped_notifications(name: str) -> None:
    [ref] = refs(name)
    assert ref.key == "from-sns/扫描.png"
    assert ref.etag == "33333333333333333333333333333333"


def test_obs_s3_compatible_form_with_null_version() -> None:
    [ref] = refs("obs_s3_compatible.json")
    assert (ref.bucket, ref.key, ref.version_id, ref.region) == (
        "ocrflow-obs", "身份证/front side.jpg", None, "cn-north-4")


def test_obs_native_v3() -> None:
    [ref] = refs("obs_native_v3.json")
    assert (ref.bucket, ref.key, ref.size, ref.region) == (
        "ocrflow-obs", "receipts/2026/小票 01.png", 2048, "cn-north-4")


def test_eventgrid_cloudevent_for_obs() -> None:
    [ref] = refs("eventgrid_obs.json")
    assert (ref.bucket, ref.key, ref.etag) == ("ocrflow-obs", "scans/扫描 件.png",
                                              "9d377b10ce778c4938b3c7e2c63a229a")


def test_eventgrid_subject_used_when_data_has_no_key() -> None:
    event = load_event("eventgrid_obs.json")
    del event["data"]["obs"]["object"]["key"]
    [ref] = parse_event(event)
    assert isinstance(ref, ObjectRef) and ref.key == "scans/扫描 件.png"


def test_events_given_as_json_text_are_parsed() -> None:
    text = json.dumps(load_event("s3_put.json"))
    assert parse_event(text)[0].key == "invoices/2026/scan 01.png"  # type: ignore[union-attr]


@pytest.mark.parametrize("event, reason", [
    ("{not json", "not JSON"),
    ([1, 2], "not a JSON object"),
    ({"hello": "world"}, "unrecognised event shape"),
    ({"Records": "x"}, "Records is not a list"),
    ({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {}}}]}, "missing field 'key'"),
    ({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}}}]},
     "incomplete"),
])
def test_malformed_events_become_invalid_records_with_an_excerpt(event: object, reason: str) -> None:
    [record] = parse_event(event)
    assert isinstance(record, InvalidRecord)
    assert reason in record.reason
    assert record.excerpt


def test_bad_sqs_body_fails_only_that_message() -> None:
    event = load_event("sqs_batch_s3.json")
    event["Records"][0]["body"] = "{truncated"
    out = parse_event(event)
    assert isinstance(out[0], InvalidRecord)
    assert out[0].delivery_id == event["Records"][0]["messageId"]
    assert isinstance(out[1], ObjectRef)


def test_excerpt_is_bounded() -> None:
    [record] = parse_event({"junk": "x" * 100_000})
    assert isinstance(record, InvalidRecord)
    assert len(record.excerpt) <= 1025
