"""Uploads made ready for the API: PDF pages counted and split locally, photos fitted to the
API's limits — and the common path left alone (no image or PDF library imported)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import tomllib
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from ocrflow import documents
from ocrflow.core.errors import FailureError
from ocrflow.documents import pdf
from ocrflow.provider import catalogue

ROOT = Path(__file__).resolve().parents[2]
CAT = catalogue.load()
TEXT = CAT.apis["general-text"]
CARD = CAT.apis["id-card"]
INVOICE = CAT.apis["mvs-invoice"]  # takes PDF, reads page 1 only (no pdf_page_number)
COLOURS = ["red", "green", "blue", "yellow", "magenta"]


def pdf_of(pages: int, noise_kb: int = 0) -> bytes:
    """A PDF whose page N is filled with COLOURS[N-1] (optionally with an incompressible
    strip, to make the file large)."""
    images = []
    side = int((noise_kb * 1024 / 3) ** 0.5)
    for i in range(pages):
        img = Image.new("RGB", (max(300, side), max(400, side + 100)), COLOURS[i % len(COLOURS)])
        if noise_kb:
            img.paste(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), (0, 0))
        images.append(img)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], quality=95)
    return buf.getvalue()


def colour_of(pdf_bytes: bytes, page: int = 1) -> tuple[int, int, int]:
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        image = doc[page - 1].render(scale=0.5).to_pil().convert("RGB")
    finally:
        doc.close()
    return image.getpixel((image.width - 2, image.height - 2))  # type: ignore[return-value]


def encoded(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def refused(data: bytes, api: catalogue.ApiLimits = TEXT, **options: Any) -> str:
    """The code ``prepare`` refuses ``data`` with."""
    with pytest.raises(FailureError) as info:
        documents.prepare(data, api, CAT, **options)
    return info.value.failure.code


# --- counting -----------------------------------------------------------------------------
@pytest.mark.parametrize("pages", [1, 2, 7])
def test_pages_are_counted_from_the_bytes(pages: int) -> None:
    data = pdf_of(pages)
    assert pdf._scan(data) == pages  # no library needed for a plain one-revision file
    assert pdf.count_pages(data) == pages


def test_a_revised_pdf_is_counted_by_the_pdf_library_not_the_scan() -> None:
    # an incremental update appends a page: a byte scan cannot be sure which objects count
    writer = PdfWriter(io.BytesIO(pdf_of(3)), incremental=True)
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    revised = out.getvalue()
    assert pdf._scan(revised) is None
    assert pdf.count_pages(revised) == 4 == len(PdfReader(io.BytesIO(revised)).pages)


def test_an_unreadable_pdf_is_not_counted_so_it_is_sent_whole() -> None:
    assert pdf.count_pages(b"%PDF-1.7\n garbage without objects") is None
    doc = documents.prepare(b"%PDF-1.7\n garbage without objects", TEXT, CAT)
    assert doc.pages_total is None and doc.part().data.startswith(b"%PDF")


def test_a_one_page_pdf_or_a_plain_image_imports_no_image_or_pdf_library() -> None:
    code = textwrap_code = (
        "import sys, io, json\n"
        "from ocrflow import documents\n"
        "from ocrflow.provider import catalogue\n"
        "cat = catalogue.load()\n"
        f"one_page = bytes.fromhex({pdf_of(1).hex()!r})\n"
        f"png = bytes.fromhex({encoded(Image.new('L', (64, 32), 255), 'PNG').hex()!r})\n"
        "for data in (one_page, png):\n"
        "    doc = documents.prepare(data, cat.apis['general-text'], cat)\n"
        "    assert doc.pages_total is None and doc.part().data == data\n"
        "print(json.dumps([m for m in ('PIL', 'pypdf', 'pillow_heif') if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", textwrap_code], env={**os.environ,
                         "PYTHONPATH": str(ROOT / "shared")}, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], code


# --- pages ----------------------------------------------------------------------------------
def test_a_small_pdf_is_read_by_page_number_where_the_api_takes_it() -> None:
    data = pdf_of(3)
    doc = documents.prepare(data, TEXT, CAT)
    assert doc.pages_total == 3 and doc.by_page_number
    parts = [doc.part(n) for n in (1, 2, 3)]
    assert [p.options for p in parts] == [{"pdf_page_number": n} for n in (1, 2, 3)]
    assert all(p.data is data and p.input is None for p in parts)  # the file as uploaded


def test_pages_are_split_out_for_an_api_without_page_numbers() -> None:
    data = pdf_of(3)
    doc = documents.prepare(data, INVOICE, CAT)
    assert doc.pages_total == 3 and not doc.by_page_number
    for n in (1, 2, 3):
        part = doc.part(n)
        assert part.options == {} and pdf.count_pages(part.data) == 1
        assert part.input == {"format": "pdf", "width": 300, "height": 400, "scale": 1.0}
        assert colour_of(part.data) == colour_of(data, n)  # that page, and only that page


def test_a_large_pdf_is_split_even_where_page_numbers_are_taken() -> None:
    data = pdf_of(3, noise_kb=1200)
    assert len(data) > documents.PAGE_NUMBER_MAX_BYTES
    doc = documents.prepare(data, TEXT, CAT)
    assert doc.pages_total == 3 and not doc.by_page_number
    sizes = [len(doc.part(n).data) for n in (1, 2, 3)]
    assert all(size < len(data) / 2 for size in sizes)  # each page carries its own content only


def test_a_multi_page_pdf_over_the_body_limit_is_sent_page_by_page() -> None:
    data = pdf_of(4, noise_kb=5000)
    assert len(data) > CAT.max_file_bytes
    doc = documents.prepare(data, TEXT, CAT)
    assert doc.pages_total == 4
    assert all(len(doc.part(n).data) <= CAT.max_file_bytes for n in range(1, 5))


def test_a_one_page_pdf_over_the_limit_is_still_refused() -> None:
    data = pdf_of(1, noise_kb=21000)
    assert refused(data, TEXT) == "OCRFLOW.FILE_TOO_LARGE"


def test_a_pdf_longer_than_the_page_limit_is_refused_before_any_call() -> None:
    data = pdf_of(5)
    assert documents.prepare(data, TEXT, CAT, max_pdf_pages=5).pages_total == 5
    with pytest.raises(FailureError) as info:
        documents.prepare(data, TEXT, CAT, max_pdf_pages=4)
    assert info.value.failure.code == "OCRFLOW.PDF_TOO_MANY_PAGES"
    assert "5 pages" in info.value.failure.message and "OCR_MAX_PDF_PAGES=4" in info.value.failure.message


def test_a_pdf_routed_to_an_api_without_pdf_input_is_refused_as_before() -> None:
    assert refused(pdf_of(3), CARD) == "OCRFLOW.UNSUPPORTED_FORMAT"


# --- fitting ----------------------------------------------------------------------------------
def test_an_oversized_jpeg_is_fitted_under_the_body_limit() -> None:
    noise = Image.frombytes("RGB", (3600, 2700), os.urandom(3600 * 2700 * 3))
    data = encoded(noise, "JPEG", quality=97)
    assert len(data) > CAT.max_file_bytes
    doc = documents.prepare(data, TEXT, CAT)
    part = doc.part()
    assert len(part.data) <= CAT.max_file_bytes and part.data.startswith(b"\xff\xd8\xff")
    sent = Image.open(io.BytesIO(part.data))
    assert part.input == {"format": "jpg", "width": sent.width, "height": sent.height,
                          "scale": pytest.approx(sent.width / 3600, abs=1e-5)}
    assert sent.height == pytest.approx(2700 * part.input["scale"], abs=1)
    assert refused(data, TEXT, fit_images=False) == "OCRFLOW.FILE_TOO_LARGE"


def test_an_over_wide_scan_is_scaled_to_the_card_apis_longest_side() -> None:
    scan = Image.new("L", (9000, 1500), 255)
    ImageDraw.Draw(scan).rectangle((0, 0, 900, 150), fill=0)
    data = encoded(scan, "PNG")
    assert refused(data, CARD, fit_images=False) == "OCRFLOW.IMAGE_DIMENSIONS"
    part = documents.prepare(data, CARD, CAT).part()
    sent = Image.open(io.BytesIO(part.data))
    assert sent.size == (CARD.max_side, 1365) and sent.format == "JPEG"
    assert part.input == {"format": "jpg", "width": 8192, "height": 1365, "scale": pytest.approx(8192 / 9000)}
    assert sent.getpixel((400, 60)) < 40 and sent.getpixel((2000, 600)) > 215  # the content kept


def test_a_heic_photo_is_converted_and_its_orientation_applied() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    stored = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(stored).rectangle((0, 0, 60, 60), fill="black")  # top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise
    data = encoded(stored, "HEIF", quality=90, exif=exif.tobytes())
    assert data[4:12] == b"ftypheic"
    assert refused(data, TEXT, fit_images=False) == "OCRFLOW.UNSUPPORTED_FORMAT"
    part = documents.prepare(data, TEXT, CAT).part()
    sent = Image.open(io.BytesIO(part.data)).convert("L")
    assert part.input == {"format": "jpg", "width": 200, "height": 400, "scale": 1.0}
    assert sent.size == (200, 400)
    assert sent.getpixel((185, 15)) < 60 and sent.getpixel((15, 15)) > 200  # now top-right


def test_formats_a_card_api_refuses_are_converted_with_transparency_on_white() -> None:
    mark = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(mark).rectangle((10, 10, 100, 100), fill=(0, 0, 0, 255))
    for fmt in ("WEBP", "GIF"):
        data = encoded(mark if fmt == "WEBP" else mark.convert("P"), fmt)
        part = documents.prepare(data, CARD, CAT).part()
        sent = Image.open(io.BytesIO(part.data)).convert("L")
        assert part.input is not None and part.input["format"] == "jpg"
        assert sent.getpixel((50, 50)) < 60, fmt
        assert fmt == "GIF" or sent.getpixel((250, 150)) > 200  # transparent became white


def test_what_fitting_cannot_cure_keeps_its_refusal() -> None:
    strip = encoded(Image.new("L", (9000, 10), 255), "PNG")  # shorter side under 15 px
    assert refused(strip, CARD) == "OCRFLOW.IMAGE_DIMENSIONS"
    tiny = encoded(Image.new("L", (10, 10), 255), "PNG")
    assert refused(tiny, TEXT) == "OCRFLOW.IMAGE_DIMENSIONS"
    assert refused(b"<svg xmlns='http://www.w3.org/2000/svg'/>", CARD) == "OCRFLOW.UNSUPPORTED_FORMAT"
    assert refused(b"plain text, no image") == "OCRFLOW.UNSUPPORTED_FORMAT"
    no_header = encoded(Image.new("RGB", (200, 100), "white"), "PNG")[:20]
    assert refused(no_header, CARD) == "OCRFLOW.IMAGE_UNREADABLE"


def test_an_image_within_limits_is_sent_unchanged() -> None:
    data = encoded(Image.new("RGB", (640, 480), "white"), "JPEG")
    part = documents.prepare(data, CARD, CAT).part()
    assert part.data is data and part.input is None


def test_a_file_too_large_even_to_fit_is_refused_before_download() -> None:
    with pytest.raises(FailureError) as info:
        documents.check_size(documents.MAX_DOCUMENT_BYTES + 1, TEXT, CAT)
    assert info.value.failure.code == "OCRFLOW.FILE_TOO_LARGE"
    documents.check_size(30 * 1024 * 1024, TEXT, CAT)  # a 30 MB photo is downloaded and fitted


# --- packaging --------------------------------------------------------------------------------
def test_the_function_packages_carry_the_documents_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[]", d)[0].lower() for d in extras["documents"]}
    assert names == {"pillow", "pillow-heif", "pypdf"}
    layer = {re.split(r"[<>=\[]", line)[0].lower() for line in
             (ROOT / "shared" / "requirements.txt").read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")}
    assert names <= layer  # the Lambda layer is built from shared/requirements.txt
    script = (ROOT / "scripts" / "package_functiongraph.sh").read_text("utf-8")
    assert re.search(r"EXTRAS=\$\{EXTRAS-[\w,]*documents", script)


# --- memory bounded by design ------------------------------------------------------------
def test_an_image_whose_decode_is_beyond_the_budget_is_refused_before_decoding() -> None:
    from tests.support import hostile

    for data, figures in ((hostile.png(13000, 13000), "13000×13000 RGBA"),
                          (hostile.png(13000, 13000, bit_depth=16, colour_type=0), "13000×13000 I;16")):
        with pytest.raises(FailureError) as info:
            documents.prepare(data, TEXT, CAT)
        failure = info.value.failure
        assert failure.code == "OCRFLOW.DECODE_LIMIT"
        assert figures in failure.message and "over the 176 MiB" in failure.message, failure.message
        assert failure.message.startswith("image is 13000×13000; general-text takes")


def test_an_image_within_the_budget_is_fitted_as_large_as_the_budget_allows() -> None:
    from ocrflow.documents import fit
    from tests.support import hostile

    # 27 megapixels of palette: its RGB copy alone takes 108 MB, so the card's full 8192 px
    # would not fit beside it; the largest size that does is sent
    data = hostile.png(9000, 3000, colour_type=3)
    part = documents.prepare(data, CARD, CAT).part()
    assert part.input is not None and part.input["format"] == "jpg"
    width, height = part.input["width"], part.input["height"]
    assert 6000 < width < CARD.max_side and height == pytest.approx(width / 3, abs=2)
    pixels = 9000 * 3000
    assert len(data) + pixels * 4 + width * height * 4 + 3 * fit.RESIZE_STRIP_BYTES <= fit.FIT_MEMORY_BUDGET


def _two_page_pdf(page_two: bytes, pad: int = 0) -> bytes:
    """Page 1 plain, page 2 as given; ``pad`` bytes of an unused stream make the file large."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>", page_two,
               b"<< /Length %d >>\nstream\n" % pad + b"\x00" * pad + b"\nendstream"]
    out, offsets = b"%PDF-1.7\n", []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_a_page_that_cannot_be_split_out_is_read_by_page_number_or_ends_coded() -> None:
    # page 2's MediaBox is not a rectangle: pypdf cannot tell its size
    data = _two_page_pdf(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1e999 792] >>",
                         pad=documents.PAGE_NUMBER_MAX_BYTES)
    doc = documents.prepare(data, TEXT, CAT)  # too large to be sent whole per page at first
    assert doc.pages_total == 2 and not doc.by_page_number
    assert doc.part(1).input is not None  # split out
    fallback = doc.part(2)  # the API reads it from the whole file, which it takes
    assert fallback.data is data and fallback.options == {"pdf_page_number": 2}
    doc = documents.prepare(data, INVOICE, CAT)  # reads page 1 of a file only
    with pytest.raises(FailureError) as info:
        doc.part(2)
    assert info.value.failure.code == "OCRFLOW.PDF_UNREADABLE"
    assert info.value.failure.message.startswith("page 2 could not be split out")


def test_a_pdf_of_more_objects_than_ocrflow_parses_is_never_parsed() -> None:
    from tests.support import hostile

    data = hostile.many_objects_pdf(150_000, referenced=False)  # 6 MB: the API takes it whole
    assert pdf.objects(data) > pdf.PDF_MAX_OBJECTS and len(data) <= CAT.max_file_bytes
    doc = documents.prepare(data, TEXT, CAT)
    assert doc.pages_total == 2 and doc.by_page_number  # every page read from the whole file
    assert [doc.part(n).options for n in (1, 2)] == [{"pdf_page_number": 1}, {"pdf_page_number": 2}]
    with pytest.raises(FailureError) as info:
        documents.prepare(data, INVOICE, CAT)  # one page of a file only: no call reads page 2
    failure = info.value.failure
    assert failure.code == "OCRFLOW.DECODE_LIMIT"
    assert "at least 150,005 objects" in failure.message and "at most 100,000" in failure.message


def test_objects_are_counted_in_object_streams_too() -> None:
    # objects packed in a compressed object stream have no "endobj" of their own
    packed = (b"%PDF-1.7\n7 0 obj\n<< /Type /ObjStm /N 5000 /First 40000 /Length 0 >>\nstream\n\n"
              b"endstream\nendobj\n8 0 obj\n<< /N 3 /Type /ObjStm >>\nstream\n\nendstream\nendobj\n")
    assert pdf.objects(packed) == 2 + 5000 + 3


def test_a_tiff_directory_of_too_many_numbers_is_refused_before_it_is_read() -> None:
    from tests.support import hostile

    data = hostile.tiff_tag_flood(2_000_000)  # 8 MB, over the body limit: it would be fitted
    with pytest.raises(FailureError) as info:
        documents.prepare(data, TEXT, CAT)
    assert info.value.failure.code == "OCRFLOW.DECODE_LIMIT"
    assert "2,000,000 numbers of its TIFF tag 273" in info.value.failure.message
