"""Local checks before a call is paid for: what the API would refuse, refused here.

Formats are read from the bytes (never from the file name) and image dimensions from the
headers, without decoding pixels: a 20000×20000 PNG costs a few bytes to check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .catalogue import ApiLimits, Catalogue
from .errors import FailureError


@dataclass(frozen=True)
class FileFacts:
    format: str | None  # png, jpg, bmp, gif, tiff, webp, pcx, ico, psd, pdf, svg or None
    width: int | None = None
    height: int | None = None


def sniff_format(data: bytes) -> str | None:
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"8BPS"):
        return "psd"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ico"
    if len(head) > 3 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] == 1:
        return "pcx"
    text_head = data[:512].lstrip().lower()
    if text_head.startswith(b"<svg") or (text_head.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        return "svg"
    return None


class _Truncated(Exception):
    pass


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _Truncated("PNG header is incomplete")
    width, height = struct.unpack(">II", data[16:24])
    if b"IEND" not in data[-12:]:
        raise _Truncated("PNG is truncated (no IEND chunk)")
    return width, height


def _jpeg(data: bytes) -> tuple[int, int]:
    i, n = 2, len(data)
    size: tuple[int, int] | None = None
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise _Truncated("JPEG marker stream is corrupt")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                raise _Truncated("JPEG frame header is incomplete")
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            size = (width, height)
            break
        i += 2 + length
    if size is None:
        raise _Truncated("JPEG has no frame header")
    if b"\xff\xd9" not in data[-64:]:
        raise _Truncated("JPEG is truncated (no end-of-image marker)")
    return size


def _gif(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise _Truncated("GIF header is incomplete")
    return struct.unpack("<HH", data[6:10])


def _bmp(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise _Truncated("BMP header is incomplete")
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise _Truncated("WebP header is incomplete")


def _tiff(data: bytes) -> tuple[int, int]:
    endian = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack(endian + "I", data[4:8])
        (count,) = struct.unpack(endian + "H", data[offset:offset + 2])
        found: dict[int, int] = {}
        for k in range(count):
            entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
            tag, typ = struct.unpack(endian + "HH", entry[:4])
            if tag in (256, 257):
                fmt = endian + ("H" if typ == 3 else "I")
                found[tag] = struct.unpack(fmt, entry[8:8 + struct.calcsize(fmt)])[0]
        return found[256], found[257]
    except (struct.error, KeyError):
        raise _Truncated("TIFF header is incomplete") from None


def _psd(data: bytes) -> tuple[int, int]:
    if len(data) < 22:
        raise _Truncated("PSD header is incomplete")
    height, width = struct.unpack(">II", data[14:22])
    return width, height


_DIMENSIONS = {"png": _png, "jpg": _jpeg, "gif": _gif, "bmp": _bmp, "webp": _webp,
               "tiff": _tiff, "psd": _psd}


def inspect(data: bytes) -> FileFacts:
    fmt = sniff_format(data)
    reader = _DIMENSIONS.get(fmt or "")
    if reader is None:
        return FileFacts(fmt)
    try:
        width, height = reader(data)
    except (_Truncated, struct.error) as exc:
        raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE", f"{fmt.upper()} file: {exc}") from None  # type: ignore[union-attr]
    return FileFacts(fmt, width, height)


def check(data: bytes, api: ApiLimits, catalogue: Catalogue) -> FileFacts:
    """Raises :class:`FailureError` with an ``OCRFLOW.*`` code for what ``api`` would refuse."""
    if not data:
        raise FailureError.of("OCRFLOW.EMPTY_OBJECT", "the object is empty (0 bytes)")
    check_size(len(data), api, catalogue)
    facts = inspect(data)
    if facts.format is None or facts.format not in api.formats:
        shown = facts.format.upper() if facts.format else "not an image or PDF"
        accepted = ", ".join(sorted(f.upper() for f in api.formats))
        raise FailureError.of("OCRFLOW.UNSUPPORTED_FORMAT",
                              f"{api.name} takes {accepted}; this file is {shown}")
    if facts.format == "pdf" and _pdf_encrypted(data):
        raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE", "the PDF is encrypted")
    if facts.width is not None and facts.height is not None:
        w, h = facts.width, facts.height
        if min(w, h) < api.min_side or max(w, h) > api.max_side or (
            api.max_pixels is not None and w * h > api.max_pixels
        ):
            limit = f"sides {api.min_side}–{api.max_side} px"
            if api.max_pixels:
                limit += f", at most {api.max_pixels:,} pixels"
            raise FailureError.of("OCRFLOW.IMAGE_DIMENSIONS",
                                  f"image is {w}×{h}; {api.name} takes {limit}")
    return facts


def check_size(size: int, api: ApiLimits, catalogue: Catalogue) -> None:
    """Refuses by size alone (before downloading, when the size is known)."""
    if size > catalogue.max_file_bytes:
        raise FailureError.of(
            "OCRFLOW.FILE_TOO_LARGE",
            f"{size:,} bytes; {api.name} takes at most {catalogue.max_file_bytes:,} bytes "
            f"({catalogue.max_image_base64_bytes // (1024 * 1024)} MB after base64)")


def _pdf_encrypted(data: bytes) -> bool:
    return b"/Encrypt" in data[-4096:] or b"/Encrypt" in data[:4096]
