"""S3 store and SQS queue through real boto3 calls to moto in server mode."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from ocrflow.adapters.registry import open_object_store, open_queue
from ocrflow.adapters.stores import ObjectStore
from ocrflow.contract.messages import ResultMessage, outgoing
from ocrflow.core.errors import ObjectChanged, ObjectNotFound
from ocrflow.core.models import ObjectRef
from tests.support.harness import make_harness
from tests.support.replay_server import Answer, ReplayServer


def png(w: int = 120, h: int = 60) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


def bucket(s3: Any, versioned: bool = False) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def message(key: str = "a.png", size: int = 10) -> Any:
    ref = ObjectRef("bkt", key, None, "e" * 32, size)
    return outgoing(ResultMessage(function="recognize", ref=ref, api="general-text",
                                  region="cn-north-4",
                                  result={"words_block_list": [{"words": "x" * size}]}).event())


def check_store(store: ObjectStore, s3: Any, key: str, scheme: str) -> None:
    """What every S3-API store does on a real server: the exact version an event names, an
    ETag that must still match, missing objects, writes and listing."""
    b = bucket(s3, versioned=True)
    v1 = s3.put_object(Bucket=b, Key=key, Body=b"first")["VersionId"]
    s3.put_object(Bucket=b, Key=key, Body=b"second", Metadata={"doc-type": "mixed"})
    assert store.get(b, key, v1) == b"first"
    assert store.get(b, key) == b"second"
    info = store.head(b, key)
    assert (info.size, info.etag, info.metadata) == (6, hashlib.md5(b"second").hexdigest(),  # noqa: S324
                                                     {"doc-type": "mixed"})
    assert store.get(b, key, if_match=hashlib.md5(b"second").hexdigest()) == b"second"  # noqa: S324
    with pytest.raises(ObjectChanged):
        store.get(b, key, if_match=hashlib.md5(b"first").hexdigest())  # noqa: S324
    with pytest.raises(ObjectNotFound):
        store.get(b, "missing.png")
    with pytest.raises(ObjectNotFound):
        store.head(b, "missing.png")
    assert store.put(b, "results/r.json", b"{}", "application/json") == f"{scheme}://{b}/results/r.json"
    assert s3.get_object(Bucket=b, Key="results/r.json")["Body"].read() == b"{}"
    assert [o.key for o in store.list(b, "results/")] == ["results/r.json"]


def test_s3_reads_the_exact_version_and_refuses_a_changed_object(s3: Any) -> None:
    check_store(open_object_store("s3://"), s3, "doc 1.png", "s3")


def test_sqs_standard_queue_byte_for_byte_with_attributes(sqs: Any, moto_endpoint: str) -> None:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue = open_queue(url)
    msg = message("发票/a b.png")
    queue.publish(msg)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert got[0]["Body"].encode() == msg.body
    attrs = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attrs == {"type": "ocr.result.v1", "api": "general-text", "region": "cn-north-4",
                     "traceparent": json.loads(msg.body)["traceparent"]}


def test_sqs_fifo_groups_by_key_and_deduplicates_by_id(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}.fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = open_queue(url)
    msg = message()
    queue.publish(msg)
    queue.publish(msg)  # a republish of the same CloudEvent
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert len(got) == 1 and got[0]["Body"].encode() == msg.body
    assert got[0]["Attributes"]["MessageGroupId"] == hashlib.sha256(b"a.png").hexdigest()


def test_sqs_by_name_and_dump_is_not_destructive(sqs: Any) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    sqs.create_queue(QueueName=name)
    queue = open_queue(f"sqs://{name}")
    for i in range(3):
        queue.publish(message(f"k{i}.png"))
    first = [m["subject"] for m in queue.dump()]
    second = [m["subject"] for m in queue.dump()]
    assert sorted(first) == sorted(second) == ["k0.png", "k1.png", "k2.png"]


def test_pipeline_from_s3_to_sqs_with_claim_check(tmp_path: Path, s3: Any, sqs: Any, replay: ReplayServer,
                                                  validate_message: Any) -> None:
    b = bucket(s3)
    s3.put_object(Bucket=b, Key="scan 1.png", Body=png())
    s3.put_object(Bucket=b, Key="big.png", Body=png(130, 70))
    results = sqs.create_queue(QueueName=f"r-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    failures = sqs.create_queue(QueueName=f"f-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    h = make_harness(tmp_path, replay.url + "/{region}", OBJECT_STORE_URL="s3://",
                     RESULT_QUEUE_URL=results, FAILURE_QUEUE_URL=failures,
                     CLAIM_CHECK_URL=f"s3://{b}/ocrflow-results/")
    replay.script(Answer(), Answer(200, {"result": {"words_block_list": [{"words": "y" * 300_000}]}}))
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": b}, "object": {
        "key": k}}} for k in ("scan+1.png", "big.png")] + [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": b}, "object": {"key": "gone.png"}}}]}
    answer = h.invoke(event)
    assert answer["counts"] == {"records": 3, "results": 2, "failures": 1, "duplicates": 0,
                                "ignored": 0, "unpublished": 0}
    got = [validate_message(json.loads(m["Body"])) for m in
           sqs.receive_message(QueueUrl=results, MaxNumberOfMessages=10)["Messages"]]
    # the records of a batch run concurrently: either object may have drawn the large answer
    [big] = [m for m in got if "result_ref" in m["data"]]
    [small] = [m for m in got if "result_ref" not in m["data"]]
    assert {big["subject"], small["subject"]} == {"big.png", "scan 1.png"}
    assert small["data"]["result"]["words_block_list"][0]["words"] == "hello"
    ref = big["data"]["result_ref"]
    stored = s3.get_object(Bucket=b, Key=ref["url"].split(f"s3://{b}/")[1])["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == ref["sha256"]
    assert json.loads(stored)["words_block_list"][0]["words"] == "y" * 300_000
    [failure] = sqs.receive_message(QueueUrl=failures)["Messages"]
    assert json.loads(failure["Body"])["data"]["error"]["code"] == "OCRFLOW.OBJECT_NOT_FOUND"
    h.close()
