"""PDF pages: counted before anything is paid for, and one page split out when it must
travel alone.

The OCR APIs read one page per call. Counting is a scan of the bytes for the common case
(one revision, no compressed object streams), which needs no library; any file the scan is
not sure about is opened with pypdf, a pure-Python library that is imported only then. A
page is split out with pypdf as well, so a one-page upload never imports it.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

from .errors import FailureError

_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z0-9])")
_PAGES_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]{0,200}?/Count\s+(\d+)"
                          rb"|/Count\s+(\d+)[^>]{0,200}?/Type\s*/Pages\b")


def _scan(data: bytes) -> int | None:
    """The page count when the bytes alone make it certain, else None.

    Certain means: one revision (an incremental update may redefine or drop pages) and no
    object streams (which hide page objects from a byte scan); then every ``/Type /Page``
    object is a page, and with more than one it must agree with the page tree's ``/Count``.
    """
    if b"/ObjStm" in data:
        return None
    revisions = data.count(b"startxref")
    linearized = b"/Linearized" in data[:2048]
    if revisions != 1 and not (linearized and revisions == 2):
        return None
    pages = len(_PAGE.findall(data))
    if pages == 0:
        return None
    if pages == 1:
        return 1
    counts = {int(a or b) for a, b in _PAGES_COUNT.findall(data)}
    return pages if pages in counts else None


def count_pages(data: bytes) -> int | None:
    """How many pages the PDF has, or None when it cannot be read locally (then it is sent
    as it is and the API decides, as before page support)."""
    found = _scan(data)
    if found is not None:
        return found
    try:
        reader = _reader(data)
        return len(reader.pages) or None
    except Exception:  # noqa: BLE001 - any parse error: not certain, so not refused here
        return None


class _View(io.RawIOBase):
    """The PDF's bytes as a read-only stream. A BytesIO would do, but pypdf asks it for its
    buffer to learn its size, and that makes the BytesIO copy the whole file."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), len(self._view) - self._pos))
        buffer[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _reader(data: bytes) -> Any:
    from pypdf import PdfReader

    return PdfReader(io.BufferedReader(_View(data)), strict=False)


class Splitter:
    """Splits pages out of one PDF, parsing it once. pypdf's reader is not safe to share
    between threads, and splitting is CPU work anyway: one page at a time."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._reader: Any = None
        self._lock = threading.Lock()

    def page(self, number: int) -> tuple[bytes, dict[str, Any]]:
        """Page ``number`` (1-based) as a one-page PDF, with what was sent
        (``{"format": "pdf", "width", "height", "scale"}``; sides in PDF points)."""
        from pypdf import PdfWriter

        with self._lock:
            try:
                if self._reader is None:
                    self._reader = _reader(self._data)
                source = self._reader.pages[number - 1]
                writer = PdfWriter()
                writer.add_page(source)
                out = io.BytesIO()
                writer.write(out)
                # pypdf keeps every object it resolved; a page's are not needed again, and
                # keeping them would hold the whole document parsed by the last page
                cache = getattr(self._reader, "resolved_objects", None)
                if isinstance(cache, dict):
                    cache.clear()
            except IndexError:
                raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE",
                                      f"the PDF has no page {number}") from None
            except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
                raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE",
                                      f"page {number} could not be split out of the PDF "
                                      f"({type(exc).__name__})") from None
            box = source.mediabox
        return out.getvalue(), {"format": "pdf", "width": round(float(box.width)),
                                "height": round(float(box.height)), "scale": 1.0}
