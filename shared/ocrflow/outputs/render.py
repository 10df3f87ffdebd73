"""Documents people keep, made from a result message: a searchable PDF, Markdown, hOCR, text.

* ``pdf``: each page is the page the service read — a PDF page rendered at ``dpi``, a photo
  as it was sent (upright and scaled when ocrflow fitted it, ``data.input``) — with the
  recognized text as an invisible layer over its boxes (text render mode 3), so selecting,
  searching and copying work in any viewer. Written with fpdf2 and a glyphless font that
  covers every script in 9 KB (the README's "Searchable PDF" section has the measurements
  behind that choice). One PDF page per document page.
* ``markdown``: the provider's own ``markdown_result`` where the API returned it
  (general-text with ``return_markdown_result``); else the text in reading order, tables as
  Markdown tables (general-table, financial-statement), and the fields of card and invoice
  APIs as a table.
* ``hocr``: the hOCR standard (``ocr_page``, ``ocr_line``, ``ocrx_word`` with ``bbox`` and
  ``x_wconf``), in the page image's pixels.
* ``text``: ``data.text``.

The image libraries (Pillow, pypdfium2, fpdf2) are the ``render`` extra, imported only
here and only by the formats that need the page: the function bundle never loads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..core.errors import ObjectChanged, ObjectNotFound, ObjectStoreError, OcrflowError
from ..documents import filecheck
from ..provider.text import text_of
from .blocks import Block, blocks_of, split_words

if TYPE_CHECKING:
    from ..adapters.stores import ObjectStore
    from ..contract.consumer import OcrFailure, OcrResult

FORMATS = ("pdf", "markdown", "hocr", "text")
SUFFIXES = {"pdf": ".pdf", "markdown": ".md", "hocr": ".hocr", "text": ".txt"}
#: The service reads a PDF page as an image rendered at 144 dpi: its boxes on a PDF page are
#: in the pixels of that image (the API reference of smart-document-recognizer).
SERVICE_PDF_DPI = 144
#: The resolution PDF pages are rendered at, and at which an image's pixels are laid on a
#: PDF page (a photo of 1440 px is 10 inches wide).
DEFAULT_DPI = 144
FONT = Path(__file__).parent / "glyphless.ttf"


class RenderError(OcrflowError):
    """A message that renders nothing: a failure, an original that is gone or changed, a
    format that is not one of :data:`FORMATS`."""


@dataclass(frozen=True)
class PageResult:
    """One page of a result: its 1-based number in the original, the provider's answer for
    it, and what was sent when ocrflow changed the file (``data.input``)."""

    number: int
    result: Any
    input: dict[str, Any] | None = None


@dataclass
class PageImage:
    """The page as the service read it, ready to lay out."""

    number: int
    image: Any  # PIL.Image.Image
    #: result coordinates × factor = pixels of ``image``
    factor: float
    #: pixels of ``image`` per inch on the PDF page
    dpi: float
    #: the original's own encoded bytes when they can be embedded as they are (a JPEG)
    encoded: bytes | None = None


def require(fmt: str) -> None:
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")


def needs_original(fmt: str) -> bool:
    """The formats that lay out the page and so read the original file."""
    return fmt in ("pdf", "hocr")


# --- the message's pages ------------------------------------------------------------------
def pages_of(message: OcrResult, store: ObjectStore | str | None = None) -> list[PageResult]:
    """The result's pages (claim checks resolved): one for a one-call upload, one per page
    of a multi-page document."""
    from ..contract.consumer import result_of

    stored = result_of(message, store)
    if message.data.pages_total is not None:
        out = []
        for entry in stored if isinstance(stored, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("page"), int):
                sent = entry.get("input")
                out.append(PageResult(entry["page"], entry.get("result"),
                                      sent if isinstance(sent, dict) else None))
        return out
    sent = (message.data.model_extra or {}).get("input")
    return [PageResult(1, stored, sent if isinstance(sent, dict) else None)]


def read_original(message: OcrResult | OcrFailure, store: ObjectStore) -> bytes:
    """The uploaded file, as it was when recognized (its version, else its ETag)."""
    obj = message.data.object
    if obj is None:
        raise RenderError("the message names no object")
    try:
        return store.get(obj.bucket, obj.key, obj.version_id,
                         if_match=None if obj.version_id else obj.etag)
    except ObjectNotFound:
        raise RenderError(f"the original {obj.bucket}/{obj.key} is gone") from None
    except ObjectChanged:
        raise RenderError(f"the original {obj.bucket}/{obj.key} changed since it was recognised") from None
    except ObjectStoreError as exc:
        raise RenderError(f"cannot read the original {obj.bucket}/{obj.key}: {exc}") from None


# --- page images ----------------------------------------------------------------------------
def page_images(original: bytes, pages: list[PageResult], dpi: float = DEFAULT_DPI) -> Iterator[PageImage]:
    """Each page of ``pages`` as the image the service read, one at a time (a long PDF is
    never held rendered whole)."""
    if filecheck.sniff_format(original) == "pdf":
        yield from _pdf_pages(original, pages, dpi)
        return
    image, encoded = _photo(original, pages[0].input if pages else None)
    for page in pages[:1]:
        yield PageImage(page.number, image, 1.0, dpi, encoded)


def _pdf_document(original: bytes, pages: list[PageResult]) -> Iterator[tuple[PageResult, Any]]:
    """Each of ``pages`` with its PDFium page, the document open meanwhile."""
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        raise RenderError(_extra(exc)) from None
    try:
        document = pdfium.PdfDocument(original)
    except pdfium.PdfiumError as exc:
        raise RenderError(f"the original PDF cannot be opened: {exc}") from None
    try:
        for page in pages:
            if not 1 <= page.number <= len(document):
                raise RenderError(f"the original PDF has no page {page.number}")
            yield page, document[page.number - 1]
    finally:
        document.close()


def _pdf_pages(original: bytes, pages: list[PageResult], dpi: float) -> Iterator[PageImage]:
    for page, pdf_page in _pdf_document(original, pages):
        image = pdf_page.render(scale=dpi / 72).to_pil()
        yield PageImage(page.number, image, dpi / SERVICE_PDF_DPI, dpi)


def _photo(original: bytes, sent: dict[str, Any] | None) -> tuple[Any, bytes | None]:
    """The image as sent: the stored pixels, or — when ocrflow fitted it — turned upright and
    scaled to the size it was sent at."""
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError as exc:
        raise RenderError(_extra(exc)) from None
    from ..documents.fit import is_heif

    if is_heif(original):
        try:
            import pillow_heif
        except ImportError as exc:
            raise RenderError(_extra(exc)) from None
        pillow_heif.register_heif_opener()
    image: Any
    try:
        image = Image.open(io.BytesIO(original))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise RenderError(f"the original is not an image Pillow reads: {exc}") from None
    fitted = sent is not None and sent.get("format") != "pdf" and \
        isinstance(sent.get("width"), int) and isinstance(sent.get("height"), int)
    encoded = original if image.format == "JPEG" and image.mode in ("RGB", "L") and not fitted else None
    if fitted:
        assert sent is not None
        image = ImageOps.exif_transpose(image)
        if image.size != (sent["width"], sent["height"]):
            image = image.resize((sent["width"], sent["height"]), Image.Resampling.LANCZOS)
    from ..documents.fit import _flatten

    return _flatten(image), encoded


def _extra(exc: ImportError) -> str:
    return f"rendering needs the render extra ({exc.name} is missing): pip install 'ocrflow[render]'"


# --- text -------------------------------------------------------------------------------------
def to_text(message: OcrResult, store: ObjectStore | str | None = None) -> bytes:
    from ..contract.consumer import text

    found = text(message, store)
    if found is None:
        raise RenderError(f"{message.data.api} answers fields, not text: try markdown")
    return (found + "\n").encode("utf-8")


# --- markdown ---------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _table(rows: list[list[str]]) -> list[str]:
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
    return lines + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def _grid(cells: list[Block]) -> list[str]:
    """A table region's cells on their rows and columns; cells without a place follow."""
    placed = [c for c in cells if c.row is not None and c.column is not None]
    if not placed:
        return [_cell(c.text) for c in cells]
    n_rows = max(c.row for c in placed if c.row is not None) + 1
    n_cols = max(c.column for c in placed if c.column is not None) + 1
    grid = [[""] * n_cols for _ in range(n_rows)]
    for c in placed:
        assert c.row is not None and c.column is not None
        grid[c.row][c.column] = " ".join(filter(None, [grid[c.row][c.column], _cell(c.text)]))
    return _table(grid) + [_cell(c.text) for c in cells if c not in placed]


def fields_of(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """A card or invoice answer as (dotted field name, value) rows; boxes and confidences
    left out: they say where and how sure, the values are the content."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "location" in key or key.endswith("confidence"):
                continue
            yield from fields_of(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, item in enumerate(value):
            yield from fields_of(item, f"{prefix}[{i}]")
    elif value is not None and value != "" and value != []:
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        yield prefix or "value", _cell(shown)


def _page_markdown(api: str | None, result: Any) -> list[str]:
    if isinstance(result, dict) and isinstance(result.get("markdown_result"), str):
        return [result["markdown_result"].strip()]  # the provider's own, as it gave it
    if isinstance(result, dict) and isinstance(result.get("words_region_list"), list):
        out: list[str] = []
        for region in result["words_region_list"]:
            if not isinstance(region, dict):
                continue
            blocks = blocks_of(api, {"words_region_list": [region]})
            if region.get("type") == "table":
                out += ["", *_grid(blocks), ""]
            else:
                out += [_cell(b.text) + "  " for b in blocks]
        return out
    lines = text_of(api, result)
    if lines is not None:
        return [_cell(line) + "  " for line in lines.split("\n") if line]
    fields = list(fields_of(result))
    return _table([["field", "value"], *[[k, v] for k, v in fields]]) if fields else []


def to_markdown(message: OcrResult, store: ObjectStore | str | None = None) -> bytes:
    pages = pages_of(message, store)
    key = message.data.object.key if message.data.object else message.subject or message.id
    out = [f"# {_cell(key)}", ""]
    for page in pages:
        if len(pages) > 1 or message.data.pages_total is not None:
            out += [f"## Page {page.number}", ""]
        out += _page_markdown(message.data.api, page.result) + [""]
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


# --- hOCR -------------------------------------------------------------------------------------
def _scaled(box: tuple[float, float, float, float], factor: float, width: int,
            height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (round(v * factor) for v in box)
    x0, x1 = max(0, min(x0, width)), max(0, min(x1, width))
    y0, y1 = max(0, min(y0, height)), max(0, min(y1, height))
    return x0, y0, x1, y1


def page_sizes(original: bytes, pages: list[PageResult],
               dpi: float = DEFAULT_DPI) -> list[tuple[int, int, float]]:
    """Each page's (width, height) in the page image's pixels and the factor from result
    coordinates to them, without rendering anything."""
    if filecheck.sniff_format(original) == "pdf":
        out = []
        for _, pdf_page in _pdf_document(original, pages):
            w, h = pdf_page.get_size()
            out.append((round(w * dpi / 72), round(h * dpi / 72), dpi / SERVICE_PDF_DPI))
        return out
    image, _ = _photo(original, pages[0].input if pages else None)
    return [(image.width, image.height, 1.0)][: len(pages)]


def to_hocr(message: OcrResult, store: ObjectStore, original: bytes | None = None,
            dpi: float = DEFAULT_DPI) -> bytes:
    import xml.etree.ElementTree as ET

    pages = pages_of(message, store)
    original = read_original(message, store) if original is None else original
    key = message.data.object.key if message.data.object else message.id
    ns = "http://www.w3.org/1999/xhtml"
    html = ET.Element("html", {"xmlns": ns, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = key
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system",
                                 "content": f"ocrflow (Huawei Cloud OCR {message.data.api})"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities",
                                 "content": "ocr_page ocr_line ocrx_word ocrp_wconf"})
    body = ET.SubElement(html, "body")
    for page, (width, height, factor) in zip(pages, page_sizes(original, pages, dpi)):
        n = page.number
        div = ET.SubElement(body, "div", {
            "class": "ocr_page", "id": f"page_{n}",
            "title": f'image "{_title_text(key)}"; bbox 0 0 {width} {height}; ppageno {n - 1}'})
        for i, block in enumerate(b for b in blocks_of(message.data.api, page.result) if b.box):
            assert block.box is not None
            line_box = _scaled(block.box, factor, width, height)
            line = ET.SubElement(div, "span", {"class": "ocr_line", "id": f"line_{n}_{i + 1}",
                                               "title": "bbox {} {} {} {}".format(*line_box)})
            for j, word in enumerate(split_words(block)):
                assert word.box is not None
                title = "bbox {} {} {} {}".format(*_scaled(word.box, factor, width, height))
                if word.confidence is not None:
                    title += f"; x_wconf {round(max(0.0, min(1.0, word.confidence)) * 100)}"
                span = ET.SubElement(line, "span", {"class": "ocrx_word",
                                                    "id": f"word_{n}_{i + 1}_{j + 1}", "title": title})
                span.text = word.text
                span.tail = " "
    ET.indent(html)
    doctype = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
               '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n')
    body_xml = ET.tostring(html, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + body_xml + "\n").encode("utf-8")


def _title_text(value: str) -> str:
    # the title attribute's properties are separated by ';' and strings are double-quoted
    return value.replace('"', "'").replace(";", ",")


# --- searchable PDF ---------------------------------------------------------------------------
def _fpdf() -> Any:
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise RenderError(_extra(exc)) from None
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    pdf.add_font("glyphless", fname=str(FONT))
    pdf.set_font("glyphless", size=10)
    pdf.set_creator("ocrflow")
    return pdf


def _embed(page: PageImage) -> Any:
    """What is laid on the page: the original JPEG's bytes as they are, else a JPEG (a
    rendered page or a fitted photo, as the service got them) at quality 85."""
    if page.encoded is not None:
        return io.BytesIO(page.encoded)
    out = io.BytesIO()
    page.image.save(out, "JPEG", quality=85)
    out.seek(0)
    return out


def lay_text(pdf: Any, blocks: list[Block], factor: float, dpi: float) -> None:
    """Each block's text, invisible, filling its box: the font size is the box's height
    (the glyphless font's em is ascent 0.8 + descent 0.2) and the text is stretched
    horizontally to the box's width, so a selection covers the word on the image."""
    from fpdf.enums import TextMode

    pdf.text_mode = TextMode.INVISIBLE
    to_pt = factor * 72 / dpi
    for block in blocks:
        if block.box is None or not block.text.strip():
            continue
        left, top, right, bottom = (v * to_pt for v in block.box)
        height = bottom - top
        if height <= 0 or right <= left:
            continue
        pdf.set_font_size(height)
        pdf.set_stretching(100)
        natural = pdf.get_string_width(block.text)
        if natural > 0:
            pdf.set_stretching((right - left) / natural * 100)
        pdf.text(left, bottom - 0.2 * height, block.text)
    pdf.set_stretching(100)


def to_pdf(message: OcrResult, store: ObjectStore, original: bytes | None = None,
           dpi: float = DEFAULT_DPI) -> bytes:
    pages = pages_of(message, store)
    original = read_original(message, store) if original is None else original
    pdf = _fpdf()
    key = message.data.object.key if message.data.object else message.id
    pdf.set_title(key)
    results = {p.number: p.result for p in pages}
    for page in page_images(original, pages, dpi):
        width, height = page.image.width * 72 / dpi, page.image.height * 72 / dpi
        pdf.add_page(format=(width, height))
        pdf.image(_embed(page), x=0, y=0, w=width, h=height)
        lay_text(pdf, blocks_of(message.data.api, results[page.number]), page.factor, dpi)
        page.image.close()
    return bytes(pdf.output())


# --- one message ------------------------------------------------------------------------------
def render_message(message: OcrResult | OcrFailure, fmt: str, store: ObjectStore | None = None,
                   dpi: float = DEFAULT_DPI) -> bytes:
    """The file ``fmt`` makes of ``message``. Raises :class:`RenderError` for a failure
    message, an original that is gone, or a result with nothing to render."""
    from ..contract.consumer import OcrFailure

    require(fmt)
    if isinstance(message, OcrFailure):
        e = message.data.error
        raise RenderError(f"a failure renders nothing ({e.code}: {e.message})")
    if fmt == "text":
        return to_text(message, store)
    if fmt == "markdown":
        return to_markdown(message, store)
    if store is None:
        raise RenderError(f"{fmt} reads the original file: give the object store")
    return to_hocr(message, store, dpi=dpi) if fmt == "hocr" else to_pdf(message, store, dpi=dpi)


def output_path(out_dir: Path, key: str, fmt: str) -> Path:
    """``DIR/<key><suffix>``, refused for a key that would leave ``DIR`` (``..``, an
    absolute path, an empty segment) or that the pipeline itself would refuse."""
    from ..core.errors import FailureError
    from ..core.object_names import check_key

    try:
        check_key(key)
    except FailureError as exc:
        raise RenderError(f"key {key!r} cannot name a file: {exc.failure.message}") from None
    parts = PurePosixPath(key).parts
    if key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")) or not parts:
        raise RenderError(f"key {key!r} cannot name a file under the output folder")
    root = out_dir.resolve()
    path = root.joinpath(*parts[:-1], parts[-1] + SUFFIXES[fmt])
    if not path.resolve().is_relative_to(root):  # a symbolic link inside DIR pointing out
        raise RenderError(f"key {key!r} leads outside the output folder")
    return path

