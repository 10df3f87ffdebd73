"""PDF pages: counted before anything is paid for, and one page split out when it must
travel alone.

The OCR APIs read one page per call. Counting is a scan of the bytes for the common case
(one revision, no compressed object streams), which needs no library; any file the scan is
not sure about is opened with pypdf, a pure-Python library that is imported only then. A
page is split out with pypdf as well, so a one-page upload never imports it.

pypdf holds every object of the cross-reference table (~250 bytes each) and every object a
page reaches when it is split out (~1.4 KB each), so a PDF is parsed only when it has at
most :data:`PDF_MAX_OBJECTS` objects, counted from the bytes first (``endobj`` keywords and
the ``/N`` of each object stream): 100,000 objects a page reaches took 144 MB to split, and
a 60 MB file of 1.4 million objects is not parsed at all.
"""

from __future__ import annotations

import gc
import io
import re
import threading
from typing import Any

from ..core.errors import FailureError

#: The most objects a PDF may have to be parsed with pypdf (to count or split its pages).
PDF_MAX_OBJECTS = 100_000

_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z0-9])")
_OBJSTM_N = re.compile(rb"/N\s+(\d{1,12})")
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
    pages = sum(1 for _ in _PAGE.finditer(data))  # counted, not listed: a file may hold millions
    if pages == 0:
        return None
    if pages == 1:
        return 1
    counts = {int(m.group(1) or m.group(2)) for m in _PAGES_COUNT.finditer(data)}
    return pages if pages in counts else None


def objects(data: bytes, stop_above: int | None = None) -> int:
    """How many objects pypdf would index: the indirect objects in the file body (their
    ``endobj``) and those packed in object streams (each stream's ``/N``). Counting stops
    once over ``stop_above``."""
    found = data.count(b"endobj")
    at = data.find(b"/ObjStm")
    while at >= 0 and (stop_above is None or found <= stop_above):
        start = data.rfind(b"<<", max(0, at - 1024), at)  # the dictionary around /ObjStm
        end = data.find(b">>", at, at + 1024)
        count = _OBJSTM_N.search(data, start, end) if start >= 0 and end >= 0 else None
        found += int(count.group(1)) if count else 0
        at = data.find(b"/ObjStm", at + 7)
    return found


def over_budget(data: bytes) -> str | None:
    """Why the PDF is not parsed locally (too many objects), or None when it may be."""
    count = objects(data, stop_above=PDF_MAX_OBJECTS)
    if count <= PDF_MAX_OBJECTS:
        return None
    return f"at least {count:,} objects; ocrflow parses PDFs of at most {PDF_MAX_OBJECTS:,}"


def count_pages(data: bytes) -> int | None:
    """How many pages the PDF has, or None when it cannot be read locally (then it is sent
    as it is and the API decides, as before page support)."""
    found = _scan(data)
    if found is not None:
        return found
    if not 0 < objects(data, stop_above=PDF_MAX_OBJECTS) <= PDF_MAX_OBJECTS:
        return None  # no object to find pages in, or too many to parse
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

    def close(self) -> None:
        """Lets go of the file and everything parsed from it, at once: pypdf's reader and
        writers are cycles of objects, which only the cyclic collector frees — a 60 MB scan
        would otherwise stay in memory after its last page, one more per document."""
        with self._lock:
            self._reader, self._data = None, b""
        gc.collect()

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
                box = source.mediabox
                width, height = round(float(box.width)), round(float(box.height))
            except IndexError:
                raise FailureError.of("OCRFLOW.PDF_UNREADABLE",
                                      f"the PDF has no page {number}") from None
            except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
                raise FailureError.of("OCRFLOW.PDF_UNREADABLE",
                                      f"page {number} could not be split out of the PDF "
                                      f"({type(exc).__name__})") from None
        return out.getvalue(), {"format": "pdf", "width": width, "height": height, "scale": 1.0}
