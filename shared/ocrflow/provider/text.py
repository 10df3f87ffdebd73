"""The recognized text of a provider result, ready to use (``data.text``).

The provider lists text blocks in reading order ("输出顺序从左到右，先上后下" in the official
SDK's result models), so the text keeps its order: one recognized line per line. Table
cells of one row are joined with a tab, as the provider's own ``markdown_result`` joins
blocks of one line. Shapes, per API, as the official SDK's response models name them:

* general-text, handwriting, web-image: ``words_block_list[].words``;
* general-table, financial-statement: ``words_region_list[]`` of ``text`` regions (one
  line per block) and ``table`` regions (cells with ``rows``/``columns``);
* smart-document-recognizer: a list with one result per page (the SDK's
  ``list[SmartDocumentRecognizerResult]``), each ``ocr_result.words_block_list[].words``;
* seal: ``seal_list[].words_block_list[].words``, one stamp after the other.

Other APIs answer fields (names, numbers, dates), not running text: no ``text``. Where each
API keeps its blocks is read through :mod:`.words`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import words


def _words(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["words"] for b in blocks if isinstance(b.get("words"), str)]


def _block_lines(result: dict[str, Any]) -> list[str]:
    return _words(words.line_blocks(result))


def _table_lines(blocks: list[dict[str, Any]]) -> list[str]:
    """Cells grouped by their first row, in the provider's order within a row."""
    rows: dict[int, list[str]] = {}
    loose: list[str] = []
    for block in blocks:
        if not isinstance(block.get("words"), str):
            continue
        row = block.get("rows")
        if isinstance(row, list) and row and isinstance(row[0], int):
            rows.setdefault(row[0], []).append(block["words"])
        else:
            loose.append(block["words"])
    return ["\t".join(cells) for _, cells in sorted(rows.items())] + loose


def _region_lines(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for region in words.table_regions(result):
        if region.get("type") == "table":
            lines += _table_lines(words.region_blocks(region))
        else:
            lines += _words(words.region_blocks(region))
    return lines


def _document_lines(result: Any) -> list[str]:
    lines: list[str] = []
    for ocr in words.page_results(result if isinstance(result, list) else [result]):
        lines += _block_lines(ocr)
    return lines


def _seal_lines(result: dict[str, Any]) -> list[str]:
    return [line for seal in words.seals(result) for line in _words(words.seal_blocks(seal))]


_EXTRACTORS: dict[str, Callable[[Any], list[str]]] = {
    "general-text": _block_lines,
    "handwriting": _block_lines,
    "web-image": _block_lines,
    "general-table": _region_lines,
    "financial-statement": _region_lines,
    "smart-document-recognizer": _document_lines,
    "seal": _seal_lines,
}

#: APIs whose results carry ``data.text``.
TEXT_APIS = frozenset(_EXTRACTORS)


def text_of(api: str | None, result: Any) -> str | None:
    """The recognized lines of ``result`` in reading order, joined with newlines; ``""``
    when a text API found no text; ``None`` for APIs that do not answer running text."""
    extract = _EXTRACTORS.get(api or "")
    if extract is None or not isinstance(result, (dict, list)):
        return None
    if isinstance(result, list) and extract is not _document_lines:
        return None
    return "\n".join(extract(result))


def document_text(api: str | None, page_results: list[Any]) -> tuple[list[str | None], str | None]:
    """The text of each page of a multi-page document, and of the whole document: its pages'
    lines in page order, joined with newlines like the lines of one page (None for APIs
    that do not answer running text)."""
    pages = [text_of(api, result) for result in page_results]
    if api not in TEXT_APIS:
        return pages, None
    return pages, "\n".join(t for t in pages if t)
