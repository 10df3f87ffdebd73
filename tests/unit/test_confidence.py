"""``data.confidence`` from the provider's own numbers, and review routing under
``OCR_REVIEW_BELOW``: one result message, marked with the extension attribute ``ocrreview``
and the same name as a message attribute, for brokers to route on."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrflow import consumer
from ocrflow.contract import messages
from ocrflow.provider import confidence
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_documents import pdf_of
from tests.unit.test_pipeline import png_bytes, s3_event


def words(*confidences: float) -> Answer:
    return Answer(200, {"result": {"words_block_count": len(confidences), "words_block_list": [
        {"words": f"w{i}", "confidence": c, "location": [[0, 0], [9, 0], [9, 9], [0, 9]]}
        for i, c in enumerate(confidences)]}})


@pytest.fixture
def make(tmp_path: Path, replay: ReplayServer) -> Iterator[Any]:
    made: list[Harness] = []

    def build(**env: str) -> Harness:
        h = make_harness(tmp_path / str(len(made)), replay.url + "/{region}",
                         OCR_MAX_CONCURRENCY="1", **env)
        made.append(h)
        return h

    yield build
    for h in made:
        h.close()


def one_result(h: Harness, key: str, data: bytes, validate_message: Any) -> dict[str, Any]:
    h.put("ocrflow-uploads", key, data)
    h.invoke(s3_event(key))
    [msg] = [validate_message(m) for m in h.results()]
    return msg


def test_a_text_result_carries_min_and_mean_of_its_blocks(make: Any, replay: ReplayServer,
                                                          validate_message: Any) -> None:
    replay.script(words(0.9, 0.5, 0.97))
    msg = one_result(make(), "a.png", png_bytes(), validate_message)
    assert msg["data"]["confidence"] == {"min": 0.5, "mean": pytest.approx(0.79), "count": 3}
    assert "ocrreview" not in msg  # no OCR_REVIEW_BELOW, no review
    assert messages.outgoing(msg).attributes.get("ocrreview") is None


def test_below_the_threshold_the_result_is_marked_for_review(make: Any, replay: ReplayServer,
                                                             validate_message: Any) -> None:
    h = make(OCR_REVIEW_BELOW="0.8")
    replay.script(words(0.99, 0.62), words(0.99, 0.8))
    for key in ("unsure.png", "sure.png"):
        h.put("ocrflow-uploads", key, png_bytes())
    h.invoke(s3_event("unsure.png", "sure.png"))
    found = {m["subject"]: validate_message(m) for m in h.results()}
    assert len(found) == 2 and h.failures() == []  # still one result per upload
    unsure, sure = found["unsure.png"], found["sure.png"]
    assert unsure["ocrreview"] is True
    assert messages.outgoing(unsure).attributes["ocrreview"] == "true"
    assert "ocrreview" not in sure and "ocrreview" not in messages.outgoing(sure).attributes
    assert consumer.parse(unsure).needs_review and not consumer.parse(sure).needs_review


def test_a_threshold_per_api_leaves_the_others_alone(make: Any, replay: ReplayServer,
                                                     validate_message: Any) -> None:
    replay.script(words(0.1))
    msg = one_result(make(OCR_REVIEW_BELOW=json.dumps({"vat-invoice": 0.99})), "a.png",
                     png_bytes(), validate_message)
    assert msg["data"]["confidence"]["min"] == 0.1 and "ocrreview" not in msg


def test_an_answer_without_confidences_has_none_and_is_never_reviewed(
        make: Any, replay: ReplayServer, validate_message: Any) -> None:
    h = make(OCR_REVIEW_BELOW="0.99",
             OCR_ROUTES=json.dumps([{"prefix": "cards/", "api": "business-card"}]))
    replay.script(Answer(200, {"result": {"name": ["Li Lei"], "phone": ["123"]}}),
                  Answer(200, {"result": {"words_block_count": 0, "words_block_list": []}}))
    card = one_result(h, "cards/a.png", png_bytes(), validate_message)
    assert "confidence" not in card["data"] and "ocrreview" not in card
    msg = one_result(make(OCR_REVIEW_BELOW="0.99"), "blank.png", png_bytes(), validate_message)
    assert "confidence" not in msg["data"] and "ocrreview" not in msg


def test_a_card_is_rated_by_its_fields(make: Any, replay: ReplayServer, validate_message: Any) -> None:
    h = make(OCR_REVIEW_BELOW="0.9", OCR_ROUTES=json.dumps([{"prefix": "", "api": "passport"}]))
    replay.script(Answer(200, {"result": {
        "passport_type": "P", "surname": "LI", "given_name": "LEI", "passport_number": "",
        "confidence": {"passport_type": 0.99, "surname": 0.95, "given_name": 0.85,
                       "passport_number": 0.0}}}))
    msg = one_result(h, "p.png", png_bytes(), validate_message)
    # passport_number was not found: its 0.0 rates nothing
    assert msg["data"]["confidence"] == {"min": 0.85, "mean": pytest.approx(0.93), "count": 3}
    assert msg["ocrreview"] is True


def test_a_document_is_rated_per_page_and_as_a_whole(make: Any, replay: ReplayServer,
                                                     validate_message: Any) -> None:
    replay.script(words(0.9, 0.8), words(0.99), Answer(200, {"result": {"words_block_list": []}}))
    msg = one_result(make(OCR_REVIEW_BELOW="0.85"), "doc.pdf", pdf_of(3), validate_message)
    pages = msg["data"]["pages"]
    assert pages[0]["confidence"] == {"min": 0.8, "mean": pytest.approx(0.85), "count": 2}
    assert pages[1]["confidence"] == {"min": 0.99, "mean": 0.99, "count": 1}
    assert "confidence" not in pages[2]  # nothing recognized on it
    assert msg["data"]["confidence"] == {"min": 0.8, "mean": pytest.approx(0.8966667), "count": 3}
    assert msg["ocrreview"] is True


def test_messages_of_before_parse_without_the_new_fields(make: Any, replay: ReplayServer,
                                                         validate_message: Any) -> None:
    replay.script(words(0.9))
    msg = one_result(make(), "a.png", png_bytes(), validate_message)
    parsed = consumer.parse(msg)
    assert parsed.data.usage == consumer.Usage(billed_units=1, calls=1)
    assert parsed.data.confidence is not None and parsed.data.confidence.min == 0.9
    older = copy.deepcopy(msg)
    del older["data"]["usage"], older["data"]["confidence"]
    old = consumer.parse(older)
    assert old.data.usage is None and old.data.confidence is None and not old.needs_review


@pytest.mark.parametrize("variable, value, words", [
    ("OCR_REVIEW_BELOW", "1.5", "at most 1"),
    ("OCR_REVIEW_BELOW", "0", "above 0"),
    ("OCR_REVIEW_BELOW", "NaN", "NaN is not a JSON number"),
    ("OCR_REVIEW_BELOW", "true", "a confidence such as 0.8"),
    ("OCR_REVIEW_BELOW", '{"general-text": "high"}', "for 'general-text'"),
    ("OCR_REVIEW_BELOW", '{"no-such-api": 0.5}', "unknown API 'no-such-api'"),
    ("OCR_PRICE_PER_UNIT", "0.0035", "JSON object of prices"),
    ("OCR_PRICE_PER_UNIT", '{"general-text": -1}', "from 0"),
    ("OCR_PRICE_PER_UNIT", '{"general-text": 1e300}', "from 0 to 1,000,000"),
    ("OCR_PRICE_PER_UNIT", '{"vat_invoice": 0.02}', "unknown API 'vat_invoice'"),
    ("RESULT_QUEUE_URL", "arn:aws:sqs:us-east-1:123456789012:q", "SNS topic ARN"),
    ("RESULT_QUEUE_URL", "arn:aws:sns:us-east-1:1234:q", "SNS topic ARN"),
])
def test_a_bad_review_price_or_topic_setting_names_its_variable(variable: str, value: str,
                                                                 words: str) -> None:
    from ocrflow.config.settings import load_settings
    from ocrflow.core.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_settings({variable: value})
    assert info.value.variable == variable and words in str(info.value), str(info.value)


def test_review_and_price_settings_read_as_given() -> None:
    from ocrflow.config.settings import load_settings

    settings = load_settings({"OCR_REVIEW_BELOW": '{"vat-invoice": 0.9}',
                              "OCR_PRICE_PER_UNIT": '{"general-text": 0.0035}'})
    assert settings.review_below == {"vat-invoice": 0.9}
    assert settings.price_per_unit == {"general-text": 0.0035}
    assert load_settings({"OCR_REVIEW_BELOW": "0.8"}).review_below == 0.8


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=3)
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["confidence", "words_confidence", "words_block_list", "words_region_list",
                         "ocr_result", "seal_list", "content", "plate_number", "words", "name"]),
        inner, max_size=5),
    max_leaves=40)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


@settings(max_examples=300, deadline=None)
@given(result=_JSON, api=st.sampled_from(sorted(confidence.EXTRACTORS) + ["id-card", "nope"]))
def test_any_answer_gives_only_numbers_it_holds_never_an_error(result: Any, api: str) -> None:
    got = confidence.values_of(api, result)
    held = _numbers(result)
    assert all(math.isfinite(n) and n in held for n in got)
    summary = confidence.confidence_of(api, result)
    if got:
        assert summary is not None and summary.count == len(got)
        assert summary.min == min(got) and summary.min <= summary.mean <= max(got) + 1e-12
    else:
        assert summary is None


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=1, max_size=30),
       threshold=st.floats(0.01, 1))
def test_review_is_exactly_the_least_confidence_below_the_threshold(scores: list[float],
                                                                   threshold: float) -> None:
    result = {"words_block_list": [{"words": "w", "confidence": s} for s in scores]}
    sure = confidence.confidence_of("general-text", result)
    assert confidence.needs_review(sure, threshold) == (min(scores) < threshold)
    assert confidence.needs_review(sure, confidence.review_threshold({"vat-invoice": threshold},
                                                                     "general-text")) is False
