"""Only an object's creation starts a recognition, on every platform. A removal, a delete
marker, a lifecycle expiry or transition, a restore, tagging, ACL or replication event is
ignored: nothing is read, called or published, the summary counts it as ``ignored`` and one
log line names its type.

The samples in ``tests/events`` come from each platform's documentation:

* ``eventbridge_object_deleted*.json``, ``eventbridge_object_restore_completed.json``: the
  examples of "EventBridge event message structure" (Amazon S3 User Guide);
  ``eventbridge_object_tags_added.json``: the same envelope with the type "Object Tags Added"
  that "Using EventBridge" lists (the guide shows no example of it);
* ``s3_not_creations.json``: one notification record per event type of "Event notification
  types and destinations" that is not ``ObjectCreated:*``;
* ``obs_native_removed.json``, ``obs_s3_compatible_removed.json``: OBS's ``ObjectRemoved:Delete``
  and ``ObjectRemoved:DeleteMarkerCreated`` (OBS developer guide, event notification types)
  in the two forms of a FunctionGraph OBS trigger;
* ``eventgrid_obs_removed.json``: EventGrid's OBS application events
  ``OBS:DWR:ObjectRemoved:Delete`` and ``OBS:DWR:ObjectRemoved:DeleteMarkerCreated``.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ocrflow.contract.events import IgnoredEvent, is_creation, parse_event
from ocrflow.core.models import ObjectRef
from tests.conftest import load_event
from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

#: Every name each platform's documentation gives to an object's creation.
CREATIONS = [
    # S3 notifications (and OBS's S3-compatible trigger form)
    "ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    # S3-compatible stores that keep the configuration's "s3:" prefix in the record
    "s3:ObjectCreated:Put",
    # EventBridge detail-type
    "Object Created",
    # EventGrid OBS application events
    "OBS:DWR:ObjectCreated:PUT", "OBS:DWR:ObjectCreated:POST", "OBS:DWR:ObjectCreated:COPY",
    "OBS:DWR:ObjectCreated:CompleteMultipartUpload",
]

#: Every other type the same pages list.
NOT_CREATIONS = [
    "ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated", "ObjectRestore:Post",
    "ObjectRestore:Completed", "ObjectRestore:Delete", "ReducedRedundancyLostObject",
    "Replication:OperationFailedReplication", "Replication:OperationMissedThreshold",
    "Replication:OperationReplicatedAfterThreshold", "Replication:OperationNotTracked",
    "LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated",
    "LifecycleTransition", "IntelligentTiering", "ObjectTagging:Put", "ObjectTagging:Delete",
    "ObjectAcl:Put", "s3:ObjectRemoved:Delete",
    "Object Deleted", "Object Restore Initiated", "Object Restore Completed",
    "Object Restore Expired", "Object Storage Class Changed", "Object Access Tier Changed",
    "Object ACL Updated", "Object Tags Added", "Object Tags Deleted",
    "Object Annotation Created", "Object Annotation Removed",
    "OBS:DWR:ObjectRemoved:Delete", "OBS:DWR:ObjectRemoved:DeleteMarkerCreated",
]

#: sample file → the event types its records carry, in order
SAMPLES = {
    "eventbridge_object_deleted.json": ["Object Deleted"],
    "eventbridge_object_deleted_lifecycle_expiration.json": ["Object Deleted"],
    "eventbridge_object_restore_completed.json": ["Object Restore Completed"],
    "eventbridge_object_tags_added.json": ["Object Tags Added"],
    "s3_delete.json": ["ObjectRemoved:Delete"],
    "s3_not_creations.json": NOT_CREATIONS[:17],
    "obs_native_removed.json": ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"],
    "obs_s3_compatible_removed.json": ["ObjectRemoved:DeleteMarkerCreated"],
    "eventgrid_obs_removed.json": ["OBS:DWR:ObjectRemoved:Delete",
                                   "OBS:DWR:ObjectRemoved:DeleteMarkerCreated"],
}


@pytest.mark.parametrize("event_type", CREATIONS)
def test_the_creations_of_every_platform_start_a_recognition(event_type: str) -> None:
    assert is_creation(event_type)


@pytest.mark.parametrize("event_type", NOT_CREATIONS)
def test_nothing_else_does(event_type: str) -> None:
    assert not is_creation(event_type)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_is_ignored_record_by_record_with_its_type(name: str) -> None:
    records = parse_event(load_event(name))
    assert all(isinstance(r, IgnoredEvent) for r in records), records
    assert [r.event_type for r in records] == SAMPLES[name]  # type: ignore[union-attr]


def test_the_ignored_record_names_the_object_with_its_key_decoded() -> None:
    [deleted] = parse_event(load_event("eventbridge_object_deleted.json"))
    assert deleted == IgnoredEvent("Object Deleted", "amzn-s3-demo-bucket1", "example-key")
    [first, _] = parse_event(load_event("eventgrid_obs_removed.json"))
    assert (first.bucket, first.key) == ("ocrflow-obs", "scans/扫描 件.png")  # type: ignore[union-attr]
    assert parse_event(load_event("s3_not_creations.json"))[3].key == "archive/scan 03.png"  # type: ignore[union-attr]


def _names(rng: random.Random) -> Iterator[Any]:
    """Documented names, cut, recombined, re-cased and padded; arbitrary text and values."""
    pieces = CREATIONS + NOT_CREATIONS + [":", "s3:", "OBS:DWR:", "*", " ", "\ud800", "\x00"]
    for _ in range(600):
        r = rng.random()
        if r < 0.4:
            yield "".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
        elif r < 0.6:
            name = rng.choice(pieces)
            cut = rng.randint(0, len(name))
            yield name[:cut] if rng.random() < 0.5 else name[cut:]
        elif r < 0.75:
            yield rng.choice(pieces).swapcase()
        elif r < 0.9:
            yield "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 30)))
        else:
            yield rng.choice([1, 1.5, True, [], {}, {"a": "ObjectCreated:Put"}, "x" * 5000])


def test_any_event_name_is_an_upload_or_ignored_never_an_error() -> None:
    for name in _names(random.Random(20261205)):
        event = copy.deepcopy(load_event("s3_put.json"))
        event["Records"][0]["eventName"] = name
        [record] = parse_event(event)
        if is_creation(name):
            assert isinstance(record, ObjectRef), name
        else:
            assert isinstance(record, IgnoredEvent), name
            assert len(record.event_type) <= 200
            json.dumps(record.event_type).encode("utf-8")  # printable in a log line


# --- through the function, as the platform calls it ---------------------------------------------
@pytest.fixture
def platform(tmp_path: Any, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    yield p
    tear_down()


def _put_every_object(platform: Platform, name: str) -> None:
    """The objects the sample names exist: a deletion that were handled as an upload would
    find them, pay a call and publish a result."""
    for record in parse_event(load_event(name)):
        assert isinstance(record, IgnoredEvent)
        if record.bucket and record.key:
            platform.put(record.bucket, record.key, png_bytes())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_no_call_no_message_counted_as_ignored_with_one_line_each(
        platform: Platform, replay: ReplayServer, capsys: pytest.CaptureFixture[str],
        name: str) -> None:
    _put_every_object(platform, name)
    answer = platform.invoke(load_event(name))
    expected = len(SAMPLES[name])
    assert answer["counts"] == {"records": expected, "results": 0, "failures": 0,
                                "duplicates": 0, "ignored": expected, "unpublished": 0}
    assert [o["status"] for o in answer["outcomes"]] == ["ignored"] * expected
    assert [o["event_type"] for o in answer["outcomes"]] == SAMPLES[name]
    assert replay.received == []
    assert platform.results() == [] and platform.failures() == []
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    ignored = [line for line in lines if line["message"].startswith("event ignored")]
    # records run concurrently: the lines come in any order
    assert sorted(line["event_type"] for line in ignored) == sorted(SAMPLES[name])
    # one line each: nothing else is said about these records
    assert not [line for line in lines if line["message"].startswith("record ")]


def test_a_batch_mixing_an_upload_and_removals_recognizes_the_upload_only(
        platform: Platform, replay: ReplayServer) -> None:
    platform.put("ocrflow-uploads", "batch/one.png", png_bytes())
    event = load_event("sqs_batch_s3.json")
    event["Records"] = event["Records"][:1]
    upload = json.loads(event["Records"][0]["body"])
    upload["Records"][0]["s3"]["object"] = {"key": "batch/one.png"}
    event["Records"][0]["body"] = json.dumps(upload)
    for i, removal in enumerate(["eventbridge_object_deleted.json", "eventgrid_obs_removed.json"]):
        record = copy.deepcopy(event["Records"][0])
        record["messageId"] = f"removal-{i}"
        record["body"] = json.dumps(load_event(removal))
        event["Records"].append(record)
    platform.put("amzn-s3-demo-bucket1", "example-key", png_bytes())
    assert platform.invoke(event) == {"batchItemFailures": []}
    assert [m["subject"] for m in platform.results()] == ["batch/one.png"]
    assert platform.failures() == []
    assert len(replay.received) == 1


def test_an_ignored_record_is_not_remembered_so_a_later_upload_of_the_key_is_recognized(
        platform: Platform, replay: ReplayServer) -> None:
    platform.put("amzn-s3-demo-bucket1", "example-key", png_bytes())
    platform.invoke(load_event("eventbridge_object_deleted.json"))
    created = load_event("eventbridge_object_created.json")
    created["detail"]["bucket"]["name"] = "amzn-s3-demo-bucket1"
    created["detail"]["object"]["key"] = "example-key"
    for field in ("etag", "version-id", "size"):
        del created["detail"]["object"][field]
    answer = platform.invoke(created)
    assert answer["counts"]["results"] == 1 and len(replay.received) == 1
