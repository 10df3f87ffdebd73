"""How sure the provider was (``data.confidence``): ``min``, ``mean`` and ``count`` of its own
confidences over the words or fields it recognized — only numbers its answer carries, never
one made up. APIs whose answer has none get no ``confidence``.

Where each API keeps them, as the official SDK's response models (``huaweicloudsdkocr``)
name them; one function per family, each usable on its own:

* :func:`text_blocks` — general-text, handwriting, web-image: ``words_block_list[].confidence``;
* :func:`table_blocks` — general-table, financial-statement:
  ``words_region_list[].words_block_list[].confidence``;
* :func:`document_blocks` — smart-document-recognizer (one result per page):
  ``[].ocr_result.words_block_list[].confidence``;
* :func:`seal_blocks` — seal: ``seal_list[].words_block_list[].words_confidence``;
* :func:`card_fields` — cards and invoices: ``confidence``, one number per field of the
  result, keyed and nested like the result itself ("置信度中的相关字段均与返回值中的相关字段
  一一对应", flight-itinerary's model); a field counts when the result holds a value for it
  (mvs-invoice answers 0.0 for a field it did not find);
* :func:`household_fields` — household-register: ``[].confidence`` for the fields of the
  same item's ``content``;
* :func:`plates` — license-plate, thailand-license-plate: ``[].confidence``, one per plate.

Numbers the models carry that are not the recognition's confidence are never read: a
character's (``char_list[].char_confidence``, the block's own is the word's), a table cell's
sub-words (``words_list``), where a seal or a document lies (``seal_list[].confidence``,
auto-id-doc-classification's ``confidence``: "位置的置信度"), image quality alarms
(``score_info``, ``alarm_confidence``), web-image's ``font_scores``, a driver's
``accumulated_scores``. auto-classification's ``content`` is untyped in the SDK: no
confidence. ``tests/contract/test_confidence_sdk.py`` holds this table to the SDK's models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import words

#: The most a confidence can be: the provider's are "取值范围0~1".
MAX_CONFIDENCE = 1.0


@dataclass(frozen=True)
class Confidence:
    """``min`` and ``mean`` of ``count`` confidences."""

    min: float
    mean: float
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"min": self.min, "mean": self.mean, "count": self.count}

    @classmethod
    def of(cls, values: list[float]) -> Confidence | None:
        if not values:
            return None
        return cls(min(values), math.fsum(values) / len(values), len(values))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _recognized(value: Any) -> bool:
    """A field the result holds a value for."""
    return value is not None and value != "" and not (isinstance(value, (list, dict)) and not value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


# --- one function per family --------------------------------------------------------------------
def blocks(words_block_list: Any, key: str = "confidence") -> list[float]:
    """The confidence of each text block (``words_block_list[].confidence``) that has one."""
    out = []
    for block in _list(words_block_list):
        number = _number(_get(block, key))
        if number is not None:
            out.append(number)
    return out


def text_blocks(result: Any) -> list[float]:
    return blocks(words.line_blocks(result))


def table_blocks(result: Any) -> list[float]:
    return [c for region in words.table_regions(result) for c in blocks(words.region_blocks(region))]


def document_blocks(result: Any) -> list[float]:
    return [c for page in words.page_results(result) for c in text_blocks(page)]


def seal_blocks(result: Any) -> list[float]:
    return [c for seal in words.seals(result) for c in blocks(words.seal_blocks(seal), "words_confidence")]


def fields(confidence: Any, values: Any) -> list[float]:
    """Per-field confidences paired with the fields they rate: a number for a field the
    result holds a value for; a map or list for a nested field, paired item by item."""
    out: list[float] = []
    if isinstance(confidence, Mapping) and isinstance(values, Mapping):
        for name, rating in confidence.items():
            value = values.get(name)
            if not _recognized(value):
                continue
            number = _number(rating)
            if number is not None:
                out.append(number)
            else:
                out += fields(rating, value)
    elif isinstance(confidence, list) and isinstance(values, list):
        for rating, value in zip(confidence, values):  # the result's order (flight-itinerary)
            out += fields(rating, value)
    return out


def card_fields(result: Any) -> list[float]:
    return fields(_get(result, "confidence"), result)


def household_fields(result: Any) -> list[float]:
    return [c for item in _list(result) for c in fields(_get(item, "confidence"), _get(item, "content"))]


def plates(result: Any) -> list[float]:
    out = []
    for plate in _list(result):
        number = _number(_get(plate, "confidence"))
        if number is not None and _recognized(_get(plate, "plate_number")):
            out.append(number)
    return out


_CARDS = (
    "acceptance-bill", "bankcard", "business-license", "cambodian-idcard", "chile-id-card",
    "colombia-id-card", "exit-entry-permit", "flight-itinerary", "hk-id-card", "id-document",
    "macao-id-card", "mainland-travel-permit", "mvs-invoice", "myanmar-driver-license",
    "myanmar-id-card", "passport", "peru-id-card", "quota-invoice", "real-estate-certificate",
    "taxi-invoice", "thailand-id-card", "toll-invoice", "train-ticket", "transportation-license",
    "transportation-qualification-certificate", "vat-invoice", "vehicle-certificate",
    "vietnam-id-card", "waybill-electronic",
)

#: API → the function that reads its answer's confidences.
EXTRACTORS: dict[str, Callable[[Any], list[float]]] = {
    "general-text": text_blocks,
    "handwriting": text_blocks,
    "web-image": text_blocks,
    "general-table": table_blocks,
    "financial-statement": table_blocks,
    "smart-document-recognizer": document_blocks,
    "seal": seal_blocks,
    "household-register": household_fields,
    "license-plate": plates,
    "thailand-license-plate": plates,
    **{api: card_fields for api in _CARDS},
}


def values_of(api: str | None, result: Any) -> list[float]:
    """Every confidence of ``result`` that rates a recognized word or field (none for APIs
    that answer none)."""
    extract = EXTRACTORS.get(api or "")
    return extract(result) if extract is not None else []


def confidence_of(api: str | None, result: Any) -> Confidence | None:
    return Confidence.of(values_of(api, result))


def document_confidence(api: str | None, page_results: list[Any]
                        ) -> tuple[list[Confidence | None], Confidence | None]:
    """Each page's confidence, and the whole document's (over every page's words or fields)."""
    values = [values_of(api, result) for result in page_results]
    return [Confidence.of(v) for v in values], Confidence.of([c for v in values for c in v])


# --- review -----------------------------------------------------------------------------------
def review_problem(value: Any, apis: set[str] | None = None) -> str | None:
    """What is wrong with an ``OCR_REVIEW_BELOW`` value (already JSON-decoded), or None: a
    confidence above 0 and at most 1, or an object of them keyed by API name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Mapping)):
        return 'expected a confidence such as 0.8, or a JSON object such as {"vat-invoice": 0.9}'
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for api, n in items:
        where = f" for {api!r}" if api else ""
        if isinstance(n, bool) or not isinstance(n, (int, float)) \
                or not 0 < n <= MAX_CONFIDENCE:  # NaN fails both
            return f"expected a confidence above 0 and at most 1{where}, got {n!r}"
        if api and apis is not None and api not in apis:
            return f"unknown API {api!r}"
    return None


def review_threshold(setting: float | Mapping[str, float] | None, api: str | None) -> float | None:
    """The ``OCR_REVIEW_BELOW`` threshold for ``api`` (None: its results are not reviewed)."""
    if isinstance(setting, Mapping):
        found = setting.get(api or "")
        return float(found) if found is not None else None
    return float(setting) if setting is not None else None


def needs_review(confidence: Confidence | None, threshold: float | None) -> bool:
    """A result whose least sure word or field is below the threshold. A result without
    confidences is not judged."""
    return confidence is not None and threshold is not None and confidence.min < threshold
