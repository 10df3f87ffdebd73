"""The bad-input corpus (tests/badinput/): each case ends in exactly one failure message
with a documented code, nothing is paid for what can be checked locally, no traceback
reaches the output, and the same function instance keeps working for the next record."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest

from ocrflow.core.errors import OCRFLOW_CODES
from tests.conftest import ROOT
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer

CORPUS = ROOT / "tests" / "badinput"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text("utf-8"))
ROUTES = json.dumps([{"prefix": f"{api}/", "api": api} for api in ("id-card", "web-image", "mvs-invoice")])
PROVIDER_CODES = ("AIS.", "ModelArts.", "APIG.")


def test_the_corpus_is_big_enough_and_uses_documented_codes() -> None:
    assert len(CASES) >= 60
    for c in CASES:
        assert c["expect"] in OCRFLOW_CODES or c["expect"].startswith(PROVIDER_CODES), c


def record(key: str, *, raw_key: bool = False, etag: str | None = None,
           size: int | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key if raw_key else quote_plus(key, safe="/")}
    if etag:
        obj["eTag"] = etag
    if size is not None:
        obj["size"] = size
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "awsRegion": "us-east-1", "s3": {"bucket": {"name": "uploads"}, "object": obj}}


class Bench:
    def __init__(self, h: Harness, replay: ReplayServer) -> None:
        self.h, self.replay = h, replay

    def event_for(self, c: dict[str, Any]) -> Any:
        gen = c.get("generate")
        if gen == "huge_event":
            return json.dumps({"Records": [{"padding": "x" * (6 * 1024 * 1024)}]})
        if gen == "many_bad_records":
            return {"Records": [{"s3": {"bucket": {"name": "uploads"}, "object": {}}}] * 50}
        if gen == "over_limit":
            self.h.put("uploads", c["key"], b"\x89PNG\r\n\x1a\n" + b"\0" * (8 * 1024 * 1024))
            return {"Records": [record(c["key"])]}
        if gen == "small_but_event_says_huge":
            # an event that names the version (ETag) and a size over the limit is refused
            # from the size alone, before anything is downloaded
            data = (CORPUS / "files" / "good.png").read_bytes()
            self.h.put("uploads", c["key"], data)
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            return {"Records": [record(c["key"], size=10**9, etag=etag)]}
        if "event" in c:
            return c["event"]
        if c.get("file"):
            self.h.put("uploads", c["key"], (CORPUS / "files" / c["file"]).read_bytes())
        if c.get("folder"):
            (self.h.root / "uploads" / c["key"]).mkdir(parents=True, exist_ok=True)
        return {"Records": [record(c["key"], raw_key=bool(c.get("raw_key")), etag=c.get("etag"))]}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    server = ReplayServer()
    h = make_harness(tmp_path_factory.mktemp("badinput"), server.url + "/{region}",
                     OCR_ROUTES=ROUTES, OCR_MAX_ATTEMPTS="1")
    yield Bench(h, server)
    h.close()
    server.stop()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], bench: Bench, log_lines: io.StringIO,
              capsys: pytest.CaptureFixture[str], validate_message: Any) -> None:
    if "answer" in case:
        a = case["answer"]
        bench.replay.script(Answer(a["status"], {"error_code": a["error_code"],
                                                 "error_msg": "refused by the service"}))
    failures_before = len(bench.h.failures())
    results_before = len(bench.h.results())
    calls_before = len(bench.replay.received)

    answer = bench.h.invoke(bench.event_for(case))  # must not raise

    new = bench.h.failures()[failures_before:]
    expected = case.get("expect_count", 1)
    assert len(new) == expected, (answer, new)
    for message in new:
        validate_message(message)
        assert message["data"]["error"]["code"] == case["expect"]
    assert len(bench.h.results()) == results_before
    calls = len(bench.replay.received) - calls_before
    assert calls == (1 if case["call"] else 0)
    if case["expect"] == "OCRFLOW.EVENT_INVALID":
        assert all(len(m["data"]["event_excerpt"]) <= 1025 for m in new)
    out = log_lines.getvalue() + capsys.readouterr().out + capsys.readouterr().err
    assert "Traceback" not in out and '"exception"' not in out


def test_the_function_keeps_working_after_the_corpus(bench: Bench) -> None:
    bench.h.put("uploads", "after/good.png", (CORPUS / "files" / "good.png").read_bytes())
    before = len(bench.h.results())
    bench.h.invoke({"Records": [record("after/good.png")]})
    assert len(bench.h.results()) == before + 1
