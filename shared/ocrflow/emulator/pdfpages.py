"""PDF input for the emulator: the requested page rendered to an image, as the service does.

The service turns a PDF page into an image at 144 dpi before recognizing it (the API
reference of smart-document-recognizer says so) and reads page 1 unless the API takes
``pdf_page_number``. Rendering uses PDFium through pypdfium2, whose wheel ships the renderer.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from .exceptions import Answer

RENDER_DPI = 144
#: pixels of one rendered page at most: a page of PDF's largest size (200 inches a side)
#: at 144 dpi would be a 3.3 GB bitmap; such a page is rendered smaller instead
RENDER_MAX_PIXELS = 40_000_000
_lock = threading.Lock()  # PDFium is not thread-safe; the emulator answers on many threads


def requested_page(doc: dict[str, Any], page_field: str | None) -> int:
    """The 1-based page a body asks for in the API's page field (``pdf_page_number``,
    ``page_num``); AIS.0101 for a value the API would not take."""
    if page_field is None or page_field not in doc:
        return 1
    page = doc[page_field]
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise Answer(400, "AIS.0101", f"The parameter {page_field} is invalid.")
    return page


def render_page(pdf: bytes, page: int, render: bool = True) -> bytes:
    """Page ``page`` of ``pdf`` as a PNG (``render=False``: only checked). AIS.0101 past
    the last page (no code is documented for it: the service's code for a bad parameter),
    AIS.0102 for a file PDFium cannot open."""
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise Answer(500, "Emulator.NotEmulated",
                     "PDF input needs the emulator extra: pip install 'ocrflow[emulator]'") from exc
    with _lock:
        try:
            document = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError:
            raise Answer(400, "AIS.0102", "The PDF cannot be decoded.") from None
        try:
            if page > len(document):
                raise Answer(400, "AIS.0101",
                             f"The page number {page} is invalid: the PDF has {len(document)} pages.")
            if not render:
                return pdf
            pdf_page = document[page - 1]
            width, height = pdf_page.get_size()
            scale = RENDER_DPI / 72
            if width * height * scale * scale > RENDER_MAX_PIXELS:
                # PDFium rounds the sides up: a little under, so the budget holds
                scale = (RENDER_MAX_PIXELS / max(1.0, width * height)) ** 0.5 * 0.999
            image = pdf_page.render(scale=scale).to_pil()
        except (pdfium.PdfiumError, ValueError, OverflowError):
            raise Answer(400, "AIS.0102", "The PDF page cannot be rendered.") from None
        finally:
            document.close()
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
