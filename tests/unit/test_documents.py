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

from ocrflow import catalogue, documents, pdf
from ocrflow.errors import FailureError

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
        "from ocrflow import catalogue, documents\n"
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
