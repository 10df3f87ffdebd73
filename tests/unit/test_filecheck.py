"""What the API would refuse is refused locally, from the bytes, without decoding pixels."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from ocrflow.core.errors import FailureError
from ocrflow.documents import filecheck
from ocrflow.provider import catalogue

CAT = catalogue.load()
TEXT = CAT.apis["general-text"]
CARD = CAT.apis["id-card"]


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


def jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, "JPEG")
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def pdf_file(trailer_extra: bytes = b"") -> bytes:
    head = b"%PDF-1.4\n"
    obj = b"1 0 obj<</Type/Catalog>>endobj\n"
    xref = len(head) + len(obj)
    return (head + obj + b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % len(head)
            + b"trailer<</Size 2/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n" % (trailer_extra, xref))


def code_of(data: bytes, api: catalogue.ApiLimits = TEXT) -> str | None:
    try:
        filecheck.check(data, api, CAT)
    except FailureError as exc:
        return exc.failure.code
    return None


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_formats_and_dimensions_are_read_from_headers(fmt: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (321, 123), "white").save(buf, fmt)
    facts = filecheck.inspect(buf.getvalue())
    assert (facts.width, facts.height) == (321, 123)
    assert code_of(buf.getvalue()) is None


def test_huge_dimensions_checked_from_the_header_alone() -> None:
    data = png_header_only(20000, 20000)
    assert len(data) < 100
    assert code_of(data) == "OCRFLOW.IMAGE_DIMENSIONS"  # 4×10⁸ px > 1.6×10⁸


def test_card_apis_have_tighter_sides() -> None:
    assert code_of(png(9000, 100), CARD) == "OCRFLOW.IMAGE_DIMENSIONS"
    assert code_of(png(9000, 100), TEXT) is None


@pytest.mark.parametrize("data, code", [
    (b"", "OCRFLOW.EMPTY_OBJECT"),
    (b"just some text pretending to be a jpg", "OCRFLOW.UNSUPPORTED_FORMAT"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "OCRFLOW.UNSUPPORTED_FORMAT"),
    (png(1, 1), "OCRFLOW.IMAGE_DIMENSIONS"),
])
def test_local_refusals(data: bytes, code: str) -> None:
    assert code_of(data) == code


def test_a_missing_header_is_unreadable_but_a_damaged_body_is_sent() -> None:
    # no decoder reads a PNG without IHDR or a JPEG without a frame header: certain
    assert code_of(png(200, 200)[:20]) == "OCRFLOW.IMAGE_UNREADABLE"
    assert code_of(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "OCRFLOW.IMAGE_UNREADABLE"
    # a cut-off body may still decode (libjpeg fills the rest): not certain, so the API decides
    assert code_of(png(200, 200)[:-20]) is None
    assert code_of(jpeg(200, 200)[:-200]) is None


def test_pdf_only_where_the_api_takes_it_and_never_encrypted() -> None:
    assert code_of(pdf_file(), CARD) == "OCRFLOW.UNSUPPORTED_FORMAT"
    assert code_of(pdf_file(), CAT.apis["mvs-invoice"]) is None
    assert code_of(pdf_file(b"/Encrypt 5 0 R"), CAT.apis["mvs-invoice"]) == "OCRFLOW.IMAGE_UNREADABLE"


def test_size_limit_is_the_base64_limit() -> None:
    with pytest.raises(FailureError) as err:
        filecheck.check_size(CAT.max_file_bytes + 1, TEXT, CAT)
    assert err.value.failure.code == "OCRFLOW.FILE_TOO_LARGE"
    filecheck.check_size(CAT.max_file_bytes, TEXT, CAT)
