"""``data.confidence`` held to the official SDK's response models (``huaweicloudsdkocr``,
pinned): for every API, an answer shaped exactly like its model, with a different number in
every numeric field, must give back exactly the numbers that rate a recognized word or field
— the text blocks' ``confidence`` (``words_confidence`` for seals), the per-field
``confidence`` of cards and invoices — and none of the others (characters, a cell's
sub-words, where a seal or a document lies, image quality scores, font scores, the
rotation angle). A field renamed or moved upstream fails here."""

from __future__ import annotations

import itertools
import re
from typing import Any

import huaweicloudsdkocr.v1 as v1
import pytest

from ocrflow.provider import catalogue, confidence
from tests.contract.official import official_apis

CAT = catalogue.load()
OFFICIAL = official_apis()
APIS = sorted(set(CAT.apis) & set(OFFICIAL))
_LIST = re.compile(r"^list\[(.+)\]$")
#: attribute names the models give a recognition confidence
RATING = ("confidence", "words_confidence")


def _doc(model: type, attr: str) -> str:
    found = re.search(rf":param {attr}: (.*?)\n\s*:type {attr}:", model.__init__.__doc__ or "", re.S)
    return " ".join(found.group(1).split()) if found else ""


def _position(model: type, attr: str) -> bool:
    """A confidence in where something lies ("印章位置的置信度", "证件位置的置信度"), not in
    what was read."""
    return "位置" in _doc(model, attr)


def _is_field_map(type_name: str) -> bool:
    return type_name == "object" or type_name.startswith("dict(") or type_name.endswith("Confidence")


class Answer:
    """An answer of the SDK's shape: strings read "xxx", every number different; ``rated``
    collects the numbers that rate a recognized word or field, ``other`` the rest."""

    def __init__(self) -> None:
        self._n = itertools.count(1)
        self.rated: list[float] = []
        self.other: list[float] = []
        self.result: Any = None

    def _number(self, rated: bool, integer: bool = False) -> float:
        n = next(self._n)
        value: float = 10_000 + n if integer else n / 100_000
        (self.rated if rated else self.other).append(value)
        return value

    def value(self, type_name: str, inside_rated: bool) -> Any:
        if type_name == "str":
            return "xxx"
        if type_name == "bool":
            return False
        if type_name in ("int", "float"):
            return self._number(False, integer=type_name == "int")
        listed = _LIST.match(type_name)
        if listed:
            return [self.value(listed.group(1), inside_rated)]
        if type_name == "object" or type_name.startswith("dict("):
            return {}
        return self.model(getattr(v1, type_name), inside_rated)

    def model(self, model: type, inside_rated: bool = False) -> dict[str, Any]:
        fields = [(model.attribute_map[a], a, t) for a, t in model.openapi_types.items()]
        # a block rated as a whole: what lies inside it (characters, sub-words) is part of it
        rated_here = any(name in RATING and t == "float" and not _position(model, a)
                         for name, a, t in fields)
        out: dict[str, Any] = {}
        for name, attr, type_name in fields:
            if name == "confidence" and _is_field_map(type_name):
                continue  # below, once the fields it rates are known
            if type_name == "float":
                rated = name in RATING and not inside_rated and not _position(model, attr)
                out[name] = self._number(rated)
            else:
                out[name] = self.value(type_name, inside_rated or rated_here)
        for name, _attr, type_name in fields:
            if name == "confidence" and _is_field_map(type_name):
                # "content中各个字段的置信度" (household-register); else the result's own fields
                rated_fields = out["content"] if "content" in out else out
                out[name] = self.field_map(type_name, rated_fields)
        return out

    def field_map(self, type_name: str, values: Any) -> Any:
        """A per-field confidence map for ``values``: typed (the SDK's ``…Confidence``
        models), or keyed and nested like the result (``object``, ``dict(str, float)``)."""
        if type_name.endswith("Confidence"):
            model = getattr(v1, type_name)
            out: dict[str, Any] = {}
            for attr, t in model.openapi_types.items():
                name = model.attribute_map[attr]
                listed = _LIST.match(t)
                if t == "float":
                    out[name] = self._number(True)
                elif listed:
                    items = values.get(name) if isinstance(values, dict) else None
                    out[name] = [self.field_map(listed.group(1), items[0] if items else None)]
                else:
                    out[name] = self.field_map(t, values.get(name) if isinstance(values, dict) else None)
            return out
        return self.mirror(values if isinstance(values, dict) else {})

    def mirror(self, values: dict[str, Any]) -> dict[str, Any]:
        """A number for each text field (a string, a list of strings), nested for the nested
        ones; locations, flags and images' coordinates are not fields that are read."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, str) or (isinstance(value, list) and value
                                          and all(isinstance(v, str) for v in value)):
                out[name] = self._number(True)
            elif isinstance(value, dict) and value:
                out[name] = self.mirror(value)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                out[name] = [self.mirror(v) for v in value]
        return out


def answer_of(api: str) -> Answer:
    answer = Answer()
    result_type = OFFICIAL[api].response.openapi_types["result"]
    answer.result = answer.value(result_type, False)
    return answer


def _typed_pairs() -> list[tuple[str, str]]:
    """(confidence model, result model) for every typed confidence of a result model."""
    pairs = []
    for name in dir(v1):
        model = getattr(v1, name)
        types = getattr(model, "openapi_types", None)
        if isinstance(types, dict) and str(types.get("confidence", "")).endswith("Confidence"):
            pairs.append((types["confidence"], name))
    return sorted(pairs)


@pytest.mark.parametrize("api", APIS)
def test_exactly_the_recognition_confidences_of_the_sdk_model_are_read(api: str) -> None:
    answer = answer_of(api)
    got = confidence.values_of(api, answer.result)
    assert sorted(got) == sorted(answer.rated)
    assert not set(got) & set(answer.other)


def test_the_apis_with_confidences_are_those_whose_model_has_them() -> None:
    rated = {api for api in APIS if answer_of(api).rated}
    assert set(confidence.EXTRACTORS) & set(CAT.apis) == rated
    # the families the README names
    assert {"general-text", "general-table", "smart-document-recognizer", "seal", "vat-invoice",
            "id-document", "household-register", "license-plate"} <= rated
    assert not {"auto-classification", "id-card", "driver-license", "vehicle-license",
                "bank-receipt", "business-card", "auto-id-doc-classification"} & rated


@pytest.mark.parametrize("pair", _typed_pairs(), ids=lambda p: p[0])
def test_typed_confidence_models_rate_fields_of_their_result(pair: tuple[str, str]) -> None:
    """Per-field confidences are paired with the fields of the same name: every field a
    confidence model names is a field of its result model."""
    conf_name, result_name = pair
    conf, result = getattr(v1, conf_name), getattr(v1, result_name)
    result_fields = {result.attribute_map[a]: t for a, t in result.openapi_types.items()}
    for attr, t in conf.openapi_types.items():
        name = conf.attribute_map[attr]
        assert name in result_fields, (conf_name, name)
        nested = _LIST.match(t)
        if nested and nested.group(1).endswith("Confidence"):
            inner = _LIST.match(result_fields[name])
            assert inner, (conf_name, name)
            assert set(getattr(v1, nested.group(1)).attribute_map.values()) <= \
                set(getattr(v1, inner.group(1)).attribute_map.values())


def test_a_field_the_result_does_not_hold_is_not_rated() -> None:
    # mvs-invoice: "若字段不存在则返回0.0" — a 0.0 for a field it did not find
    result = answer_of("mvs-invoice").result
    result["tax"] = ""
    result.pop("remark")
    result["confidence"].update(tax=0.0, remark=0.0)
    got = confidence.values_of("mvs-invoice", result)
    assert 0.0 not in got and len(got) == len(result["confidence"]) - 2


def test_nested_fields_are_paired_item_by_item() -> None:
    # flight-itinerary: "置信度中的itinerary_list的顺序与返回值中的itinerary_list的顺序是一致的"
    result = {"passenger_name": "Li", "itinerary_list": [{"flight": "CA1"}, {"flight": ""}],
              "confidence": {"passenger_name": 0.9, "itinerary_list": [{"flight": 0.8},
                                                                       {"flight": 0.1}]}}
    assert sorted(confidence.values_of("flight-itinerary", result)) == [0.8, 0.9]
