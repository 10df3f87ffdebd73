"""``data.usage`` on every message: what the provider billed for the upload and the calls that
reached it, across every delivery of the record — equal to what the usage metrics count."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core.errors import IdempotencyError
from ocrflow.flow import ledger
from ocrflow.flow.redrive import redrive
from ocrflow.handler import credentials_for
from ocrflow.provider import usage
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import OK_RESULT, Answer, ReplayServer
from tests.unit.test_documents import pdf_of
from tests.unit.test_pipeline import png_bytes, s3_event
from tests.unit.test_ratelimit_flow import THROTTLED, deliver

BUSY = Answer(500, {"error_code": "ModelArts.4203", "error_msg": "internal error"})
REFUSED = Answer(400, {"error_code": "AIS.0103",
                       "error_msg": "The image size does not meet the requirements."})


@pytest.fixture
def h(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    harness = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1")
    harness.rt.metrics.stream = io.StringIO()
    yield harness
    harness.close()


def usage_of(message: dict[str, Any]) -> dict[str, int]:
    return message["data"]["usage"]  # type: ignore[no-any-return]


def metered(h: Harness) -> dict[str, int]:
    """What the usage metrics counted (the EMF documents each invocation wrote)."""
    stream = h.rt.metrics.stream
    assert isinstance(stream, io.StringIO)
    docs = [json.loads(line) for line in stream.getvalue().splitlines()]
    return {"billed_units": sum(d.get("OcrBilledUnits", 0) for d in docs),
            "calls": sum(d.get("OcrCallsTotal", 0) for d in docs)}


def summed(messages: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(usage_of(m)[k] for m in messages) for k in ("billed_units", "calls")}


def test_a_result_after_a_retry_counts_both_calls_and_one_billed_unit(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(BUSY)
    h.put("ocrflow-uploads", "a.png", png_bytes())
    h.invoke(s3_event("a.png"))
    [msg] = [validate_message(m) for m in h.results()]
    assert usage_of(msg) == {"billed_units": 1, "calls": 2}
    assert metered(h) == usage_of(msg)


def test_failures_carry_usage_too_refusals_are_not_billed(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(REFUSED)
    h.put("ocrflow-uploads", "refused.png", png_bytes())
    h.put("ocrflow-uploads", "empty.png", b"")
    h.invoke(s3_event("refused.png", "empty.png"))
    failures = {m["subject"]: validate_message(m) for m in h.failures()}
    assert usage_of(failures["refused.png"]) == {"billed_units": 0, "calls": 1}
    assert usage_of(failures["empty.png"]) == {"billed_units": 0, "calls": 0}  # refused locally
    assert metered(h) == summed(list(failures.values()))


def test_an_answer_with_an_error_code_inside_a_2xx_is_a_call_not_a_billed_unit(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(Answer(200, {"error_code": "AIS.0105", "error_msg": "recognition failed"}))
    h.put("ocrflow-uploads", "a.png", png_bytes())
    h.invoke(s3_event("a.png"))
    [msg] = [validate_message(m) for m in h.failures()]
    assert usage_of(msg) == {"billed_units": 0, "calls": 1} == metered(h)


def test_auto_classification_bills_each_recognized_document(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}",
                     OCR_ROUTES=json.dumps([{"prefix": "", "api": "auto-classification"}]))
    h.rt.metrics.stream = io.StringIO()
    try:
        ok = {"error_code": "AIS.0000", "error_msg": "Success"}
        replay.script(Answer(200, {"result": [
            {"status": ok, "type": "id_card", "content": {"name": "x"}},
            {"status": ok, "type": "bankcard", "content": {"number": "1"}},
            {"status": {"error_code": "AIS.0104", "error_msg": "unrecognised"}, "type": "unknown"}]}))
        h.put("ocrflow-uploads", "mixed.png", png_bytes())
        h.invoke(s3_event("mixed.png"))
        [msg] = [validate_message(m) for m in h.results()]
        assert usage_of(msg) == {"billed_units": 2, "calls": 1} == metered(h)
    finally:
        h.close()


def test_a_redelivery_after_a_throttle_counts_the_calls_of_the_deliveries_before(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(THROTTLED, THROTTLED, THROTTLED, THROTTLED)  # OCR_MAX_ATTEMPTS=3 a delivery
    h.put("ocrflow-uploads", "a.png", png_bytes())
    event = s3_event("a.png")
    assert "not_published" in deliver(h, event)
    assert "not_published" not in deliver(h, event)
    [msg] = [validate_message(m) for m in h.results()]
    assert len(replay.received) == 5
    assert usage_of(msg) == {"billed_units": 1, "calls": 5} == metered(h)
    assert deliver(h, event)["counts"]["duplicates"] == 1 and len(replay.received) == 5


def test_a_record_throttled_on_every_delivery_fails_with_all_its_calls(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.default = THROTTLED
    h.put("ocrflow-uploads", "a.png", png_bytes())
    event = s3_event("a.png")
    for _ in range(3):
        deliver(h, event)
    [msg] = [validate_message(m) for m in h.failures()]
    assert usage_of(msg) == {"billed_units": 0, "calls": 9} == metered(h)


def test_a_document_counts_per_page_and_a_throttled_page_keeps_its_earlier_calls(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    page = Answer(200, OK_RESULT)
    # page 1 answers; page 2 is throttled on each of its three attempts: given back
    replay.script(page, THROTTLED, THROTTLED, THROTTLED)
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    event = s3_event("doc.pdf")
    assert "not_published" in deliver(h, event)
    replay.default = page
    assert deliver(h, event)["counts"]["results"] == 1
    [msg] = [validate_message(m) for m in h.results()]
    pages = [p["usage"] for p in msg["data"]["pages"]]
    assert pages == [{"billed_units": 1, "calls": 1}, {"billed_units": 1, "calls": 4},
                     {"billed_units": 1, "calls": 1}]
    assert usage_of(msg) == {"billed_units": 3, "calls": 6} == metered(h)


def test_a_failed_document_counts_its_answered_pages_and_the_failing_one(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(Answer(200, OK_RESULT), BUSY, REFUSED)
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    h.invoke(s3_event("doc.pdf"))
    [msg] = [validate_message(m) for m in h.failures()]
    assert [p["usage"] for p in msg["data"]["pages"]] == [{"billed_units": 1, "calls": 1}]
    assert usage_of(msg) == {"billed_units": 1, "calls": 3} == metered(h)


def test_a_redrive_reuses_answered_pages_at_no_cost_so_each_call_is_counted_once(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(Answer(200, OK_RESULT), REFUSED)
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    h.invoke(s3_event("doc.pdf"))
    [failure] = [validate_message(m) for m in h.failures()]
    assert usage_of(failure) == {"billed_units": 1, "calls": 2}
    replay.script(Answer(200, OK_RESULT), Answer(200, OK_RESULT))
    redrive(h.rt, h.settings.queue_url("failure"), None, credentials_for(h.settings, None),
            time.monotonic() + 60)
    h.rt.metrics.flush()
    [result] = [validate_message(m) for m in h.results()]
    # page 1 was paid for, and reported, by the failure the redrive replays
    assert [p["usage"] for p in result["data"]["pages"]] == [
        {"billed_units": 0, "calls": 0}, {"billed_units": 1, "calls": 1}, {"billed_units": 1, "calls": 1}]
    assert usage_of(result) == {"billed_units": 2, "calls": 2}
    assert metered(h) == summed([failure, result]) == {"billed_units": 3, "calls": 4}


def test_a_ledger_that_cannot_be_read_costs_a_redelivery_not_a_call(
        h: Harness, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any) -> Any:
        raise IdempotencyError("idempotency store: down")

    monkeypatch.setattr(ledger, "read_ledger", down)
    h.put("ocrflow-uploads", "a.png", png_bytes())
    assert "not_published" in deliver(h, s3_event("a.png"))
    assert replay.received == [] and h.results() == [] and h.failures() == []


def test_the_ledger_adds_up_and_drops_pages_once_answered() -> None:
    kept = ledger.Ledger().plus(usage.Usage(0, 3), {2: usage.Usage(0, 3)}, [1])
    kept = ledger.Ledger.decoded(kept.encoded()).plus(
        usage.Usage(0, 1), {2: usage.Usage(0, 1), 3: usage.Usage(0, 2)}, [2])
    assert kept == ledger.Ledger(usage.Usage(0, 4), {3: usage.Usage(0, 2)})
    assert ledger.Ledger.decoded(b"not json") == ledger.Ledger()


def test_the_docs_sum_usage_per_day_and_prefix(h: Harness, replay: ReplayServer) -> None:
    import re

    from tests.conftest import ROOT

    block = re.search(r"<!-- usage:sum -->\n```python\n(.*?)```",
                      (ROOT / "docs" / "consuming.md").read_text("utf-8"), re.S)
    assert block, "docs/consuming.md has no usage:sum example"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/consuming.md:usage:sum", "exec"), namespace)  # noqa: S102
    replay.script(BUSY, Answer(200, OK_RESULT), Answer(200, OK_RESULT), REFUSED)
    for key in ("invoices/a.png", "invoices/b.png", "scans/c.png"):
        h.put("ocrflow-uploads", key, png_bytes())
    h.invoke(s3_event("invoices/a.png", "invoices/b.png", "scans/c.png"))
    published = h.results() + h.failures()
    day = published[0]["time"][:10]
    older = json.loads(json.dumps(published[0]))
    del older["data"]["usage"]  # published before usage was reported: not counted
    lines = [json.dumps(m) + "\n" for m in [*published, older]]  # as `ocrflow queue dump` prints
    units, costs = namespace["usage_by"](lines, {"general-text": 0.0035})
    assert units == {(day, "invoices", "general-text"): 2, (day, "scans", "general-text"): 0}
    assert costs == {(day, "invoices", "general-text"): pytest.approx(0.007),
                     (day, "scans", "general-text"): 0.0}
    assert sum(units.values()) == metered(h)["billed_units"]
