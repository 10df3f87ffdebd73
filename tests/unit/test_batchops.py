"""S3 Batch Operations invokes the function with tasks (schema 1.0: ``s3BucketArn``; 2.0:
``s3Bucket``, the key URL-encoded, ``userArguments``) and reads one result per task from the
answer. ``s3_batch_operations_v1.json`` is the example request of "Invoke AWS Lambda
function" (Amazon S3 User Guide) as it stands; ``s3_batch_operations_v2.json`` is the same
page's schema 2.0 request, with a key that needs its URL encoding."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.contract import events
from ocrflow.contract.events import InvalidRecord
from ocrflow.core.models import ObjectRef
from ocrflow.flow import batchops
from tests.conftest import load_event
from tests.integration.conftest import free_port
from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

V1, V2 = "s3_batch_operations_v1.json", "s3_batch_operations_v2.json"


def test_schema_1_names_the_bucket_by_arn_and_the_key_as_is() -> None:
    inv = batchops.parse(load_event(V1))
    assert (inv.schema_version, inv.invocation_id, inv.job_id) == (
        "1.0", "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "f3cc4f60-61f6-4a2b-8a21-d07600c373ce")
    [(task_id, ref)] = inv.tasks
    assert task_id == "dGFza2lkZ29lc2hlcmUK"
    assert ref == ObjectRef("awsexamplebucket1", "customerImage1.jpg", version_id="1")
    event = load_event(V1)
    event["tasks"][0]["s3BucketArn"] = "arn:aws:s3:::uploads"
    assert batchops.parse(event).tasks[0][1] == ObjectRef("uploads", "customerImage1.jpg", "1")


def test_schema_2_names_the_bucket_and_url_encodes_the_key() -> None:
    inv = batchops.parse(load_event(V2))
    [(_, ref)] = inv.tasks
    assert ref == ObjectRef("amzn-s3-demo-bucket", "scans/receipt march 01.png")
    assert inv.user_arguments == {"k1": "v1", "k2": "v2"}


def test_a_task_that_names_no_object_is_an_invalid_record_and_one_without_id_is_left_out() -> None:
    event = load_event(V2)
    event["tasks"] = [{"taskId": "a", "s3Bucket": "b"}, {"s3Key": "k", "s3Bucket": "b"},
                      {"taskId": "c", "s3Key": "k", "s3Bucket": "b"}]
    inv = batchops.parse(event)
    assert [t for t, _ in inv.tasks] == ["a", "c"]
    assert isinstance(inv.tasks[0][1], InvalidRecord) and "s3Key" in inv.tasks[0][1].reason


def test_not_an_invocation() -> None:
    assert not events.is_s3_batch_invocation(load_event("s3_put.json"))
    assert not events.is_s3_batch_invocation({"invocationSchemaVersion": "1.0", "tasks": "x",
                                       "invocationId": "i"})
    assert events.is_s3_batch_invocation(load_event(V1)) and events.is_s3_batch_invocation(load_event(V2))


# --- through the function -------------------------------------------------------------------
@pytest.fixture
def platform(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    yield p
    tear_down()


def _message_ids(platform: Platform) -> dict[str, str]:
    return {m["subject"]: m["id"] for m in platform.results() + platform.failures()}


def test_schema_1_answered_in_the_jobs_shape(platform: Platform, replay: ReplayServer,
                                             validate_message: Any) -> None:
    platform.put("awsexamplebucket1", "customerImage1.jpg", png_bytes())
    answer = platform.invoke(load_event(V1))
    [message] = [validate_message(m) for m in platform.results()]
    assert answer == {
        "invocationSchemaVersion": "1.0",
        "treatMissingKeysAs": "TemporaryFailure",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "results": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded",
                     "resultString": f"result message {message['id']}"}],
    }
    assert message["data"]["object"]["version_id"] == "1"
    assert len(replay.received) == 1


def test_schema_2_with_several_tasks_one_result_each_and_coded_failures_succeed(
        platform: Platform, replay: ReplayServer, validate_message: Any) -> None:
    event = load_event(V2)
    task = event["tasks"][0]
    event["tasks"] = [task, {**task, "taskId": "dGFzazI=", "s3Key": "notes/read%20me.txt"},
                      {**task, "taskId": "dGFzazM=", "s3Key": "gone.png"}]
    platform.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
    platform.put("amzn-s3-demo-bucket", "notes/read me.txt", b"plain text, not an image\n")
    answer = platform.invoke(event)
    ids = _message_ids(platform)
    for m in platform.results() + platform.failures():
        validate_message(m)
    assert answer["invocationSchemaVersion"] == "2.0"
    assert answer["results"] == [
        {"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded",
         "resultString": f"result message {ids['scans/receipt march 01.png']}"},
        {"taskId": "dGFzazI=", "resultCode": "Succeeded",
         "resultString": f"failure OCRFLOW.UNSUPPORTED_FORMAT message {ids['notes/read me.txt']}"},
        {"taskId": "dGFzazM=", "resultCode": "Succeeded",
         "resultString": f"failure OCRFLOW.OBJECT_NOT_FOUND message {ids['gone.png']}"},
    ]
    assert len(replay.received) == 1  # the refused and the missing cost nothing


def test_a_task_sent_again_is_a_duplicate_and_pays_nothing(platform: Platform,
                                                          replay: ReplayServer) -> None:
    platform.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
    first = platform.invoke(load_event(V2))["results"][0]
    again = platform.invoke(load_event(V2))["results"][0]
    assert again["resultCode"] == "Succeeded"
    assert again["resultString"] == first["resultString"].replace("result", "duplicate", 1)
    assert len(replay.received) == 1 and len(platform.results()) == 1


def test_an_object_an_upload_event_already_recognized_is_not_paid_again(
        platform: Platform, replay: ReplayServer) -> None:
    """The upload's notification named version and ETag; the job's task names the version
    only: both are the same record."""
    data = png_bytes()
    platform.put("ocrflow-uploads", "invoices/2026/scan 01.png", data)
    upload = load_event("s3_put.json")
    upload["Records"][0]["s3"]["object"].update(eTag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                                                size=len(data))
    assert platform.invoke(upload)["counts"]["results"] == 1
    job = load_event(V2)
    job["tasks"][0].update(s3Bucket="ocrflow-uploads", s3Key="invoices/2026/scan%2001.png",
                           s3VersionId="096fKKXTRTtl3on89fVO.nfljtsv6qko")
    [task] = platform.invoke(job)["results"]
    assert task["resultCode"] == "Succeeded" and task["resultString"].startswith("duplicate ")
    assert len(replay.received) == 1


def test_an_unpublished_task_is_a_temporary_failure_and_its_retry_pays_nothing(
        tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0?stream=results"
    platform = make_platform(tmp_path, monkeypatch, replay.url + "/{region}", RESULT_QUEUE_URL=down)
    try:
        platform.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
        [task] = platform.invoke(load_event(V2))["results"]
        assert task["resultCode"] == "TemporaryFailure"
        assert task["resultString"].startswith("OCRFLOW.PUBLISH_FAILED: result queue")
    finally:
        tear_down()
    monkeypatch.delenv("RESULT_QUEUE_URL")  # the queue is back
    platform = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    try:
        [task] = platform.invoke(load_event(V2))["results"]
        [message] = platform.results()
        assert task == {"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded",
                        "resultString": f"result message {message['id']}"}
        assert len(replay.received) == 1
    finally:
        tear_down()


def test_a_task_without_an_object_ends_in_its_invalid_event_failure(platform: Platform) -> None:
    event = load_event(V2)
    del event["tasks"][0]["s3Key"]
    [task] = platform.invoke(event)["results"]
    [failure] = platform.failures()
    assert failure["data"]["error"]["code"] == "OCRFLOW.EVENT_INVALID"
    assert task["resultString"] == f"failure OCRFLOW.EVENT_INVALID message {failure['id']}"


# --- userArguments ------------------------------------------------------------------------------
ROUTES = [{"prefix": "tables/", "api": "general-table", "options": {"return_excel": True}},
          {"api": "general-text"}]


@pytest.fixture
def routed(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}", OCR_ROUTES=json.dumps(ROUTES))
    yield p
    tear_down()


def test_the_jobs_api_argument_routes_every_task_with_that_rules_options(
        routed: Platform, replay: ReplayServer) -> None:
    event = load_event(V2)
    event["job"]["userArguments"] = {"api": "general-table", "label": "december backfill"}
    routed.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
    [task] = routed.invoke(event)["results"]
    assert task["resultCode"] == "Succeeded"
    [call] = replay.received
    assert call.path.endswith("/ocr/general-table")
    assert json.loads(call.body)["return_excel"] is True
    [message] = routed.results()
    assert message["data"]["api"] == "general-table"


def test_without_the_argument_the_routing_rules_decide(routed: Platform, replay: ReplayServer) -> None:
    routed.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
    routed.invoke(load_event(V2))
    assert replay.received[0].path.endswith("/ocr/general-text")


@pytest.mark.parametrize("api", ["vat-invoice", "no-such-api", 3])
def test_an_api_the_routes_do_not_name_fails_every_task_permanently_without_a_call(
        routed: Platform, replay: ReplayServer, api: Any) -> None:
    event = load_event(V2)
    task = event["tasks"][0]
    event["tasks"] = [task, {**task, "taskId": "second"}]
    event["job"]["userArguments"] = {"api": api}
    routed.put("amzn-s3-demo-bucket", "scans/receipt march 01.png", png_bytes())
    answer = routed.invoke(copy.deepcopy(event))
    assert [r["resultCode"] for r in answer["results"]] == ["PermanentFailure"] * 2
    assert "general-table, general-text" in answer["results"][0]["resultString"]
    assert replay.received == [] and routed.results() == [] and routed.failures() == []
