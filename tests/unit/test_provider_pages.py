"""Where the provider's API pages say more than its SDK, the product follows the pages; each
fact is in the catalogue with its source page (the contract tests hold the rest of the
catalogue to the SDK and name these differences):

* ``APIG.0201`` is a 504 "backend timeout" but also a 400 "API request error" and a 413
  "request entity too large" (API Gateway error codes): retried by status, not by code;
* auto-classification classifies a PDF by its first page (its constraints), though the SDK
  has ``pdf_page_number``: each page goes alone, as a one-page PDF;
* ``AIS.0118`` (the tax authority's interface timed out) is to be retried after 2 hours (OCR
  error codes): a retryable failure that says when, not an immediate retry;
* auto-id-doc-classification is deployed in ap-southeast-2 (API overview ``ocr_03_0047``);
* id-document was removed on 2025-11-04 (its own page).
"""

from __future__ import annotations

import base64
import io
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from ocrflow import consumer
from ocrflow.config.settings import load_settings
from ocrflow.core.signer import Credentials
from ocrflow.flow import redrive
from ocrflow.handler import redrive_handle
from ocrflow.provider import catalogue
from ocrflow.provider.client import OcrClient, is_retryable
from tests.support.harness import make_harness
from tests.support.replay_server import OK_RESULT, Answer, ReplayServer
from tests.unit.test_documents import colour_of, pdf_of
from tests.unit.test_guards import VERIFY_ROUTE, beijing_today, invoice
from tests.unit.test_pipeline import png_bytes, s3_event

CAT = catalogue.load()
CREDS = Credentials("TESTAK", "TESTSK")


def err(code: str, status: int) -> Answer:
    return Answer(status, {"error_code": code, "error_msg": f"message for {code}"})


def client_for(server: ReplayServer) -> OcrClient:
    settings = load_settings({"OCR_ENDPOINT": server.url + "/{region}", "OCR_PROJECT_ID": "proj",
                              "OCR_MAX_ATTEMPTS": "3", "OCR_READ_TIMEOUT_S": "2"})
    return OcrClient(settings, None, sleep=lambda s: None)


def call(client: OcrClient, api: str = "general-text") -> Any:
    return client.call(api, "cn-north-4", b'{"image":"AAAA"}', time.monotonic() + 30, CREDS)


# --- APIG.0201 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [400, 413, 414, 494])
def test_apig_0201_of_the_request_itself_is_sent_once_and_not_retryable(
        replay: ReplayServer, status: int) -> None:
    replay.default = err("APIG.0201", status)
    out = call(client_for(replay))
    assert out.failure is not None
    assert (out.failure.code, out.failure.http_status, out.failure.retryable) == ("APIG.0201", status, False)
    assert out.attempts == 1 and len(replay.received) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_apig_0201_of_the_backend_is_retried(replay: ReplayServer, status: int) -> None:
    replay.default = err("APIG.0201", status)
    out = call(client_for(replay))
    assert out.failure is not None and out.failure.retryable
    assert out.attempts == 3 == len(replay.received)


def test_the_retry_decision_follows_the_meaning_the_gateway_gives_each_status() -> None:
    statuses = CAT.provider_codes["APIG.0201"].statuses
    assert statuses[413].startswith("Request entity too large") and statuses[504] == "Backend timeout"
    for status in statuses:
        assert is_retryable(status, "APIG.0201") == (status >= 500), status


def test_a_413_is_published_as_not_retryable_after_one_call(tmp_path: Path, replay: ReplayServer,
                                                            validate_message: Any) -> None:
    replay.default = err("APIG.0201", 413)
    h = make_harness(tmp_path, replay.url + "/{region}")
    h.put("ocrflow-uploads", "big.png", png_bytes())
    h.invoke(s3_event("big.png"))
    [failure] = [validate_message(m) for m in h.failures()]
    assert failure["data"]["error"]["retryable"] is False
    assert failure["data"]["attempts"] == 1 and len(replay.received) == 1
    h.close()


# --- AIS.0118 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [400, 500])
def test_ais_0118_is_not_retried_now_but_says_retry_after_two_hours(replay: ReplayServer,
                                                                     status: int) -> None:
    replay.default = err("AIS.0118", status)
    before = datetime.now(timezone.utc)
    out = call(client_for(replay), "invoice-verification")
    assert out.attempts == 1 and len(replay.received) == 1
    assert out.failure is not None and out.failure.retryable is True
    assert out.failure.retry_after is not None
    when = datetime.fromisoformat(out.failure.retry_after.replace("Z", "+00:00"))
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= when
    assert when <= datetime.now(timezone.utc) + timedelta(hours=2)


def test_the_failure_message_carries_retry_after_in_the_published_schema(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    replay.default = err("AIS.0118", 400)
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_ROUTES=VERIFY_ROUTE)
    h.put("ocrflow-uploads", "verify/a.json", invoice(beijing_today() - timedelta(days=10)))
    h.invoke(s3_event("verify/a.json"))
    [failure] = [validate_message(m) for m in h.failures()]
    error = failure["data"]["error"]
    assert (error["code"], error["retryable"]) == ("AIS.0118", True)
    parsed = consumer.parse(failure)
    assert parsed.data.error is not None and parsed.data.error.retry_after == error["retry_after"]
    assert len(replay.received) == 1
    h.close()


def test_a_redrive_leaves_the_failure_until_its_retry_after(tmp_path: Path,
                                                           replay: ReplayServer) -> None:
    replay.default = err("AIS.0118", 400)
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_ROUTES=VERIFY_ROUTE)
    h.put("ocrflow-uploads", "verify/a.json", invoice(beijing_today() - timedelta(days=10)))
    h.invoke(s3_event("verify/a.json"))
    report = redrive_handle({"codes": ["AIS.0118"]}, rt=h.rt)
    assert (report["selected"], report["waiting"]) == (0, 1)
    assert len(replay.received) == 1  # not called again before the two hours
    failures = h.failures()
    later = datetime.now(timezone.utc) + timedelta(hours=2, seconds=1)
    assert redrive.select(failures, {"AIS.0118"}, now=later) == (failures, 0)
    h.close()


def test_other_failures_keep_their_shape_without_retry_after(replay: ReplayServer) -> None:
    replay.default = err("AIS.0104", 400)
    out = call(client_for(replay))
    assert out.failure is not None and "retry_after" not in out.failure.as_dict()


# --- auto-classification reads a PDF's first page only -----------------------------------------
def test_each_page_goes_to_auto_classification_as_a_one_page_pdf(tmp_path: Path,
                                                                 replay: ReplayServer) -> None:
    replay.default = Answer(200, {"result": [{"type": "vat_invoice", "status": "success",
                                              "content": {}, "location": [[0, 0]]}]})
    h = make_harness(tmp_path, replay.url + "/{region}",
                     OCR_ROUTES='[{"api": "auto-classification"}]')
    data = pdf_of(3)
    h.put("ocrflow-uploads", "mixed.pdf", data)
    h.invoke(s3_event("mixed.pdf"))
    assert len(replay.received) == 3
    colours = []
    for got in replay.received:
        body = json.loads(got.body)
        assert "pdf_page_number" not in body
        sent = base64.b64decode(body["image"])
        assert len(PdfReader(io.BytesIO(sent)).pages) == 1
        colours.append(colour_of(sent))
    assert sorted(colours) == sorted(colour_of(data, n) for n in (1, 2, 3))
    [message] = h.results()
    assert [p["page"] for p in message["data"]["pages"]] == [1, 2, 3]
    assert message["data"]["pages"][0]["input"]["format"] == "pdf"
    h.close()


def test_apis_that_read_the_page_they_are_told_still_get_page_numbers(tmp_path: Path,
                                                                      replay: ReplayServer) -> None:
    replay.default = Answer(200, OK_RESULT)
    h = make_harness(tmp_path, replay.url + "/{region}")
    data = pdf_of(2)
    h.put("ocrflow-uploads", "two.pdf", data)
    h.invoke(s3_event("two.pdf"))
    bodies = [json.loads(got.body) for got in replay.received]
    assert sorted(b["pdf_page_number"] for b in bodies) == [1, 2]
    assert all(base64.b64decode(b["image"]) == data for b in bodies)
    h.close()


# --- regions and withdrawals ---------------------------------------------------------------------
def test_auto_id_doc_classification_starts_in_ap_southeast_2_under_the_strict_check() -> None:
    settings = load_settings({"OCR_ROUTES": '[{"api": "auto-id-doc-classification"}]',
                              "OCR_API_REGIONS": '{"auto-id-doc-classification": "ap-southeast-2"}'})
    assert settings.region_for("auto-id-doc-classification") == "ap-southeast-2"
    [source] = CAT.listed_by("ap-southeast-2", "auto-id-doc-classification")
    assert source.id == "api-overview" and "ocr_03_0047" in source.url
    assert CAT.regions_offering("auto-id-doc-classification") == ["ap-southeast-2"]


def test_auto_id_doc_classification_is_called_there(tmp_path: Path, replay: ReplayServer) -> None:
    replay.default = Answer(200, {"result": {"classification": "passport"}})
    h = make_harness(tmp_path, replay.url + "/{region}",
                     OCR_ROUTES='[{"api": "auto-id-doc-classification"}]',
                     OCR_API_REGIONS='{"auto-id-doc-classification": "ap-southeast-2"}')
    h.put("ocrflow-uploads", "card.png", png_bytes())
    h.invoke(s3_event("card.png"))
    [got] = replay.received
    assert got.path.startswith("/ap-southeast-2/") and got.path.endswith("/ocr/auto-id-doc-classification")
    assert len(h.results()) == 1
    h.close()


def test_id_document_was_removed_on_2025_11_04() -> None:
    withdrawn = CAT.apis["id-document"].withdrawn
    assert withdrawn is not None and withdrawn.date == "2025-11-04"
    assert "ocr_03_0145" in CAT.sources[withdrawn.source].url
    code, message = CAT.refusal_code("id-document", "ap-southeast-1", "warn")  # type: ignore[misc]
    assert code == "OCRFLOW.API_WITHDRAWN" and "2025-11-04" in message
