"""An upload made ready for the API: what each call sends.

Users upload documents, not API-shaped inputs. :func:`prepare` turns the bytes of one upload
into one call (an image, a one-page PDF) or one call per page (a longer PDF), and refuses —
with an ``OCRFLOW.*`` code, before anything is paid — only what no call could read:

* a PDF of more than one page is read page by page: by the API's page field
  (``pdf_page_number``, ``page_num``) where it has one and the whole file is small
  (:data:`PAGE_NUMBER_MAX_BYTES`), otherwise by sending each page alone as a one-page PDF
  split out locally. Sending a large file once per page
  would upload it N times and hold a copy of it per concurrent call; its pages alone are
  about 1/N of it each;
* a PDF longer than ``OCR_MAX_PDF_PAGES`` is refused before any call;
* a page that cannot be split out (a broken structure, or more objects than
  :data:`~ocrflow.documents.pdf.PDF_MAX_OBJECTS`) is read by the API's page field from the whole file
  when the API has one and takes the file's size; otherwise the document ends in a coded
  failure (``OCRFLOW.PDF_UNREADABLE``, ``OCRFLOW.DECODE_LIMIT``), since no call could read
  that page;
* an image the API would refuse for its bytes, sides or format is fitted (:mod:`ocrflow.documents.fit`)
  when ``OCR_FIT_IMAGES`` is on.

Parts are produced on demand, so a 50-page document never holds 50 bodies at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.errors import FailureError
from ..provider.catalogue import ApiLimits, Catalogue
from . import filecheck, pdf

#: Below this size a multi-page PDF is sent whole with its page number (no split, no
#: pypdf); above it, page by page. 1 MiB keeps eight concurrent page calls near the memory
#: of one largest image.
PAGE_NUMBER_MAX_BYTES = 1 << 20
#: The largest upload ocrflow downloads at all: beyond the API's own limit a file can still
#: be fitted (a photo) or split (a PDF); this bounds the memory of doing so.
MAX_DOCUMENT_BYTES = 64 << 20
#: The refusals that fitting can cure (too small, unreadable, PDF or SVG never can).
FITTABLE = frozenset({"OCRFLOW.FILE_TOO_LARGE", "OCRFLOW.IMAGE_DIMENSIONS",
                      "OCRFLOW.UNSUPPORTED_FORMAT"})


@dataclass(frozen=True)
class Part:
    """One call: the file bytes to send, extra body fields, and what ocrflow changed."""

    page: int | None  # 1-based page of a multi-page document; None for a one-call upload
    data: bytes
    options: dict[str, Any] = field(default_factory=dict)
    #: {"format", "width", "height", "scale"} when ocrflow changed the file, else None
    input: dict[str, Any] | None = None


class Document:
    """A prepared upload. ``pages_total`` is None for a one-call upload (an image, a PDF of
    one page): its message keeps the single ``result`` shape."""

    def __init__(self, api: ApiLimits, catalogue: Catalogue, pages_total: int | None, *,
                 data: bytes = b"", single: Part | None = None,
                 by_page_number: bool | None = None) -> None:
        self.api, self.catalogue = api, catalogue
        self.pages_total = pages_total
        self._data = data  # a multi-page PDF's bytes; a one-call document keeps only its part
        self._single = single
        self._splitter: Any = None
        if by_page_number is None:
            by_page_number = api.page_picker is not None and len(data) <= PAGE_NUMBER_MAX_BYTES
        #: each page read by the API's page field from the whole file, not split out
        self.by_page_number = pages_total is not None and by_page_number
        if pages_total is not None and not self.by_page_number:
            self._splitter = pdf.Splitter(data)

    @property
    def calls(self) -> int:
        return self.pages_total or 1

    @property
    def whole_file_readable(self) -> bool:
        """Whether the API can read any page from the whole file (its page field, the file
        within its size limit): the way round a page that cannot be split out."""
        return self.api.page_picker is not None and len(self._data) <= self.catalogue.max_file_bytes

    def close(self) -> None:
        """Lets go of the file and of what was parsed from it, once every page is sent."""
        if self._splitter is not None:
            self._splitter.close()
            self._splitter = None
        self._data = b""

    def take(self) -> Part:
        """A one-call document's part, let go of (so its bytes can be freed once sent)."""
        part, self._single = self._single, None
        if part is None:
            raise ValueError("not a one-call document, or already taken")
        return part

    def part(self, page: int | None = None) -> Part:
        """What the call for ``page`` sends (``None`` for a one-call upload). Raises
        :class:`FailureError` for a split page the API would still refuse (too large)."""
        if self.pages_total is None:
            assert self._single is not None  # noqa: S101 - set for every one-call document
            return self._single
        if page is None or not 1 <= page <= self.pages_total:
            raise ValueError(f"page {page} of {self.pages_total}")
        field = self.api.page_picker
        if self.by_page_number and field is not None:
            return Part(page, self._data, {field: page})
        try:
            data, sent = self._splitter.page(page)
        except FailureError:
            if field is None or not self.whole_file_readable:
                raise
            return Part(page, self._data, {field: page})  # the API may still read it
        if len(data) > self.catalogue.max_file_bytes:
            raise FailureError.of(
                "OCRFLOW.FILE_TOO_LARGE",
                f"page {page} alone is {len(data):,} bytes; {self.api.name} takes at most "
                f"{self.catalogue.max_file_bytes:,} bytes")
        return Part(page, data, {}, sent)


#: What a request body costs in memory per byte of file sent: its base64, the JSON body
#: around it and the bytes the HTTP client sends (measured: a fitted 11.6 MB photo holds
#: ~46 MB while called, a 63 MB scanned PDF ~90 MB while its pages are).
BODY_BYTES_PER_FILE_BYTE = 3
#: What the process holds beside the records of a batch: the interpreter and the libraries
#: (~50 MB measured after the import) and the one image being decoded at a time (its own
#: budget, :data:`ocrflow.documents.fit.FIT_MEMORY_BUDGET`).
BASE_MEMORY_BYTES = 64 << 20
#: The pages of one document may always have this much in flight: eight pages of a small
#: PDF read by page number at once (the invocation's call slots bound them anyway).
PAGES_MEMORY_FLOOR = 8 * BODY_BYTES_PER_FILE_BYTE * PAGE_NUMBER_MAX_BYTES


def records_memory(memory_mb: int) -> int:
    """What the records in flight in one process may hold together, in a function of
    ``memory_mb`` MB: the rest is the interpreter's and the one decoding's, and at least a
    quarter of it (a small function still runs a few small records at once)."""
    from .fit import FIT_MEMORY_BUDGET

    memory = memory_mb << 20
    return max(memory // 4, memory - BASE_MEMORY_BYTES - FIT_MEMORY_BUDGET)


def body_memory(sent: int) -> int:
    """What one call holds for a file part of ``sent`` bytes."""
    return BODY_BYTES_PER_FILE_BYTE * sent


def bodies_memory(size: int, catalogue: Catalogue) -> int:
    """What the calls of one upload of ``size`` bytes hold: as much as one call sending as
    much as the API takes."""
    return body_memory(min(size, catalogue.max_file_bytes))


def pages_memory(size: int, catalogue: Catalogue) -> int:
    """What the page calls of one document of ``size`` bytes may hold together."""
    return max(bodies_memory(size, catalogue), PAGES_MEMORY_FLOOR)


def memory_estimate(size: int, catalogue: Catalogue) -> int:
    """What one record holds at most, reserved before its object is read: the file, and the
    request bodies made of it (a fitted photo or a page is at most what the API takes).
    Decoding a photo is bounded apart, by its own budget."""
    return size + bodies_memory(size, catalogue)


def max_download_bytes(api: ApiLimits, catalogue: Catalogue, *, fit_images: bool = True) -> int:
    """The most ocrflow reads of one object for ``api``, whatever size its event announced:
    what may still be fitted or split, up to :data:`MAX_DOCUMENT_BYTES`; else the API's own
    limit (the same decision as :func:`check_size`)."""
    if not fit_images and "pdf" not in api.formats:
        return catalogue.max_file_bytes
    return MAX_DOCUMENT_BYTES


def check_size(size: int, api: ApiLimits, catalogue: Catalogue, *, fit_images: bool = True) -> None:
    """Refuses by size alone, before downloading: what can be neither fitted nor split."""
    if not fit_images and "pdf" not in api.formats:
        filecheck.check_size(size, api, catalogue)  # nothing can make it smaller
    if size > MAX_DOCUMENT_BYTES:
        raise FailureError.of(
            "OCRFLOW.FILE_TOO_LARGE",
            f"{size:,} bytes; ocrflow downloads at most {MAX_DOCUMENT_BYTES:,} bytes to fit or "
            f"split, and {api.name} takes at most {catalogue.max_file_bytes:,} bytes per call")


def prepare(data: bytes, api: ApiLimits, catalogue: Catalogue, *, fit_images: bool = True,
            max_pdf_pages: int = 50, every_page: bool = True) -> Document:
    """Decides what is sent for ``data``; raises :class:`FailureError` for what no call
    could read. Nothing here calls the API. ``every_page=False`` (a route that names the
    page itself) sends a PDF as it is, in one call."""
    if not data:
        raise FailureError.of("OCRFLOW.EMPTY_OBJECT", "the object is empty (0 bytes)")
    check_size(len(data), api, catalogue, fit_images=fit_images)
    kind = filecheck.sniff_format(data)
    if every_page and kind == "pdf" and api.takes_pdf and not filecheck.pdf_encrypted(data):
        pages = _pdf_pages(data, max_pdf_pages)
        if pages is not None and pages > 1:
            return _paged(data, api, catalogue, pages)
    try:
        filecheck.check(data, api, catalogue)
        return Document(api, catalogue, None, single=Part(None, data))
    except FailureError as refusal:
        if kind == "pdf" and refusal.failure.code == "OCRFLOW.FILE_TOO_LARGE" and every_page:
            over = pdf.over_budget(data)
            if over is not None:  # its pages could not even be counted to be split
                raise FailureError.of("OCRFLOW.DECODE_LIMIT",
                                      f"{refusal.failure.message}; the PDF is not split into "
                                      f"pages: it has {over}") from None
        if not fit_images or refusal.failure.code not in FITTABLE or kind in ("pdf", "svg"):
            raise  # PDF and SVG have no raster to fit: no renderer ships with the function
        from .fit import fit

        fitted = fit(data, api, catalogue, refusal)
    filecheck.check(fitted.data, api, catalogue)  # what is sent is checked like an upload
    return Document(api, catalogue, None, single=Part(None, fitted.data, {}, fitted.input))


def _paged(data: bytes, api: ApiLimits, catalogue: Catalogue, pages: int) -> Document:
    """A document of ``pages`` pages: split locally, or read by the API's page field."""
    if api.page_picker is not None and len(data) <= PAGE_NUMBER_MAX_BYTES:
        return Document(api, catalogue, pages, data=data, by_page_number=True)
    over = pdf.over_budget(data)
    if over is None:
        return Document(api, catalogue, pages, data=data, by_page_number=False)
    if api.page_picker is not None and len(data) <= catalogue.max_file_bytes:
        # not split here, but every page can still be read from the whole file
        return Document(api, catalogue, pages, data=data, by_page_number=True)
    whole = (f"{api.name} reads one page of a file only" if api.page_picker is None else
             f"{api.name} takes at most {catalogue.max_file_bytes:,} bytes, the file is {len(data):,}")
    raise FailureError.of("OCRFLOW.DECODE_LIMIT",
                          f"the PDF has {pages} pages and {over}, so its pages are not split out; "
                          f"{whole}")


def _pdf_pages(data: bytes, max_pages: int) -> int | None:
    pages = pdf.count_pages(data)
    if pages is not None and pages > max_pages:
        raise FailureError.of(
            "OCRFLOW.PDF_TOO_MANY_PAGES",
            f"the PDF has {pages} pages; OCR_MAX_PDF_PAGES={max_pages} (each page is one call)")
    return pages
