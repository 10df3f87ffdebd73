"""What each page call sends and what the document's message keeps, seen from a recording
server: page numbers or split pages, the claim check for large documents, the budget given
back for pages not called, and a redrive that pays only for the pages not answered."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ocrflow.documents import pdf
from ocrflow.flow.redrive import redrive
from ocrflow.handler import credentials_for
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import OK_RESULT, Answer, ReplayServer
from tests.unit.test_documents import colour_of, pdf_of
from tests.unit.test_pipeline import png_bytes, s3_event

REFUSED = Answer(400, {"error_code": "AIS.0103",
                       "error_msg": "The image size does not meet the requirements."})


@pytest.fixture
def h(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    harness = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1")
    yield harness
    harness.close()


def bodies(replay: ReplayServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in replay.received]


def answer(n: int) -> Answer:
    return Answer(200, {"result": {"words_block_list": [{"words": f"page {n}"}]}})


def test_a_small_pdf_is_sent_whole_once_per_page_with_its_page_number(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    data = pdf_of(3)
    replay.script(answer(1), answer(2), answer(3))
    h.put("ocrflow-uploads", "a.pdf", data)
    assert h.invoke(s3_event("a.pdf"))["counts"]["results"] == 1
    sent = bodies(replay)
    assert [b["pdf_page_number"] for b in sent] == [1, 2, 3]
    assert all(base64.b64decode(b["image"]) == data for b in sent)
    [msg] = [validate_message(m) for m in h.results()]
    assert [p["result"]["words_block_list"][0]["words"] for p in msg["data"]["pages"]] == \
        ["page 1", "page 2", "page 3"]
    assert [p["request_id"] for p in msg["data"]["pages"]] == ["req-1", "req-2", "req-3"]


def test_an_api_without_page_numbers_gets_each_page_split_out(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}",
                     OCR_ROUTES=json.dumps([{"suffix": ".pdf", "api": "mvs-invoice"}]))
    data = pdf_of(3)
    h.put("ocrflow-uploads", "invoices.pdf", data)
    assert h.invoke(s3_event("invoices.pdf"))["counts"]["results"] == 1
    sent = bodies(replay)
    assert all("pdf_page_number" not in b for b in sent)
    pages = [base64.b64decode(b["image"]) for b in sent]
    assert [pdf.count_pages(p) for p in pages] == [1, 1, 1]
    assert sorted(colour_of(p) for p in pages) == sorted(colour_of(data, n) for n in (1, 2, 3))
    [msg] = [validate_message(m) for m in h.results()]
    assert [p["input"] for p in msg["data"]["pages"]] == \
        [{"format": "pdf", "width": 300, "height": 400, "scale": 1.0}] * 3
    h.close()


def test_a_document_too_large_for_the_queue_goes_through_the_claim_check(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    big = Answer(200, {"result": {"words_block_list": [{"words": "x" * 3000}] * 10}})
    replay.script(big, big)
    h.rt.message_limits["result"] = 32 * 1024
    h.put("ocrflow-uploads", "big.pdf", pdf_of(2))
    h.invoke(s3_event("big.pdf"))
    [msg] = [validate_message(m) for m in h.results()]
    assert "pages" not in msg["data"] and msg["data"]["pages_total"] == 2
    ref = msg["data"]["result_ref"]
    stored = Path(ref["url"].removeprefix("file://")).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == ref["sha256"]
    assert [p["page"] for p in json.loads(stored)] == [1, 2]


def test_pages_not_called_after_a_refusal_are_given_back_to_the_budget(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CONCURRENCY="1",
                     OCR_MAX_CALLS_PER_DAY="3")
    replay.script(Answer(200, OK_RESULT), REFUSED)
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    h.put("ocrflow-uploads", "one.png", png_bytes())
    assert h.invoke(s3_event("doc.pdf"))["counts"]["failures"] == 1
    assert len(replay.received) == 2  # page 3 was never called
    [failure] = [validate_message(m) for m in h.failures()]
    assert failure["data"]["error"] == {"code": "AIS.0103", "http_status": 400, "source": "provider",
                                        "retryable": False, "message": "page 2 of 3: The image size does "
                                        "not meet the requirements."}
    # 3 taken for the document, 1 given back: one more call fits the day's budget of 3
    assert h.invoke(s3_event("one.png"))["counts"]["results"] == 1
    h.close()


def test_a_redrive_of_a_failed_document_pays_only_for_the_pages_not_answered(
        h: Harness, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(answer(1), REFUSED)
    h.put("ocrflow-uploads", "doc.pdf", pdf_of(3))
    h.invoke(s3_event("doc.pdf"))
    assert len(replay.received) == 2
    replay.script(answer(2), answer(3))
    report = redrive(h.rt, h.settings.queue_url("failure"), None, credentials_for(h.settings, None),
                     time.monotonic() + 60)
    assert report.outcomes[0].status == "result"
    assert [b["pdf_page_number"] for b in bodies(replay)] == [1, 2, 2, 3]  # page 1 not again
    [msg] = [validate_message(m) for m in h.results()]
    assert [p["result"]["words_block_list"][0]["words"] for p in msg["data"]["pages"]] == \
        ["page 1", "page 2", "page 3"]


def test_a_one_page_upload_keeps_the_single_result_shape(h: Harness, replay: ReplayServer,
                                                         validate_message: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buf, "PDF")
    h.put("ocrflow-uploads", "one.pdf", buf.getvalue())
    h.invoke(s3_event("one.pdf"))
    [msg] = [validate_message(m) for m in h.results()]
    assert "result" in msg["data"] and "pages" not in msg["data"] and "pages_total" not in msg["data"]
    assert "pdf_page_number" not in bodies(replay)[0]


def test_pages_and_records_share_the_invocations_concurrency(tmp_path: Path) -> None:
    server = ReplayServer(hold_s=0.3)  # counts how many calls it held at once
    try:
        h = make_harness(tmp_path, server.url + "/{region}", OCR_MAX_CONCURRENCY="3")
        h.put("ocrflow-uploads", "a.pdf", pdf_of(4))
        h.put("ocrflow-uploads", "b.pdf", pdf_of(4))
        h.put("ocrflow-uploads", "c.png", png_bytes())
        answer = h.invoke(s3_event("a.pdf", "b.pdf", "c.png"))
        h.close()
    finally:
        server.stop()
    assert answer["counts"]["results"] == 3 and len(server.received) == 9
    assert server.most == 3  # pages run side by side, never more than OCR_MAX_CONCURRENCY
