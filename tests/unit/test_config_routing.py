"""Configuration is validated once, with errors naming the variable; routing and regions."""

from __future__ import annotations

import pytest

from ocrflow.config.settings import load_settings
from ocrflow.core.errors import ConfigError
from ocrflow.provider import catalogue
from ocrflow.provider.routing import DEFAULT_API


def test_defaults() -> None:
    s = load_settings({})
    assert s.region == "cn-north-4"
    assert s.endpoint_for("cn-east-3") == "https://ocr.cn-east-3.myhuaweicloud.com"
    assert s.max_concurrency == 8 and s.max_calls_per_day is None
    assert s.queue_url("result").startswith("sqlite:///") and s.queue_url("result").endswith("?queue=results")
    assert s.queue_url("failure").endswith("?queue=failures")
    assert s.routing.choose("anything.png").api == DEFAULT_API == "general-text"


def test_project_id_falls_back_to_the_sdk_variable() -> None:
    assert load_settings({"HUAWEICLOUD_SDK_PROJECT_ID": "p9"}).project_id == "p9"
    assert load_settings({"HUAWEICLOUD_SDK_PROJECT_ID": "p9", "OCR_PROJECT_ID": "p1"}).project_id == "p1"


def test_region_of_each_api_comes_from_its_package_region_else_the_default() -> None:
    regions = '{"passport": "ap-southeast-1", "auto-classification": "cn-north-4"}'
    s = load_settings({"OCR_REGION": "cn-east-3", "OCR_API_REGIONS": regions})
    assert s.region_for("passport") == "ap-southeast-1"
    assert s.region_for("auto-classification") == "cn-north-4"
    assert s.region_for("general-text") == "cn-east-3"


@pytest.mark.parametrize("env, variable, words", [
    ({"OCR_API_REGIONS": "{bad"}, "OCR_API_REGIONS", "not valid JSON"),
    ({"OCR_API_REGIONS": '{"general-text": "mars-1"}'}, "OCR_API_REGIONS", "unknown region"),
    ({"OCR_API_REGIONS": '{"no-such-api": "cn-north-4"}'}, "OCR_API_REGIONS", "unknown API"),
    ({"OCR_REGION": "eu-west-0"}, "OCR_REGION", "unknown region"),
    ({"OCR_MAX_CONCURRENCY": "0"}, "OCR_MAX_CONCURRENCY", "greater than or equal to 1"),
    ({"OCR_MAX_CONCURRENCY": "many"}, "OCR_MAX_CONCURRENCY", "valid integer"),
    ({"OCR_MAX_CALLS_PER_DAY": "-1"}, "OCR_MAX_CALLS_PER_DAY", "greater than or equal to 0"),
    ({"OCR_ENDPOINT": "ftp://x"}, "OCR_ENDPOINT", "http(s) URL"),
    ({"OCR_ROUTES": '[{"prefix": "a/"}]'}, "OCR_ROUTES", "api"),
    ({"OCR_ROUTES": '[{"api": "general-text", "options": {"image": "x"}}]'}, "OCR_ROUTES", "options"),
    ({"POWERTOOLS_LOG_LEVEL": "LOUD"}, "POWERTOOLS_LOG_LEVEL", "DEBUG"),
    ({"HUAWEICLOUD_SDK_AK": "ak-only"}, "HUAWEICLOUD_SDK_SK", "together"),
])
def test_bad_values_stop_with_one_message_naming_the_variable(env: dict[str, str], variable: str,
                                                               words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert str(err.value).startswith(variable + ":")
    assert words in str(err.value)


def test_secrets_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"HUAWEICLOUD_SDK_SK": "super-secret-value"})
    assert "super-secret-value" not in str(err.value)


def test_routes_by_prefix_suffix_and_metadata_first_match_wins() -> None:
    s = load_settings({"OCR_ROUTES": """[
        {"prefix": "invoices/", "suffix": [".pdf", ".JPG"], "api": "vat-invoice"},
        {"metadata": {"Doc-Type": "mixed"}, "api": "auto-classification"},
        {"prefix": "forms/", "api": "id-card", "options": {"side": "front"}},
        {"suffix": ".png", "api": "general-text", "options": {"detect_direction": true}}
    ]"""})
    r = s.routing
    assert r.needs_metadata
    assert r.choose("invoices/a.jpg").api == "vat-invoice"
    assert r.choose("invoices/a.png").api == "general-text"  # suffix not listed → next rules
    assert r.choose("x.tiff", {"doc-type": "mixed"}).api == "auto-classification"
    assert r.choose("x.tiff", {"doc-type": "single"}).api == "general-text"  # default
    forms = r.choose("forms/f.tiff")
    assert (forms.api, forms.options) == ("id-card", {"side": "front"})
    assert r.choose("p.png").options == {"detect_direction": True}


def test_catalogue_is_data_with_the_documented_gaps() -> None:
    cat = catalogue.load()
    assert set(cat.regions) == set(catalogue.KNOWN_REGIONS)
    assert len(cat.regions["cn-north-4"]) >= 30
    for missing in ("passport", "seal", "auto-classification"):
        assert not cat.offers("cn-east-3", missing)
    # the China site's table deploys only these three in cn-south-1
    assert cat.regions["cn-south-1"] == {"web-image", "real-estate-certificate", "acceptance-bill"}
    assert cat.apis["seal"].body_field == "data"
    assert "pdf" in cat.apis["mvs-invoice"].formats
    assert cat.max_file_bytes == 7_864_320
