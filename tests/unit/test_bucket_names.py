"""Bucket names are checked like keys: a folder store never reads outside its root, cloud
stores get only names their naming rules allow, and only regular files are objects."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.stores.file import FileStore
from ocrflow.core.errors import BucketInvalid, FailureError, ObjectNotFound, ObjectTooLarge
from ocrflow.core.object_names import bucket_problem, check_bucket
from tests.conftest import load_event
from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

ESCAPING = ["../outside", "..", ".", "b/../../outside", "/abs", "a\\..\\b", "a\x00b", ""]


def eventbridge(bucket: str, key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("eventbridge_object_created.json"))
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"] = {"key": key}
    return event


@pytest.fixture
def platform(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    yield p
    tear_down()


@pytest.mark.parametrize("bucket", ESCAPING)
def test_a_bucket_name_never_leaves_the_folder_stores_root(
        platform: Platform, replay: ReplayServer, tmp_path: Path, bucket: str) -> None:
    # files the hostile names would reach if they were joined to the root as paths
    (tmp_path / "outside").write_bytes(png_bytes())
    (tmp_path / "abs").write_bytes(png_bytes())
    platform.put("b", "x", png_bytes())
    key = str(tmp_path / "abs") if bucket == "/abs" else "outside"
    answer = platform.invoke(eventbridge(bucket, key))
    assert answer["counts"]["unpublished"] == 0, answer
    [failure] = platform.failures()
    assert failure["data"]["error"]["code"] in {"OCRFLOW.BUCKET_INVALID", "OCRFLOW.EVENT_INVALID"}
    assert replay.received == []  # nothing read, nothing sent


def test_the_store_itself_refuses_escaping_bucket_names(tmp_path: Path) -> None:
    (tmp_path / "root" / "b").mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(b"s")
    store = FileStore(tmp_path / "root")
    for bucket in ESCAPING:
        with pytest.raises(BucketInvalid):
            store.get(bucket, "secret.txt")
        with pytest.raises(BucketInvalid):
            store.put(bucket, "planted.txt", b"x", "text/plain")
    assert list(store.list("..")) == []
    assert not (tmp_path / "planted.txt").exists()


def test_a_named_pipe_in_a_bucket_is_refused_without_blocking(tmp_path: Path) -> None:
    bucket = tmp_path / "b"
    bucket.mkdir()
    os.mkfifo(bucket / "pipe.png")
    store = FileStore(tmp_path)
    outcome: list[BaseException | None] = []

    def read() -> None:
        for call in (lambda: store.head("b", "pipe.png"), lambda: store.get("b", "pipe.png")):
            try:
                call()
                outcome.append(None)
            except ObjectNotFound as exc:
                outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(30)  # a blocking open would wait for a writer forever
    assert not worker.is_alive(), "reading a named pipe blocked"
    assert len(outcome) == 2 and all(isinstance(e, ObjectNotFound) for e in outcome)
    assert "not a regular file" in str(outcome[0])


def test_a_named_pipe_upload_ends_in_one_failure(platform: Platform, replay: ReplayServer) -> None:
    (platform.root / "ocrflow-uploads").mkdir(parents=True, exist_ok=True)
    os.mkfifo(platform.root / "ocrflow-uploads" / "pipe.png")
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(
        platform.invoke(eventbridge("ocrflow-uploads", "pipe.png"))), daemon=True)
    worker.start()
    worker.join(60)
    assert done and done[0]["counts"]["failures"] == 1
    assert replay.received == []


def test_reads_stop_at_the_byte_limit_whatever_the_size_announced(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "big.png").write_bytes(b"\0" * (8 * 1024 * 1024))
    store = FileStore(tmp_path)
    with pytest.raises(ObjectTooLarge):
        store.get("b", "big.png", max_bytes=1000)
    assert store.get("b", "big.png", max_bytes=8 * 1024 * 1024)[:1] == b"\0"


def test_a_symlink_out_of_the_bucket_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "root" / "b").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(png_bytes())
    (tmp_path / "root" / "b" / "link.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(ObjectNotFound):
        FileStore(tmp_path / "root").get("b", "link.png")


@pytest.mark.parametrize("bucket, scheme, ok", [
    ("ocrflow-uploads", "obs", True),
    ("a.b-c.d1", "obs", True),
    ("ab", "obs", False),
    ("a" * 64, "obs", False),
    ("Uploads", "obs", False),
    ("under_score", "obs", False),
    ("-start", "obs", False),
    ("end.", "obs", False),
    ("a..b", "obs", False),
    ("a.-b", "obs", False),
    ("a-.b", "obs", False),
    ("192.168.1.1", "obs", False),
    ("evil.example\\", "obs", False),
    ("b:8443", "obs", False),
    ("Legacy_Bucket", "s3", True),  # S3 still serves pre-2018 us-east-1 names
    ("b" * 255, "s3", True),
    ("b" * 256, "s3", False),
    ("a b", "s3", False),
    ("a/b", "s3", False),
    ("a\x00b", "s3", False),
    ("a@b", "s3", False),
    ("any name é", "file", True),
    ("..", "file", False),
])
def test_bucket_naming_rules(bucket: str, scheme: str, ok: bool) -> None:
    assert (bucket_problem(bucket, scheme) is None) is ok
    if not ok:
        with pytest.raises(FailureError) as err:
            check_bucket(bucket, scheme)
        assert err.value.failure.code == "OCRFLOW.BUCKET_INVALID"


def notification(bucket: str, key: str, size: int | None = None,
                 etag: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("s3_put.json"))
    obj: dict[str, Any] = {"key": key}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["s3"]["object"] = obj
    return event


def test_a_read_stops_at_the_api_limit_when_the_event_understates_the_size(
        platform: Platform, replay: ReplayServer) -> None:
    import tracemalloc

    path = platform.put("ocrflow-uploads", "huge.png", b"")
    with open(path, "r+b") as f:  # 300 MB, sparse: nothing is written to disk
        f.truncate(300 * 1024 * 1024)
    tracemalloc.start()
    try:
        answer = platform.invoke(notification("ocrflow-uploads", "huge.png", size=1_000,
                                              etag="0" * 32))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
    [failure] = platform.failures()
    assert failure["data"]["error"]["code"] == "OCRFLOW.FILE_TOO_LARGE"
    assert replay.received == []
    # read up to the download limit (64 MiB, for a photo to fit or a PDF to split), not 300 MB
    assert peak < 128 * 1024 * 1024


@pytest.mark.parametrize("store, bucket", [
    ("s3://?endpoint=http://127.0.0.1:1", "a\x00b"),
    ("s3://?endpoint=http://127.0.0.1:1", "../x"),
    ("s3://?endpoint=http://127.0.0.1:1", "a" * 256),
    ("obs://?endpoint=http://127.0.0.1:1", "Upper_Case"),
    ("obs://?endpoint=http://127.0.0.1:1", "evil.example:443"),
])
def test_cloud_bucket_names_are_checked_before_anything_is_read(
        tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, store: str,
        bucket: str, validate_message: Any) -> None:
    """Nothing listens at the store's endpoint: the refusal comes before any request."""
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}", OBJECT_STORE_URL=store)
    try:
        answer = p.invoke(notification(bucket, "k.png", size=10, etag="0" * 32))
        assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
        [failure] = [validate_message(m) for m in p.failures()]
        assert failure["data"]["error"]["code"] == "OCRFLOW.BUCKET_INVALID"
        assert replay.received == []
    finally:
        tear_down()


@pytest.mark.parametrize("region", ["cn-north-4\n", "cn-north-4.evil.example", "evil.example/x",
                                    "cn-north-4@evil.example", "cn-north-4:443"])
def test_an_events_region_never_makes_another_obs_endpoint(
        tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}", OBJECT_STORE_URL="obs://")
    try:
        event = notification("ocrflow-uploads", "k.png", size=10, etag="0" * 32)
        event["Records"][0]["awsRegion"] = region
        answer = p.invoke(event)
        assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
        [failure] = p.failures()
        assert failure["data"]["error"]["code"] == "OCRFLOW.OBJECT_READ_FAILED"
        assert "is not a region name" in failure["data"]["error"]["message"]
        assert replay.received == []
    finally:
        tear_down()
