"""``data.text``: recognized lines in reading order, from the shapes the official SDK's
response models define (serialised as the SDK puts them on the wire)."""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkocr.v1 import model as sdk

from ocrflow.emulator.models import text_result
from ocrflow.provider.catalogue import load
from ocrflow.provider.text import TEXT_APIS, document_text, text_of

BOX = [[10, 10], [90, 10], [90, 30], [10, 30]]


def wire(obj: Any) -> Any:
    return sanitize_for_serialization(obj)


@pytest.mark.parametrize("api, result_type, block_type", [
    ("general-text", sdk.GeneralTextResult, sdk.GeneralTextWordsBlockList),
    ("handwriting", sdk.HandwritingResult, sdk.HandwritingWordsBlockList),
    ("web-image", sdk.WebImageResult, sdk.WebImageWordsBlockList),
])
def test_words_block_list_lines_in_the_providers_order(api: str, result_type: Any, block_type: Any) -> None:
    lines = ["Invoice 2026-11", "Total: 42.00 CNY", "谢谢惠顾"]
    result = wire(result_type(words_block_count=3, words_block_list=[
        block_type(words=w, confidence=0.98, location=BOX) for w in lines]))
    assert text_of(api, result) == "Invoice 2026-11\nTotal: 42.00 CNY\n谢谢惠顾"


def test_general_table_text_regions_and_table_rows() -> None:
    cell = sdk.GeneralTableWordsBlockList
    result = wire(sdk.GeneralTableResult(words_region_count=2, words_region_list=[
        sdk.WordsRegionList(type="text", words_block_count=1, words_block_list=[
            cell(words="Quarterly figures", confidence=0.99, location=BOX)]),
        sdk.WordsRegionList(type="table", words_block_count=4, words_block_list=[
            cell(words="Item", rows=[0], columns=[0], location=BOX, confidence=0.9),
            cell(words="Amount", rows=[0], columns=[1], location=BOX, confidence=0.9),
            cell(words="Paper", rows=[1], columns=[0], location=BOX, confidence=0.9),
            cell(words="12", rows=[1], columns=[1], location=BOX, confidence=0.9)]),
    ]))
    assert text_of("general-table", result) == "Quarterly figures\nItem\tAmount\nPaper\t12"


def test_financial_statement_has_the_table_shape() -> None:
    block = sdk.FinancialStatementWordsBlockList
    result = wire(sdk.FinancialStatementResult(words_region_count=1, words_region_list=[
        sdk.FinancialStatementWordsRegionList(type="table", words_block_count=2, words_block_list=[
            block(words="Assets", rows=[0], columns=[0]), block(words="100", rows=[0], columns=[1])])]))
    assert text_of("financial-statement", result) == "Assets\t100"


def test_smart_document_recognizer_answers_a_list_of_pages_each_with_its_ocr_result() -> None:
    def page(*lines: str) -> Any:
        return sdk.SmartDocumentRecognizerResult(ocr_result=sdk.SmartDocumentRecognizerOcrResult(
            direction=0.0, words_block_count=len(lines), words_block_list=[
                sdk.SmartDocumentRecognizerWordsBlockList(words=w, location=BOX) for w in lines]))

    response = sdk.RecognizeSmartDocumentRecognizerResponse(result=[page("Title", "Body line"),
                                                                    page("Second page")])
    result = wire(response)["result"]
    assert isinstance(result, list)
    assert text_of("smart-document-recognizer", result) == "Title\nBody line\nSecond page"
    assert text_of("smart-document-recognizer", result[0]) == "Title\nBody line"


def test_seal_text_one_stamp_after_the_other() -> None:
    result = wire(sdk.SealResult(seal_list=[
        sdk.SealList(type="circle", words_block_list=[sdk.SealWordsBlockList(words="某某有限公司")]),
        sdk.SealList(type="rectangle", words_block_list=[sdk.SealWordsBlockList(words="财务专用章")])]))
    assert text_of("seal", result) == "某某有限公司\n财务专用章"


def test_empty_recognition_is_empty_text_and_field_apis_have_none() -> None:
    assert text_of("general-text", wire(sdk.GeneralTextResult(direction=-1.0, words_block_count=0,
                                                                words_block_list=[]))) == ""
    assert text_of("id-card", {"name": "x", "number": "y"}) is None
    assert text_of("general-text", None) is None


def test_the_emulators_answers_have_the_shape_text_of_reads() -> None:
    blocks = [{"words": "first", "confidence": 0.9, "location": BOX},
              {"words": "second", "confidence": 0.9, "location": BOX}]
    for api in ("general-text", "handwriting", "web-image", "general-table"):
        assert text_of(api, text_result(api, blocks)) == "first\nsecond"


def test_every_text_api_is_in_the_catalogue() -> None:
    assert TEXT_APIS <= set(load().apis)


def test_a_documents_text_per_page_and_whole() -> None:
    pages = [text_result("general-text", [{"words": w, "location": BOX} for w in words])
             for words in (["page one", "line two"], [], ["page three"])]
    assert document_text("general-text", pages) == (
        ["page one\nline two", "", "page three"], "page one\nline two\npage three")
    assert document_text("id-card", [{"name": "x"}]) == ([None], None)


def test_the_emulators_recorded_answers() -> None:
    """Recorded from the SDK's response models: text APIs give text, field APIs none."""
    import json
    from pathlib import Path

    import ocrflow.emulator.server as server

    recorded = Path(server.__file__).parent / "recorded"
    seen = set()
    for path in sorted(recorded.glob("*.json")):
        api = path.stem
        got = text_of(api, json.loads(path.read_text("utf-8"))["result"])
        if api in TEXT_APIS:
            seen.add(api)
            assert isinstance(got, str) and got, api
        else:
            assert got is None, api
    assert seen == {"financial-statement", "seal", "smart-document-recognizer"}
