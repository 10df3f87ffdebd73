"""Where each text API keeps its text blocks, read in one place: the recognized text
(:mod:`.text`), the confidences (:mod:`.confidence`) and the outputs (searchable PDF, hOCR,
the run report, :mod:`ocrflow.outputs.blocks`) all walk a result through the functions here.
A block is a dict as the provider answers it: ``words``, ``location`` (four ``[x, y]``
points, origin top left, x right, y down), ``confidence`` (0–1); general-table cells also
have ``rows`` and ``columns``; seal blocks have ``words_confidence`` and no location.

* general-text, handwriting, web-image: :func:`line_blocks` (``words_block_list``);
* general-table, financial-statement: :func:`table_regions`, each region's
  :func:`region_blocks` (``words_region_list[].words_block_list``);
* smart-document-recognizer: :func:`page_results`, one ``ocr_result`` per page, each read
  like a general-text result;
* seal: :func:`seals`, each seal's :func:`seal_blocks` (``seal_list[].words_block_list``).
"""

from __future__ import annotations

from typing import Any


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
