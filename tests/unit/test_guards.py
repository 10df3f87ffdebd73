"""Cost guards and replays: invoice verification limits, URL mode allow-list, redrive."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core.errors import FailureError
from ocrflow.handler import redrive_handle
from ocrflow.provider import invoices
from ocrflow.provider.urlmode import build_url
from tests.support.harness import make_harness
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes, s3_event

VERIFY_ROUTE = '[{"prefix": "verify/", "api": "invoice-verification"}]'


def invoice(issued: date, number: str = "12345678") -> bytes:
    return json.dumps({"code": "044031900111", "number": number, "issue_date": issued.isoformat(),
                       "check_code": "123456", "extra": "ignored"}).encode()


def beijing_today() -> date:
    return datetime.now(timezone(timedelta(hours=8))).date()


def test_invoice_verification_at_most_five_a_day_without_paying_the_sixth(
        tmp_path: Path, replay: ReplayServer) -> None:
    replay.default.body = {"result": {"result_code": "1000"}}
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_ROUTES=VERIFY_ROUTE)
    issued = beijing_today() - timedelta(days=10)
    for i in range(7):  # seven uploads of the same invoice (distinct objects)
        h.put("ocrflow-uploads", f"verify/{i}.json", invoice(issued))
    h.invoke(s3_event(*[f"verify/{i}.json" for i in range(7)]))
    assert len(replay.received) == 5
    sent = json.loads(replay.received[0].body)
    assert sent == {"code": "044031900111", "number": "12345678",
                    "issue_date": issued.isoformat(), "check_code": "123456"}
    assert [m["data"]["error"]["code"] for m in h.failures()] == ["OCRFLOW.INVOICE_DAILY_LIMIT"] * 2
    h.close()


@pytest.mark.parametrize("days_ago, code", [(0, "OCRFLOW.INVOICE_TOO_RECENT"),
                                            (1, "OCRFLOW.INVOICE_TOO_RECENT"),
                                            (6 * 365, "OCRFLOW.INVOICE_TOO_OLD")])
def test_invoice_dates_checked_before_paying(tmp_path: Path, replay: ReplayServer, days_ago: int,
                                             code: str) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_ROUTES=VERIFY_ROUTE)
    h.put("ocrflow-uploads", "verify/a.json", invoice(beijing_today() - timedelta(days=days_ago)))
    h.invoke(s3_event("verify/a.json"))
    assert [m["data"]["error"]["code"] for m in h.failures()] == [code]
    assert replay.received == []
    h.close()


def test_invoice_ready_two_beijing_days_after_issue() -> None:
    fields = invoices.parse_fields(invoice(date(2026, 11, 20)))
    ready = datetime(2026, 11, 22, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    invoices.check_dates(fields, now=ready)
    with pytest.raises(FailureError):
        invoices.check_dates(fields, now=ready - timedelta(seconds=1))


@pytest.mark.parametrize("doc", [b"not json", b"[1]", b'{"number": "1"}',
                                 b'{"number": "1", "issue_date": "2026-13-01", "check_code": "1"}',
                                 b'{"number": "1", "issue_date": "2026-01-01"}'])
def test_invoice_fields_are_validated(doc: bytes) -> None:
    with pytest.raises(FailureError) as err:
        invoices.parse_fields(doc)
    assert err.value.failure.code == "OCRFLOW.INVOICE_FIELDS"


ALLOWED = ["ocrflow-obs.obs.cn-north-4.myhuaweicloud.com", ".obs.cn-east-3.myhuaweicloud.com"]


@pytest.mark.parametrize("template", [
    "http://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://169.254.169.254/latest/meta-data/{key}",
    "https://metadata.internal/{key}",
    "https://user:pw@{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://evil.example/?{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}",
])
def test_url_mode_refuses_anything_but_allow_listed_https(template: str) -> None:
    with pytest.raises(FailureError) as err:
        build_url(template, "ocrflow-obs", "a b.png", "cn-north-4", ALLOWED)
    assert err.value.failure.code == "OCRFLOW.URL_NOT_ALLOWED"


def test_url_mode_sends_the_url_not_the_bytes(tmp_path: Path, replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_URL_ALLOWED_HOSTS=json.dumps(ALLOWED),
                     OCR_ROUTES='[{"api": "general-text", "input": "url", "url_template": '
                                '"https://{bucket}.obs.{region}.myhuaweicloud.com/{key}"}]')
    h.put("ocrflow-obs", "scans/a b.png", png_bytes())
    h.invoke(s3_event("scans/a b.png", bucket="ocrflow-obs"))
    assert json.loads(replay.received[0].body) == {
        "url": "https://ocrflow-obs.obs.cn-north-4.myhuaweicloud.com/scans/a%20b.png"}
    h.put("other-bucket", "x.png", png_bytes())
    h.invoke(s3_event("x.png", bucket="other-bucket"))
    assert [m["data"]["error"]["code"] for m in h.failures()] == ["OCRFLOW.URL_NOT_ALLOWED"]
    assert len(replay.received) == 1
    h.close()


def test_redrive_replays_fixed_failures_once(tmp_path: Path, replay: ReplayServer,
                                             validate_message: Any) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CALLS_PER_DAY="0")
    for i in range(3):
        h.put("ocrflow-uploads", f"r{i}.png", png_bytes(100 + i, 50))
    h.invoke(s3_event("r0.png", "r1.png", "r2.png"))
    assert len(h.failures()) == 3 and replay.received == []

    # the budget is raised: a new runtime with the new configuration, same stores
    h2 = make_harness(tmp_path, replay.url + "/{region}")
    report = redrive_handle({"codes": ["OCRFLOW.BUDGET_EXCEEDED"]}, rt=h2.rt)
    assert report["selected"] == 3 and report["outcomes"] == {"result": 3}
    assert report["removed"] == 3
    assert len(replay.received) == 3
    assert [validate_message(m)["source"] for m in h2.results()] == ["ocrflow/redrive"] * 3
    assert h2.failures() == []
    again = redrive_handle({}, rt=h2.rt)
    assert again["selected"] == 0 and len(replay.received) == 3
    h.close()
    h2.close()
