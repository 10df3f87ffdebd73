"""Every decoder error is coded: thousands of mutations of ordinary images (PNG, BMP, TIFF,
GIF, JPEG, WebP, HEIC) and PDFs, each made ready for an API that forces it through decoding
(fitting) or splitting, end in a prepared document or an ``OCRFLOW.*`` failure — never in an
exception of Pillow, pillow-heif or pypdf, which would end the record in an internal error
on every delivery."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ocrflow import documents
from ocrflow.core.errors import OCRFLOW_CODES, FailureError
from ocrflow.provider import catalogue
from tests.conftest import ROOT
from tests.support import hostile
from tests.support.hostile import chunk, deflated_zeros

CAT = catalogue.load()
TEXT = CAT.apis["general-text"]
#: sides over 40 px are refused, so every readable seed (64×48) is decoded to be fitted
TIGHT = replace(TEXT, name="tight", max_side=40, min_side=4)
#: only JPEG taken: every other format is decoded to be converted
JPEG_ONLY = replace(TEXT, name="jpeg-only", formats=frozenset({"jpg"}), min_side=4)
#: takes PDF without a page field: every page of a multi-page PDF is split out
SPLITTING = replace(CAT.apis["mvs-invoice"], name="splitting", min_side=4)


def _save(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _picture(mode: str = "RGB") -> Image.Image:
    img = Image.new("RGB", (64, 48), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((4, 4, 30, 20), fill="black")
    draw.ellipse((30, 10, 60, 44), fill=(200, 30, 30))
    return img.convert(mode)


def _heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _save(_picture(), "HEIF", quality=50)


def _pdf(pages: int) -> bytes:
    images = [_picture() for _ in range(pages)]
    return _save(images[0], "PDF", save_all=True, append_images=images[1:])


SEEDS: dict[str, bytes] = {
    "png-rgb": _save(_picture(), "PNG"),
    "png-rgba": _save(_picture("RGBA"), "PNG"),
    "png-palette": _save(_picture("P"), "PNG", transparency=0),
    "png-grey16": _save(_picture("L").convert("I;16"), "PNG"),
    "png-grey-alpha": _save(_picture("LA"), "PNG"),
    "bmp": _save(_picture(), "BMP"),
    "bmp-palette": _save(_picture("P"), "BMP"),
    "tiff": _save(_picture(), "TIFF"),
    "tiff-lzw": _save(_picture(), "TIFF", compression="tiff_lzw"),
    "tiff-deflate": _save(_picture("L"), "TIFF", compression="tiff_adobe_deflate"),
    "gif": _save(_picture("P"), "GIF"),
    "jpeg": _save(_picture(), "JPEG", quality=80),
    "jpeg-progressive": _save(_picture(), "JPEG", quality=80, progressive=True),
    "jpeg-cmyk": _save(_picture("CMYK"), "JPEG"),
    "webp": _save(_picture("RGBA"), "WEBP"),
    "heic": _heic(),
    "pdf-3-pages": _pdf(3),
}


def _png_fix_crcs(data: bytes) -> bytes:
    """The PNG with every chunk's CRC recomputed, so a mutation inside a chunk reaches the
    decoder instead of its checksum test."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, pos = bytearray(data[:8]), 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if len(body) < length:
            out += data[pos:]
            break
        out += chunk(kind, body)
        pos += 12 + length
    return bytes(out)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "number"]))
        # mutations cluster in the headers, where a decoder takes its decisions
        where = draw(st.one_of(st.integers(0, min(len(data) - 1, 200)), st.integers(0, len(data) - 1)))
        if op == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            blob = draw(st.binary(min_size=1, max_size=8))
            data[where:where + len(blob)] = blob
        elif op == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[where:where + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[max(8, where):]
        else:  # a 16- or 32-bit field set to an edge value: sizes, counts, offsets
            value = draw(st.sampled_from([0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            width = draw(st.sampled_from([2, 4]))
            order = draw(st.sampled_from(["<", ">"]))
            fmt = order + ("H" if width == 2 else "I")
            data[where:where + width] = struct.pack(fmt, value & (0xFFFF if width == 2 else 0xFFFFFFFF))
        if not data:
            data = bytearray(b"\x89PNG")
    if draw(st.booleans()):
        data = bytearray(_png_fix_crcs(bytes(data)))
    return name, bytes(data)


def _prepare_every_part(data: bytes, api: catalogue.ApiLimits) -> None:
    try:
        document = documents.prepare(data, api, CAT)
        if document.pages_total is None:
            document.part()
        else:
            for page in range(1, document.pages_total + 1):
                try:
                    document.part(page)
                except FailureError as exc:
                    assert exc.failure.code in OCRFLOW_CODES, exc.failure
    except FailureError as exc:
        assert exc.failure.code in OCRFLOW_CODES, exc.failure
        assert exc.failure.message


def test_the_seeds_are_decoded_and_fitted_unmutated() -> None:
    for name, data in SEEDS.items():
        api = SPLITTING if name.startswith("pdf") else TIGHT
        document = documents.prepare(data, api, CAT)
        part = document.part(1 if document.pages_total else None)
        assert part.input is not None, name  # fitted or split: the decoders did run


@settings(max_examples=2500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_no_mutated_file_ends_in_an_uncoded_error(case: tuple[str, bytes]) -> None:
    name, data = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what Pillow warns is not this test's subject
        for api in ((SPLITTING, TIGHT) if name.startswith("pdf") else (TIGHT, JPEG_ONLY)):
            _prepare_every_part(data, api)


def _png(*chunks: bytes, colour_type: int = 3, after: bytes = b"") -> bytes:
    """A 64×48 PNG of the given chunks between its header and its (blank) pixels, and
    ``after`` them."""
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, colour_type, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(bytes((1 + 64) * 48)))
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(chunks) + pixels + after + chunk(b"IEND", b"")


def _tiff_with_rational_width() -> bytes:
    data = bytearray(_save(_picture(), "TIFF"))
    (ifd,) = struct.unpack("<I", data[4:8])
    (entries,) = struct.unpack("<H", data[ifd:ifd + 2])
    for k in range(entries):
        at = ifd + 2 + 12 * k
        if struct.unpack("<H", data[at:at + 2])[0] == 256:  # ImageWidth, made a RATIONAL
            struct.pack_into("<HI", data, at + 2, 5, 1)
            struct.pack_into("<I", data, at + 8, 8)
    return bytes(data)


# the decoder errors that ended records uncoded (OCRFLOW.INTERNAL_ERROR, on every delivery)
NAMED = {
    "palette of 300 colours (ValueError: invalid palette size)":
        (_png(chunk(b"PLTE", b"\x10" * 900)), "OCRFLOW.IMAGE_UNREADABLE"),
    "transparency longer than the palette (ValueError: palette index out of range)":
        (_png(chunk(b"PLTE", b"\x10" * 6), chunk(b"tRNS", bytes(300))), "OCRFLOW.IMAGE_UNREADABLE"),
    "zTXt inflating past Pillow's MAX_TEXT_CHUNK (ValueError)":
        (_png(chunk(b"zTXt", b"c\x00\x00" + zlib.compress(bytes(2 << 20))), colour_type=0),
         "OCRFLOW.DECODE_LIMIT"),
    "iTXt inflating to 32 MiB":
        (_png(chunk(b"iTXt", b"c\x00\x01\x00\x00\x00" + zlib.compress(bytes(32 << 20))), colour_type=0),
         "OCRFLOW.DECODE_LIMIT"),
    "iCCP inflating to 1 GiB": (_png(chunk(b"iCCP", b"icc\x00\x00" + deflated_zeros(1 << 30)), colour_type=0),
                                "OCRFLOW.DECODE_LIMIT"),
    "TIFF width of the wrong type (ValueError: Invalid dimensions)":
        (_tiff_with_rational_width(), "OCRFLOW.IMAGE_UNREADABLE"),
    "a chunk after the pixels with a broken length (SyntaxError: broken PNG file)":
        (_png(colour_type=0, after=b"\xff\xff\xff\xf0tEXt"), "OCRFLOW.IMAGE_UNREADABLE"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_each_named_decoder_error_ends_in_its_code(name: str) -> None:
    data, code = NAMED[name]
    with pytest.raises(FailureError) as info:
        documents.prepare(data, TIGHT, CAT)
    assert info.value.failure.code == code, info.value.failure
    assert info.value.failure.message.startswith("image is ")  # why it had to be decoded at all


def test_a_scan_within_the_budget_is_fitted_without_pillows_bomb_warning() -> None:
    # 100 megapixels of greyscale: over Pillow's 89-megapixel warning, well within the budget
    scan = hostile.png(10000, 10000, colour_type=0)
    card = CAT.apis["id-card"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        part = documents.prepare(scan, card, CAT).part()
    assert part.input is not None and max(part.input["width"], part.input["height"]) <= card.max_side
    assert not [w for w in caught if "DecompressionBomb" in w.category.__name__], caught


def test_what_libtiff_prints_goes_to_the_log_not_to_stderr(tmp_path: Path) -> None:
    tiff = bytearray(_save(_picture(), "TIFF", compression="tiff_lzw"))
    tiff[8:40] = b"\xff" * 32  # the compressed strip, broken
    (tmp_path / "broken.tif").write_bytes(bytes(tiff))
    code = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from ocrflow import documents\n"
        "from ocrflow.provider import catalogue\n"
        "from ocrflow.observability import log\n"
        "log.configure('ocrflow-test', 'INFO', sys.stdout)\n"
        "from ocrflow.core.errors import FailureError\n"
        "cat = catalogue.load()\n"
        "api = replace(cat.apis['general-text'], max_side=40, min_side=4)\n"
        "try:\n"
        f"    documents.prepare(open({str(tmp_path / 'broken.tif')!r}, 'rb').read(), api, cat)\n"
        "except FailureError as exc:\n"
        "    print(exc.failure.code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "shared")})
    assert done.stderr == ""
    assert "OCRFLOW.IMAGE_UNREADABLE" in done.stdout
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(line.get("logger") == "libtiff" for line in lines), done.stdout
