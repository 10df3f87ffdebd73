"""Whoever can write to the result queue can write any message: the consumer follows a claim
check only to where ocrflow writes them, reads no more than declared, within a timeout, and
every body that is not an ocrflow message is a MessageError."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocrflow.adapters.stores import ObjectStore
from ocrflow.consumer import (
    MessageError,
    OcrResult,
    ResultRefError,
    parse,
    parse_message,
    result_of,
)
from ocrflow.contract.messages import ResultMessage
from ocrflow.core.models import ObjectHead, ObjectRef
from tests.conftest import ROOT
from tests.support.mutations import spliced

RESULT = {"words_block_list": [{"words": "stored"}]}
DATA = json.dumps(RESULT).encode()


def stored_message(url: str | None = None, size: int = len(DATA),
                   sha256: str = hashlib.sha256(DATA).hexdigest()) -> tuple[OcrResult, str]:
    """A claim-checked result of an upload to bucket ``uploads``, and the object key ocrflow
    writes it under; ``url`` defaults to that object in the folder store ``ROOT``."""
    message = ResultMessage(function="recognize", ref=ObjectRef("uploads", "a.png", None, "e", 1),
                            api="general-text", region="cn-north-4", result=RESULT)
    key = f"ocrflow-results/{message.id}.json"
    parsed = parse(message.stored_at({"url": url or key, "bytes": size, "sha256": sha256}).body())
    assert isinstance(parsed, OcrResult)
    return parsed, key


def retarget(message: OcrResult, url: str, size: int | None = None) -> OcrResult:
    event = message.model_dump(mode="json")
    event["data"]["result_ref"]["url"] = url
    if size is not None:
        event["data"]["result_ref"]["bytes"] = size
    out = parse(event)
    assert isinstance(out, OcrResult)
    return out


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    (tmp_path / "store" / "uploads" / "ocrflow-results").mkdir(parents=True)
    return tmp_path / "store"


def at_home(store_root: Path, key: str) -> Path:
    return store_root / "uploads" / key


def refused(message: OcrResult, store: Any, **fetch: Any) -> str:
    with pytest.raises(ResultRefError) as err:
        result_of(message, store, **fetch)
    return str(err.value)


def test_a_reference_where_ocrflow_writes_it_is_read(store_root: Path) -> None:
    message, key = stored_message()
    at_home(store_root, key).write_bytes(DATA)
    message = retarget(message, at_home(store_root, key).as_uri())
    assert result_of(message, store_root.as_uri()) == RESULT


def test_a_file_elsewhere_is_not_read_and_its_size_not_told(store_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_bytes(b'{"k": "' + b"s" * 12345 + b'"}')
    message, _ = stored_message()
    for url in (secret.as_uri(), (store_root / "uploads" / "secret.json").as_uri(),
                (store_root / "other" / "ocrflow-results" / "x.json").as_uri()):
        text = refused(retarget(message, url), store_root.as_uri())
        assert "not where ocrflow writes claim checks" in text, text
        assert "12345" not in text and "12357" not in text and "sss" not in text


def test_a_host_in_a_file_reference_is_refused(store_root: Path) -> None:
    message, key = stored_message()
    at_home(store_root, key).write_bytes(DATA)
    evil = "file://evil.example.com" + at_home(store_root, key).as_uri().removeprefix("file://")
    assert "names no host" in refused(retarget(message, evil), store_root.as_uri())


def test_a_file_reference_is_read_only_through_a_folder_store(
        store_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message, key = stored_message()
    at_home(store_root, key).write_bytes(DATA)
    message = retarget(message, at_home(store_root, key).as_uri())
    monkeypatch.delenv("OBJECT_STORE_URL", raising=False)
    assert "only through a folder store" in refused(message, None)


def test_more_bytes_than_declared_are_not_read(store_root: Path) -> None:
    message, key = stored_message()
    at_home(store_root, key).write_bytes(DATA + b" " * 1_000_000)
    text = refused(retarget(message, at_home(store_root, key).as_uri()), store_root.as_uri())
    assert "holds more bytes than the reference declares" in text
    assert "1000" not in text


def test_a_declared_size_above_the_limit_is_not_read(store_root: Path) -> None:
    message, key = stored_message()
    at_home(store_root, key).write_bytes(DATA)
    big = retarget(message, at_home(store_root, key).as_uri(), size=10**15)
    assert "declares more bytes" in refused(big, store_root.as_uri())


def test_a_link_at_the_claim_checks_place_is_not_followed_out(store_root: Path, tmp_path: Path) -> None:
    message, key = stored_message()
    target = tmp_path / "outside.json"
    target.write_bytes(DATA)
    at_home(store_root, key).symlink_to(target)
    assert "does not exist" in refused(retarget(message, at_home(store_root, key).as_uri()),
                                       store_root.as_uri())


def test_a_bucket_elsewhere_is_not_asked(store_root: Path) -> None:
    message, key = stored_message()
    store = BlockingStore()
    for url in (f"s3://other-bucket/{key}", "s3://uploads/ocrflow-results/x.json",
                f"s3://uploads/{key}/../../private.json", f"obs://other/{key}"):
        assert "not where ocrflow writes" in refused(retarget(message, url), store)
    assert store.asked == []
    store.release.set()
    assert result_of(retarget(message, f"s3://uploads/{key}"), store) == RESULT
    assert store.asked == [("uploads", key, len(DATA))]  # at most the declared size


def test_the_configured_claim_check_location_is_the_only_place(store_root: Path) -> None:
    message, key = stored_message()
    store = BlockingStore()
    store.release.set()
    name = key.removeprefix("ocrflow-results/")
    located = retarget(message, f"s3://results/large/{name}")
    assert result_of(located, store, claim_check_url="s3://results/large/") == RESULT
    assert "not where" in refused(retarget(message, f"s3://uploads/{key}"), store,
                                  claim_check_url="s3://results/large/")


def test_a_read_that_does_not_answer_is_given_up(store_root: Path) -> None:
    message, key = stored_message()
    store = BlockingStore()
    text = refused(retarget(message, f"s3://uploads/{key}"), store, timeout_s=0.5)
    assert "was not read within 0.5 s" in text
    store.release.set()


class BlockingStore(ObjectStore):
    """An object store (the port) that serves DATA once released, recording each read."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked: list[tuple[str, str, int | None]] = []

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead:
        raise NotImplementedError

    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        self.asked.append((bucket, key, max_bytes))
        self.release.wait(30)
        return DATA

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        raise NotImplementedError

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectHead]:
        raise NotImplementedError


HOSTILE_FILES = r"""
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from ocrflow.consumer import ResultRefError, parse, result_of
from tests.unit.test_consumer_hostile import retarget, stored_message
root, case = sys.argv[1], sys.argv[2]
message, key = stored_message()
home = os.path.join(root, "uploads", key)
if case == "fifo":
    os.mkfifo(home)
    url = "file://" + home
else:
    url = "file:///dev/zero"
try:
    result_of(retarget(message, url), "file://" + root)
    print("read")
except ResultRefError as exc:
    print(json.dumps({"refused": str(exc)}))
"""


@pytest.mark.parametrize("case", ["fifo", "dev-zero"])
def test_a_named_pipe_or_a_device_is_refused_at_once(store_root: Path, case: str) -> None:
    """Run apart, under a 1 GiB address-space limit: reading /dev/zero to its end, or
    waiting on a pipe no one writes, must not be what happens."""
    run = subprocess.run([sys.executable, "-c", HOSTILE_FILES, str(store_root), case],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}"})
    assert run.returncode == 0, run.stderr[-2000:]
    refusal = json.loads(run.stdout)["refused"]
    # refused for what it is, not given up after the read timeout
    reason = "is not a regular file" if case == "fifo" else "not where ocrflow writes"
    assert reason in refusal and "file://" in refusal, refusal


# --- every parsing failure is a MessageError ----------------------------------------------------
VALID = ResultMessage(function="recognize", ref=ObjectRef("uploads", "a.png", None, "e", 1),
                      api="general-text", region="cn-north-4", result=RESULT).body().decode()
PIECES = ["[" * 50_000, "{" * 1000, '{"a":' * 3000, "9" * 5000, "1e999", "-Infinity", "NaN",
          "\\ud800", "\x00", '"', "}", "]", ",", ":", "null", "\udcff", "1." + "5" * 5000]



bodies = st.one_of(
    spliced(VALID, PIECES, reach=10_000, max_pieces=3),
    st.binary(max_size=200), st.text(max_size=200),
    st.sampled_from([VALID.replace('"attempts":0', '"attempts":' + "9" * 5000),
                     VALID.replace('"result":{', '"result":' + "[" * 100_000 + "{"),
                     "[" * 200_000]))


@given(bodies, st.sampled_from(["text", "bytes", "sqs", "boto3", "redis"]))
def test_whatever_the_body_parsing_returns_a_message_or_raises_message_error(
        body: Any, framing: str) -> None:
    if isinstance(body, str) and framing == "bytes":
        body = body.encode("utf-8", "surrogatepass")
    framed: Any = {"text": body, "bytes": body,
                   "sqs": {"messageId": "m", "eventSource": "aws:sqs", "body": body},
                   "boto3": {"MessageId": "m", "Body": body},
                   "redis": {b"event": body}}[framing]
    try:
        parse_message(framed)
    except MessageError:
        pass


@pytest.mark.parametrize("body", [
    VALID.replace('"attempts":0', '"attempts":' + "9" * 5000),
    '{"type": "ocr.result.v1", "data": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "[" * 200_000,
])
def test_deep_nesting_and_long_numbers_are_message_errors(body: str) -> None:
    assert '"attempts":0' in VALID
    with pytest.raises(MessageError):
        parse_message(body)
    with pytest.raises(MessageError):
        parse_message(body.encode())
