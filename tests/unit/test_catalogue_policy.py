"""The region policy: mistakes caught at start with one message, an override for tables
that are behind, and provider answers for a wrong place that say where the API is."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ocrflow import runtime
from ocrflow.config.settings import catalogue_warnings, load_settings
from ocrflow.core.errors import ConfigError
from ocrflow.observability import log
from ocrflow.observability.metrics import Metrics
from ocrflow.provider import catalogue
from ocrflow.provider.usage import billed_units

CAT = catalogue.load()


def test_the_default_route_is_checked_too() -> None:
    # no rule at all: everything goes to general-text, which cn-south-1 does not deploy
    with pytest.raises(ConfigError) as err:
        load_settings({"OCR_REGION": "cn-south-1"})
    assert err.value.variable == "OCR_API_REGIONS"
    assert "general-text is not listed for cn-south-1" in err.value.problem
    assert "offered in cn-north-4, cn-east-3, ap-southeast-1" in err.value.problem
    # a catch-all rule replaces the default
    load_settings({"OCR_REGION": "cn-south-1", "OCR_ROUTES": '[{"api": "web-image"}]'})


@pytest.mark.parametrize("region, api", [("la-north-2", "colombia-id-card"),
                                         ("la-south-2", "chile-id-card"),
                                         ("la-south-2", "colombia-id-card"),  # China site only
                                         ("cn-north-4", "household-register"),
                                         ("cn-east-3", "financial-statement"),
                                         ("ap-southeast-2", "myanmar-id-card")])  # international only
def test_pairs_either_table_lists_start(region: str, api: str) -> None:
    s = load_settings({"OCR_REGION": region, "OCR_ROUTES": json.dumps([{"api": api}])})
    assert s.region_for(api) == region


def test_warn_starts_and_says_what_strict_would_have_stopped() -> None:
    env = {"OCR_REGION": "af-south-1", "OCR_CATALOGUE_CHECK": "WARN"}
    settings = load_settings(env)
    assert settings.catalogue_check == "warn"
    [warning] = catalogue_warnings(settings)
    assert "general-text is not listed for af-south-1" in warning and "OCR_API_REGIONS" in warning
    assert catalogue_warnings(load_settings({})) == []


def test_warn_is_logged_once_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(runtime, "configure", lambda service, level: log.configure(service, level, stream))
    log._configured = None
    runtime.reset_runtime()
    try:
        runtime.runtime(load_settings({"OCR_REGION": "af-south-1", "OCR_CATALOGUE_CHECK": "warn",
                                       "OCRFLOW_STATE_DIR": str(tmp_path)}))
    finally:
        runtime.reset_runtime()
        log._configured = None
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [x for x in lines if x.get("level") == "WARNING"]
    assert "general-text is not listed for af-south-1" in line["detail"]
    assert "CATALOGUE_CHECK" not in line["detail"]  # already set


def test_a_bad_check_mode_names_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"OCR_CATALOGUE_CHECK": "loose"})
    assert err.value.variable == "OCR_CATALOGUE_CHECK"


def test_route_options_must_be_fields_of_the_official_request_body() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"OCR_ROUTES": '[{"api": "id-card", "options": {"sid": "front"}}]'})
    assert err.value.variable == "OCR_ROUTES" and "sid" in err.value.problem
    assert "side" in err.value.problem  # what it does take
    load_settings({"OCR_ROUTES": '[{"api": "general-text", "options": {"pdf_page_number": 2}}]'})
    s = load_settings({"OCR_ROUTES": '[{"api": "id-card", "options": {"sid": "front"}}]',
                       "OCR_CATALOGUE_CHECK": "warn"})
    assert any("sid" in w for w in catalogue_warnings(s))


def test_unsupported_official_apis_say_why() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"OCR_ROUTES": '[{"api": "health-code"}]'})
    assert "not supported" in err.value.problem and "endpoint table" in err.value.problem


@pytest.mark.parametrize("code, says", [
    ("ModelArts.4204", "not enabled for this account in cn-east-3"),
    ("APIG.0307", "refused by cn-east-3"),
    ("APIG.0101", "the cn-east-3 gateway does not know passport"),
])
def test_wrong_place_answers_say_which_region_was_called_and_where_the_api_is(code: str, says: str) -> None:
    text = CAT.explain_provider_refusal(code, "passport", "cn-east-3")
    assert text is not None and says in text
    assert "passport is offered in cn-north-4, ap-southeast-1, ap-southeast-2" in text
    assert CAT.explain_provider_refusal("AIS.0103", "passport", "cn-east-3") is None


def test_auto_classification_bills_each_recognized_document() -> None:
    page = [{"status": {"error_code": "AIS.0000"}, "type": "id_card", "content": {"name": "x"}},
            {"status": {"error_code": "AIS.0104"}, "type": "unknown", "content": {}},
            {"type": "bankcard", "content": {"number": "x"}}]
    assert billed_units("auto-classification", page) == 2
    assert billed_units("general-text", {"words_block_list": []}) == 1
    m = Metrics("ns", "svc")
    m.record_call("auto-classification", "cn-north-4", True, 10.0)
    m.record_billed("auto-classification", "cn-north-4", billed_units("auto-classification", page))
    [doc] = m.documents()
    assert (doc["OcrCallsSuccess"], doc["OcrBilledUnits"]) == (1, 2)


def test_limits_are_a_clean_api_for_fitting_images() -> None:
    vat = CAT.limits("vat-invoice")
    assert (vat.min_side, vat.max_side, vat.max_pixels) == (100, 8192, None)
    assert vat.takes_pdf and vat.takes_ofd and vat.page_field == "page_num"
    assert not vat.takes_pdf_page_number and CAT.limits("general-text").takes_pdf_page_number
    assert CAT.limits("general-text").fits(30000, 5000) and not CAT.limits("general-text").fits(30000, 6000)
    assert CAT.limits("seal").body_field == "data"
