"""Where each text API keeps its text blocks, read in one place: the recognized text
(:mod:`.text`), the confidences (:mod:`.confidence`) and the outputs (searchable PDF, hOCR,
the run report) all walk a result through the functions here.

Shapes, as the official SDK's result models name them: a block has ``words``, ``location``
(four ``[x, y]`` points, origin top left, x right, y down, in the pixels of the image the
service read) and ``confidence`` (0–1); general-table cells also have ``rows`` and
``columns``; seal blocks have ``words_confidence`` and no location. A block is a line
(general-text) or a table cell, not a single word: :func:`split_words` estimates each word's
box inside it.

* general-text, handwriting, web-image: :func:`line_blocks` (``words_block_list``);
* general-table, financial-statement: :func:`table_regions`, each region's
  :func:`region_blocks` (``words_region_list[].words_block_list``);
* smart-document-recognizer: :func:`page_results`, one ``ocr_result`` per page, each read
  like a general-text result;
* seal: :func:`seals`, each seal's :func:`seal_blocks` (``seal_list[].words_block_list``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Box = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Block:
    text: str
    #: the smallest upright rectangle around ``location``; None when the API gives none
    box: Box | None
    #: the provider's own number, 0–1; None when it gives none
    confidence: float | None
    #: general-table cells: the first row and column the cell spans (0-based)
    row: int | None = None
    column: int | None = None


def _box(location: Any) -> Box | None:
    if not isinstance(location, list) or not location:
        return None
    try:
        xs = [float(p[0]) for p in location]
        ys = [float(p[1]) for p in location]
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return min(xs), min(ys), max(xs), max(ys)


def _confidence(block: dict[str, Any]) -> float | None:
    for name in ("confidence", "words_confidence"):
        value = block.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _first(value: Any) -> int | None:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], int) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def line_blocks(result: Any) -> list[dict[str, Any]]:
    return _dicts(result.get("words_block_list")) if isinstance(result, dict) else []


def table_regions(result: Any) -> list[dict[str, Any]]:
    return _dicts(result.get("words_region_list")) if isinstance(result, dict) else []


def region_blocks(region: dict[str, Any]) -> list[dict[str, Any]]:
    return _dicts(region.get("words_block_list"))


def page_results(result: Any) -> list[dict[str, Any]]:
    """Each page's ``ocr_result`` of a smart-document-recognizer answer (a list of pages)."""
    return [page["ocr_result"] for page in _dicts(result) if isinstance(page.get("ocr_result"), dict)]


def seals(result: Any) -> list[dict[str, Any]]:
    return _dicts(result.get("seal_list")) if isinstance(result, dict) else []


def seal_blocks(seal: dict[str, Any]) -> list[dict[str, Any]]:
    return _dicts(seal.get("words_block_list"))


def _blocks(items: list[dict[str, Any]]) -> Iterator[Block]:
    for b in items:
        if isinstance(b.get("words"), str):
            yield Block(b["words"], _box(b.get("location")), _confidence(b),
                        _first(b.get("rows")), _first(b.get("columns")))


def blocks_of(api: str | None, result: Any) -> list[Block]:
    """The text blocks of one page's result, in the provider's (reading) order; ``[]`` for
    APIs that answer fields rather than text."""
    if not isinstance(result, (dict, list)):
        return []
    if api == "smart-document-recognizer":
        pages = result if isinstance(result, list) else [result]
        return [b for ocr in page_results(pages) for b in _blocks(line_blocks(ocr))]
    if not isinstance(result, dict):
        return []
    if isinstance(result.get("words_region_list"), list):  # general-table, financial-statement
        return [b for region in table_regions(result) for b in _blocks(region_blocks(region))]
    if isinstance(result.get("seal_list"), list):
        return [b for seal in seals(result) for b in _blocks(seal_blocks(seal))]
    return list(_blocks(line_blocks(result)))


def split_words(block: Block) -> list[Block]:
    """The words of a block (split at spaces), each with a box estimated from its share of
    the block's characters: the APIs place lines, not words."""
    tokens = block.text.split()
    if block.box is None or len(tokens) <= 1:
        return [Block(t, block.box, block.confidence) for t in tokens]
    left, top, right, bottom = block.box
    # a space counts as one character, as in a monospaced estimate
    total = sum(len(t) for t in tokens) + len(tokens) - 1
    step = (right - left) / total
    out, at = [], 0
    for token in tokens:
        x0 = left + at * step
        at += len(token)
        out.append(Block(token, (x0, top, left + at * step, bottom), block.confidence))
        at += 1
    return out

