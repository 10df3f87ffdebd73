"""Throttling in the record flow: a throttled record is given back (unpublished, nothing
billed) and redelivered; only OCR_MAX_DELIVERIES throttled deliveries in a row make it a
published failure; a record whose slot lies beyond its deadline is given back without a
call."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.ratelimit.limiter import WINDOW_GUARD_S
from ocrflow.contract.events import parse_event
from ocrflow.flow.pipeline import Pipeline
from ocrflow.handler import RecordsNotPublished, credentials_for
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_pipeline import png_bytes, s3_event

THROTTLED = Answer(429, {"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached"})


@pytest.fixture
def h(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    harness = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CALLS_PER_SECOND="50")
    harness.put("ocrflow-uploads", "doc.png", png_bytes())
    yield harness
    harness.close()


def deliver(h: Harness, event: dict[str, Any]) -> dict[str, Any]:
    try:
        return h.invoke(event)
    except RecordsNotPublished as exc:
        return {"not_published": str(exc)}


def test_a_throttled_record_is_redelivered_until_the_attempts_run_out(h: Harness,
                                                                      replay: ReplayServer) -> None:
    replay.default = THROTTLED
    event = s3_event("doc.png")
    for delivery in (1, 2):  # OCR_MAX_DELIVERIES=3 in the harness
        assert "not_published" in deliver(h, event), delivery
        assert h.results() == [] and h.failures() == []
    assert len(replay.received) == 6  # three attempts per delivery, none billed
    third = deliver(h, event)
    assert third["counts"]["failures"] == 1
    [failure] = h.failures()
    assert failure["data"]["error"]["code"] == "APIG.0308"


def test_throttled_deliveries_are_counted_by_their_own_setting_not_by_the_attempts_of_a_call(
        tmp_path: Path, replay: ReplayServer) -> None:
    """OCR_MAX_ATTEMPTS bounds the attempts of one call; OCR_MAX_DELIVERIES the deliveries
    of a record: one attempt per delivery, and still three deliveries before the failure."""
    harness = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_ATTEMPTS="1",
                           OCR_MAX_DELIVERIES="3")
    try:
        harness.put("ocrflow-uploads", "doc.png", png_bytes())
        replay.default = THROTTLED
        event = s3_event("doc.png")
        for delivery in (1, 2):
            assert "not_published" in deliver(harness, event), delivery
            assert len(replay.received) == delivery  # one attempt per delivery
        assert deliver(harness, event)["counts"]["failures"] == 1
        assert [f["data"]["error"]["code"] for f in harness.failures()] == ["APIG.0308"]
    finally:
        harness.close()


def test_a_delivery_that_gets_through_publishes_the_result_once(h: Harness, replay: ReplayServer) -> None:
    replay.script(THROTTLED, THROTTLED, THROTTLED)  # the whole first delivery is throttled
    event = s3_event("doc.png")
    assert "not_published" in deliver(h, event)
    answer = deliver(h, event)
    assert answer["counts"]["results"] == 1 and len(h.results()) == 1 and h.failures() == []
    assert len(replay.received) == 4
    assert deliver(h, event)["counts"]["duplicates"] == 1 and len(replay.received) == 4


def test_no_slot_before_the_deadline_gives_the_record_back_without_a_call(
        tmp_path: Path, replay: ReplayServer) -> None:
    # one slot every 2 s; a record may take 3 s, of which its call needs 1.5 s (connect
    # timeout + 1 s): the first record's slot is now, the others' would come too late
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CALLS_PER_SECOND="0.5",
                     OCR_DEADLINE_S="3", OCR_CONNECT_TIMEOUT_S="0.5")
    try:
        for k in ("a.png", "b.png", "c.png"):
            h.put("ocrflow-uploads", k, png_bytes())
        outcomes = Pipeline(h.rt).process(parse_event(s3_event("a.png", "b.png", "c.png")),
                                          credentials_for(h.settings, None), time.monotonic() + 60)
        assert sorted(o.status for o in outcomes) == ["result", "unpublished", "unpublished"]
        assert {o.code for o in outcomes if o.status == "unpublished"} == {"OCRFLOW.RATE_LIMITED"}
        assert len(replay.received) == 1 and len(h.results()) == 1 and h.failures() == []
    finally:
        h.close()


def test_the_lowered_fleet_rate_is_logged(h: Harness, replay: ReplayServer, log_lines: io.StringIO) -> None:
    replay.default = THROTTLED
    deliver(h, s3_event("doc.png"))
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    lowered = [line for line in lines
               if line["message"] == "throttled by the provider: fleet-wide rate lowered"]
    # three throttled attempts: the first arms the decrease, the second makes it, the third
    # belongs to the same episode
    assert len(lowered) == 1
    assert lowered[0]["api"] == "general-text" and lowered[0]["region"] == "cn-north-4"
    # a fifth below the rate the fleet was spaced at: the limit less the one-second guard
    assert (lowered[0]["calls_per_second"], lowered[0]["ceiling"]) == (
        round(0.8 * 50 / (1 + WINDOW_GUARD_S), 2), 50.0)


def test_a_throttled_page_gives_the_document_back_and_the_redelivery_calls_only_the_rest(
        tmp_path: Path, replay: ReplayServer) -> None:
    from tests.unit.test_documents import pdf_of

    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1")
    try:
        h.put("ocrflow-uploads", "a.pdf", pdf_of(3))
        page = Answer(200, {"result": {"words_block_list": [{"words": "page"}]}})
        # page 1 answers; page 2 is throttled on each of its three attempts
        replay.script(page, THROTTLED, THROTTLED, THROTTLED)
        event = s3_event("a.pdf")
        assert "not_published" in deliver(h, event)
        assert h.results() == [] and h.failures() == []
        assert len(replay.received) == 4
        first = [json.loads(r.body)["pdf_page_number"] for r in replay.received]
        assert first[0] == 1 and set(first[1:]) == {2}
        replay.default = page
        assert deliver(h, event)["counts"]["results"] == 1
        again = [json.loads(r.body)["pdf_page_number"] for r in replay.received[4:]]
        assert again == [2, 3]  # page 1 was saved: not paid twice
        [msg] = h.results()
        assert len(msg["data"]["pages"]) == 3
    finally:
        h.close()
