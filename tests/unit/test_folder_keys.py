"""One object, one key: on the folder store a key that is not the canonical path of a file
is refused before anything is read, so no file is read (and paid for) under a second key.
S3 and OBS keys are passed as they are: there they name different objects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocrflow.adapters.stores.file import FileStore
from ocrflow.core.errors import FailureError, KeyInvalid, ObjectNotFound
from ocrflow.core.object_names import check_key
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import ReplayServer
from tests.unit.test_hostile_events import notification
from tests.unit.test_pipeline import png_bytes

BUCKET = "ocrflow-uploads"
FILES = {"a.png": b"file a", "d/b.png": b"file b"}
SEGMENTS = ["a.png", "d", "b.png", ".", "..", "", "x"]


@pytest.fixture
def harness(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    h = make_harness(tmp_path, replay.url)
    yield h
    h.close()


def test_other_spellings_of_a_files_path_are_refused_before_reading(
        harness: Harness, replay: ReplayServer) -> None:
    harness.put(BUCKET, "a.png", png_bytes())
    spellings = ["a.png/.", "./a.png", "a.png/", ".//a.png", "sub/../a.png"]
    for key in ["a.png", *spellings]:
        harness.invoke(notification(key))
    assert len(replay.received) == 1  # a.png, once
    assert [m["subject"] for m in harness.results()] == ["a.png"]
    failures = harness.failures()
    assert sorted(m["subject"] for m in failures) == sorted(spellings)
    assert {m["data"]["error"]["code"] for m in failures} == {"OCRFLOW.KEY_INVALID"}


@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join))
def test_the_folder_store_reads_a_file_only_under_its_own_path(
        tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    root = tmp_path_factory.getbasetemp() / "folder-keys"
    for name, data in FILES.items():
        (root / BUCKET / name).parent.mkdir(parents=True, exist_ok=True)
        (root / BUCKET / name).write_bytes(data)
    store = FileStore(root)
    try:
        data = store.get(BUCKET, key)
    except (KeyInvalid, ObjectNotFound):
        assert key not in FILES
        return
    assert FILES.get(key) == data


@pytest.mark.parametrize("key", ["a.png/.", "./a.png", "a.png/", "a//b.png", "/a.png"])
def test_s3_and_obs_keys_are_passed_as_they_are(key: str) -> None:
    for scheme in ("s3", "obs"):
        check_key(key, scheme)  # no refusal: another object than a.png there
    with pytest.raises(FailureError) as refused:
        check_key(key, "file")
    assert refused.value.failure.code == "OCRFLOW.KEY_INVALID"
