"""Local refusals that must be certain: PDF encryption read from the cross-reference
structure, JPEG headers found through padding, OFD recognized, unusual headers read."""

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


def pdf_with_xref_stream(encrypt: bool, filler: int = 3 * 1024 * 1024) -> bytes:
    """A PDF 1.5 whose cross-reference *stream* (which carries the trailer keys) sits in
    the middle of the file: a large content stream follows it, and startxref points back."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = [len(out)]
    out += b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    offsets.append(len(out))
    out += b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    out += b"%" + b" " * filler + b"\n"  # far from the start
    xref_at = len(out)
    rows = b"".join(struct.pack(">BIH", 1, o, 0) for o in [0, *offsets])
    rows = struct.pack(">BIH", 0, 0, 65535) + rows[7:]
    data = zlib.compress(rows)
    extra = b"/Encrypt 4 0 R/ID[<00><00>]" if encrypt else b""
    out += (b"3 0 obj<</Type/XRef/Size 4/W[1 4 2]/Root 1 0 R%s/Filter/FlateDecode/Length %d>>stream\n"
            % (extra, len(data)) + data + b"\nendstream endobj\n")
    out += b"4 0 obj<</Subtype/Image/Length 0>>stream\n" + b"\x00" * filler + b"\nendstream endobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at  # far from the end: the large stream is after
    return bytes(out)


def classic_pdf(trailer: bytes, *, update: bytes | None = None) -> bytes:
    head = b"%PDF-1.4\n"
    obj = b"1 0 obj<</Type/Catalog>>endobj\n"
    xref = len(head) + len(obj)
    body = (head + obj + b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % len(head)
            + b"trailer<</Size 2/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref))
    if update is None:
        return body
    # an incremental update: a new section whose trailer points back with /Prev
    obj2_at = len(body)
    body += b"2 0 obj<</Note (x)>>endobj\n"
    xref2 = len(body)
    body += (b"xref\n2 1\n%010d 00000 n \ntrailer<</Size 3/Root 1 0 R/Prev %d%s>>\nstartxref\n%d\n%%%%EOF\n"
             % (obj2_at, xref, update, xref2))
    return body


def test_encryption_in_an_xref_stream_far_from_both_ends_is_found() -> None:
    data = pdf_with_xref_stream(encrypt=True)
    at = data.find(b"/Encrypt")
    assert at > 3_000_000 and len(data) - at > 3_000_000  # no window at either end sees it
    assert filecheck.pdf_encrypted(data)
    assert not filecheck.pdf_encrypted(pdf_with_xref_stream(encrypt=False))


def test_encryption_is_read_from_the_trailer_not_from_anywhere_in_the_file() -> None:
    assert filecheck.pdf_encrypted(classic_pdf(b"/Encrypt 5 0 R"))
    assert not filecheck.pdf_encrypted(classic_pdf(b""))
    # the word in a string, in a nested dictionary, or as /EncryptMetadata is not the key
    assert not filecheck.pdf_encrypted(classic_pdf(b"/Info<</Title (/Encrypt 5 0 R)>>"))
    assert not filecheck.pdf_encrypted(classic_pdf(b"/X<</Encrypt 5 0 R>>"))
    assert not filecheck.pdf_encrypted(classic_pdf(b"/EncryptMetadata false"))
    # an incremental update: the newest trailer first, then the older one through /Prev
    assert filecheck.pdf_encrypted(classic_pdf(b"/Encrypt 5 0 R", update=b""))
    assert filecheck.pdf_encrypted(classic_pdf(b"", update=b"/Encrypt 5 0 R"))


def test_a_pdf_whose_structure_cannot_be_followed_is_sent() -> None:
    # no startxref, or one pointing nowhere: readers rebuild such files; so may the service
    broken = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<</Encrypt 5 0 R>>\n%%EOF"
    assert not filecheck.pdf_encrypted(broken)
    wrong_offset = classic_pdf(b"/Encrypt 5 0 R").replace(b"startxref\n40", b"startxref\n30")
    assert not filecheck.pdf_encrypted(wrong_offset)
    assert filecheck.check(broken, CAT.apis["general-text"], CAT).format == "pdf"


def jpeg_bytes(w: int = 300, h: int = 200) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, "JPEG")
    return buf.getvalue()


def test_megabytes_of_marker_padding_are_skipped_in_one_step() -> None:
    data = jpeg_bytes()
    with Image.open(io.BytesIO(data[:2] + b"\xff" * 65536 + data[2:])) as img:
        assert img.size == (300, 200)  # decoders take fill bytes before a marker
    padded = data[:2] + b"\xff" * (7 * 1024 * 1024) + data[2:]
    facts = filecheck.inspect(padded)
    assert (facts.width, facts.height) == (300, 200)


def test_a_jpeg_with_more_segments_than_the_bound_is_sent_without_dimensions() -> None:
    data = jpeg_bytes()
    comments = b"\xff\xfe\x00\x03x" * (filecheck.JPEG_MAX_SEGMENTS + 10)
    many = data[:2] + comments + data[2:]
    facts = filecheck.inspect(many)
    assert facts.format == "jpg" and facts.width is None
    assert filecheck.check(many, CAT.apis["general-text"], CAT).format == "jpg"


def test_bytes_between_jpeg_segments_are_skipped_as_decoders_do() -> None:
    data = jpeg_bytes()
    sof = data.find(b"\xff\xc0")
    garbage = data[:sof] + b"\x00\x01junk" + data[sof:]
    assert filecheck.inspect(garbage).width == 300


def test_ofd_is_recognized_and_only_apis_that_take_it_get_it() -> None:
    from tests.support.variants import ofd_invoice

    ofd = ofd_invoice()
    assert filecheck.sniff_format(ofd) == "ofd"
    assert filecheck.check(ofd, CAT.apis["vat-invoice"], CAT).format == "ofd"
    with pytest.raises(FailureError) as err:
        filecheck.check(ofd, CAT.apis["general-text"], CAT)
    assert err.value.failure.code == "OCRFLOW.UNSUPPORTED_FORMAT"
    assert filecheck.sniff_format(b"PK\x03\x04" + b"\x00" * 60) is None  # any other ZIP


def test_limits_the_api_takes_are_not_refused() -> None:
    header = struct.pack(">IIBBBBB", 20000, 900, 8, 0, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header
           + struct.pack(">I", zlib.crc32(b"IHDR" + header)))
    # web-image takes up to 30000 px a side; id-card 8192
    assert filecheck.check(png, CAT.apis["web-image"], CAT).width == 20000
    with pytest.raises(FailureError):
        filecheck.check(png, CAT.apis["id-card"], CAT)
    # a PDF business licence or seal is sent
    pdf = classic_pdf(b"")
    assert filecheck.check(pdf, CAT.apis["business-license"], CAT).format == "pdf"
    assert filecheck.check(pdf, CAT.apis["seal"], CAT).format == "pdf"


def test_bigtiff_and_os2_bitmaps_are_not_refused() -> None:
    assert filecheck.inspect(b"II+\x00\x08\x00\x00\x00" + b"\x00" * 32).format == "tiff"
    os2 = b"BM" + b"\x00" * 12 + struct.pack("<IHHHH", 12, 700, 500, 1, 24) + b"\x00" * 64
    facts = filecheck.inspect(os2)
    assert (facts.width, facts.height) == (700, 500)
