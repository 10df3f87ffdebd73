"""The catalogue against the official client (``huaweicloudsdkocr``, pinned): a path, field
or limit renamed upstream fails here, not in users' hands. The emulator shares the
catalogue, so agreeing with it proves nothing; these tests compare with the provider's own
code."""

from __future__ import annotations

import re

import pytest

from ocrflow.provider import catalogue, invoices
from tests.contract.official import PINNED, official_apis, version

CAT = catalogue.load()
OFFICIAL = official_apis()
FORMAT_TOKEN = re.compile(
    r"(?<![A-Za-z])(JPEG|JPG|PNG|BMP|GIF|TIFF|TIF|WEBP|PCX|ICO|PSD|PDF|OFD)(?![A-Za-z])")
FORMAT_NAME = {"JPEG": "jpg", "JPG": "jpg", "TIF": "tiff"}
FILE_APIS = sorted(a for a, lim in CAT.apis.items() if lim.takes_file)


def test_the_sdk_is_the_pinned_version() -> None:
    assert version() == PINNED
    assert len(OFFICIAL) == 52


def test_every_catalogue_path_is_one_the_official_client_calls() -> None:
    assert set(CAT.apis) - set(OFFICIAL) == set()


def test_every_official_path_is_in_the_catalogue_or_deliberately_unsupported() -> None:
    assert set(OFFICIAL) - set(CAT.apis) == set(CAT.unsupported)
    assert not set(CAT.unsupported) & set(CAT.apis)
    for api, why in CAT.unsupported.items():
        assert len(why) > 20, api
        assert not any(api in apis for apis in CAT.regions.values())


@pytest.mark.parametrize("api", sorted(CAT.apis))
def test_body_field_and_options_are_fields_of_the_official_request_body(api: str) -> None:
    limits, official = CAT.apis[api], OFFICIAL[api]
    if limits.takes_file:
        assert {limits.body_field, "url"} <= official.fields
    else:  # invoice-verification: fields, no file
        assert official.fields >= {"code", "number", "issue_date", "check_code", "subtotal_amount"}
    # a route may set exactly the body's other fields
    assert limits.options == official.fields - {"image", "data", "url"}
    if limits.page_field:
        assert limits.page_field in official.fields


def test_invoice_verification_sends_only_official_fields() -> None:
    body = invoices.encode({"code": "011001900211", "number": "12345678", "issue_date": "2024-01-02",
                            "check_code": "123456"})
    import json

    assert set(json.loads(body)) <= OFFICIAL["invoice-verification"].fields


def test_the_pdf_page_field_is_where_the_sdk_has_it() -> None:
    takes = {a for a, o in OFFICIAL.items() if "pdf_page_number" in o.fields and a in CAT.apis}
    assert takes == {a for a, lim in CAT.apis.items() if lim.takes_pdf_page_number}
    assert {"general-text", "smart-document-recognizer"} <= takes


def documented(api: str) -> tuple[set[str], int, int, int | None]:
    """Formats, minimum side, maximum side and pixel cap from the ``:param image:`` (or
    ``data``) docstring of the official request body."""
    text = OFFICIAL[api].docstring(CAT.apis[api].body_field)
    formats = {FORMAT_NAME.get(t, t.lower()) for t in FORMAT_TOKEN.findall(text)}
    min_side = int(re.search(r"(?:最小边|最短边|尺寸)不小于(\d+)", text).group(1))  # type: ignore[union-attr]
    max_side = int(re.search(r"最长边不超过(\d+)", text).group(1))  # type: ignore[union-attr]
    pixels = 160_000_000 if "1.6亿" in text else None
    return formats, min_side, max_side, pixels


@pytest.mark.parametrize("api", FILE_APIS)
def test_formats_and_limits_are_the_official_ones(api: str) -> None:
    limits = CAT.apis[api]
    formats, min_side, max_side, pixels = documented(api)
    assert formats, api
    if "+" in limits.source:
        # a second official source documents more formats: both are accepted
        assert limits.formats >= formats
        assert all(s in CAT.sources for s in limits.source.split("+"))
    else:
        assert limits.formats == formats
    assert (limits.min_side, limits.max_side, limits.max_pixels) == (min_side, max_side, pixels)


def test_limits_the_product_relies_on() -> None:
    # the corrections that made local checks agree with the API (too loose or too tight)
    assert {a for a in FILE_APIS if CAT.apis[a].min_side == 100 and not CAT.apis[a].withdrawn} == {
        "vat-invoice", "mvs-invoice", "driver-license", "vehicle-license"}
    for api in ("license-plate", "vin", "taxi-invoice", "toll-invoice", "quota-invoice",
                "transportation-license"):
        assert CAT.apis[api].max_side == 4096
    assert CAT.apis["web-image"].max_side == 30000
    assert CAT.apis["business-license"].takes_pdf and CAT.apis["seal"].takes_pdf
    assert {a for a in FILE_APIS if CAT.apis[a].takes_ofd} == {"vat-invoice", "train-ticket",
                                                               "auto-classification"}


def test_every_region_list_and_limit_names_its_source_and_date() -> None:
    for source in CAT.sources.values():
        assert source.url.startswith("https://") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", source.read)
    for region, tables in CAT.region_sources.items():
        assert region in catalogue.KNOWN_REGIONS
        assert set(tables) <= set(CAT.sources), region
    for api, limits in CAT.apis.items():
        assert all(s in CAT.sources for s in limits.source.split("+")), api
        if limits.withdrawn:
            assert limits.withdrawn.source in CAT.sources
        if limits.first_page_only:
            assert limits.first_page_only in CAT.sources
    for code, known in CAT.provider_codes.items():
        assert all(s in CAT.sources for s in known.source.split("+")), code


def test_where_the_api_pages_say_more_than_the_sdk() -> None:
    """The catalogue is the SDK's except where a provider page says more; each of these
    differences names its page, and no other exists unnoticed."""
    # auto-classification: the SDK's body has pdf_page_number, its constraints say a PDF is
    # classified by its first page (so pages are sent alone)
    ac = CAT.apis["auto-classification"]
    assert "pdf_page_number" in OFFICIAL["auto-classification"].fields
    assert ac.page_field == "pdf_page_number" and ac.first_page_only == "auto-classification-constraints"
    assert {a for a, lim in CAT.apis.items() if lim.first_page_only} == {"auto-classification"}
    # auto-id-doc-classification: in the SDK, in no endpoint table, in ap-southeast-2 per the
    # API overview (a partial source: it lists only that)
    tables = {"cn-site", "intl-site", "cn-site-search"}
    assert not any("auto-id-doc-classification" in apis for r in CAT.region_sources.values()
                   for s, apis in r.items() if s in tables)
    overview = {(r, a) for r, t in CAT.region_sources.items() for a in t.get("api-overview", ())}
    assert overview == {("ap-southeast-2", "auto-id-doc-classification")}
    assert CAT.sources["api-overview"].partial and "ocr_03_0047" in CAT.sources["api-overview"].url
    # id-document: withdrawn on the date its own page gives
    assert CAT.apis["id-document"].withdrawn.date == "2025-11-04"  # type: ignore[union-attr]
    # error codes: the SDK carries no error table; what the provider's tables say of these
    assert set(CAT.provider_codes) == {"APIG.0201", "AIS.0118"}
    assert set(CAT.provider_codes["APIG.0201"].statuses) == {400, 413, 414, 494, 502, 504}
    assert CAT.provider_codes["AIS.0118"].retry_after_s == 2 * 3600


def test_regions_are_the_sdks() -> None:
    from huaweicloudsdkocr.v1.region.ocr_region import OcrRegion

    assert set(CAT.regions) == set(OcrRegion.static_fields)


def test_the_endpoint_tables_as_read() -> None:
    # China site and international site, read 2026-11-25; where they differ both count
    assert CAT.regions["cn-south-1"] == {"web-image", "real-estate-certificate", "acceptance-bill"}
    assert len(CAT.region_sources["cn-north-4"]["cn-site"]) == 31
    assert {"household-register", "bank-receipt", "vehicle-certificate"} <= CAT.regions["cn-north-4"]
    assert {"financial-statement", "insurance-policy", "transportation-license",
            "invoice-verification", "transportation-qualification-certificate"} <= CAT.regions["cn-east-3"]
    assert CAT.regions["la-south-2"] == {"chile-id-card", "peru-id-card", "colombia-id-card"}
    assert CAT.regions["la-north-2"] == {"colombia-id-card"}
    assert ("la-south-2", "colombia-id-card", ["cn-site"], ["intl-site"]) in CAT.disagreements()
    assert not CAT.offers("la-south-2", "general-text")
    for withdrawn in ("custom-template", "hk-id-card", "exit-entry-permit", "waybill-electronic"):
        assert CAT.apis[withdrawn].withdrawn is not None
        assert not any(withdrawn in apis for apis in CAT.regions.values())


def test_recorded_answers_have_the_shape_of_the_official_result_models() -> None:
    import json

    from ocrflow.emulator.models import RECORDED, TEXT_APIS
    from tests.contract.official import result_skeleton

    emulated = {a for apis in CAT.regions.values() for a in apis} - TEXT_APIS
    for api in sorted(emulated):
        path = RECORDED / f"{api}.json"
        assert path.exists(), f"{api}: run scripts/record_answers.py"
        doc = json.loads(path.read_text("utf-8"))
        if doc["source"].startswith(f"shape of {OFFICIAL[api].response.__name__}"):
            assert doc["result"] == result_skeleton(api), api
