"""Where each piece of recognized text is on the page: text, box and confidence per block,
for the outputs (searchable PDF, hOCR, the run report). Read through
:mod:`ocrflow.provider.words`, which knows where each API keeps its blocks. A block is a line
(general-text) or a table cell, not a single word: :func:`split_words` estimates each word's
box inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..provider.words import line_blocks, page_results, region_blocks, seal_blocks, seals, table_regions

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
