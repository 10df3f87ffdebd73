"""Local checks before a call is paid for: only what the API would surely refuse.

Formats are read from the bytes (never from the file name) and image dimensions from the
headers, without decoding pixels: a 20000×20000 PNG costs a few bytes to check. A refusal
here must be certain, because a wrong one loses the upload while a provider refusal costs
nothing (only 2xx answers are billed). So:

* bytes after an image's end (a phone's "motion photo" video after the JPEG, a vendor
  trailer, bytes after a PNG's ``IEND``) and a missing end marker are no reason to refuse:
  decoders read such files, and so does the service;
* a header that cannot be found is a refusal only when the whole file was read and it is
  not there; a scan that gives up early (a bound on work per file) sends the file;
* a PDF is refused as encrypted only when its own cross-reference trailer (or xref stream)
  says ``/Encrypt``; a PDF whose structure cannot be followed is sent.

Headers are parsed by hand rather than with Pillow, a measured choice: Pillow ships in the
bundle (the ``documents`` extra) but is imported only on the first file that must be fitted
(:mod:`.fit`), and importing it costs a cold start 15–22 ms (``import PIL.Image``, 3 runs,
2 cores, Python 3.11) against 3.2 µs per JPEG header here (Pillow's
``Image.open(...).size``: 20 µs), on every file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ..core.errors import FailureError
from ..provider.catalogue import ApiLimits, Catalogue

#: JPEG segments read before giving up (and sending the file): real files have < 100.
JPEG_MAX_SEGMENTS = 4096
#: PDF cross-reference sections followed through /Prev before giving up.
PDF_MAX_SECTIONS = 64
#: bytes of one trailer / xref-stream dictionary read before giving up.
PDF_MAX_DICT = 1 << 16
#: A ZIP's central directory larger than this is not listed (an OFD has a few dozen entries;
#: listing 600,000 took 290 MB and 14 s): the entry names are searched in its bytes instead.
ZIP_MAX_DIRECTORY = 1 << 20

_NOT_FF = re.compile(rb"[^\xff]")


@dataclass(frozen=True)
class FileFacts:
    #: png, jpg, bmp, gif, tiff, webp, pcx, ico, psd, pdf, ofd, svg or None
    format: str | None
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
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and _is_ofd(data):
        return "ofd"
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


# a central directory entry whose name is OFD.xml (name length 7, or 8 with a leading "/")
_OFD_ENTRY = re.compile(rb"PK\x01\x02[\s\S]{24}(?:\x07\x00[\s\S]{16}|\x08\x00[\s\S]{16}/)OFD\.xml",
                        re.IGNORECASE)


def _is_ofd(data: bytes) -> bool:
    """OFD (GB/T 33190) is a ZIP whose root holds ``OFD.xml``."""
    import io
    import zipfile

    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if end >= 0 and len(data) >= end + 22:
        (directory,) = struct.unpack("<I", data[end + 12:end + 16])
        if directory > ZIP_MAX_DIRECTORY:
            return _OFD_ENTRY.search(data) is not None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.lstrip("/").lower() == "ofd.xml" for name in archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        # a damaged central directory: the first local header still names the entry
        return b"OFD.xml" in data[30:30 + 64]


class _Unreadable(Exception):
    """The header is certainly not there: no decoder can read the file."""


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _Unreadable("PNG has no image header (IHDR)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """Size from the first frame header, skipping segments by their lengths. Like libjpeg,
    bytes that are not a marker are skipped up to the next 0xFF, and fill bytes in a run."""
    i, n = 2, len(data)
    for _ in range(JPEG_MAX_SEGMENTS):
        if i >= n:
            break
        if data[i] != 0xFF:
            i = data.find(b"\xff", i)
            if i < 0:
                break
        nxt = _NOT_FF.search(data, i + 1)  # any run of 0xFF fill bytes in one step
        if nxt is None:
            break
        i = nxt.start() - 1
        marker = data[i + 1]
        if marker in (0xD8, 0x01, 0x00) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker == 0xD9:  # end of image before any frame header
            break
        if i + 4 > n:
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    else:
        return None  # gave up: too many segments to be sure
    raise _Unreadable("JPEG has no frame header")


def _gif(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise _Unreadable("GIF header is incomplete")
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _bmp(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise _Unreadable("BMP header is incomplete")
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        width, height = struct.unpack("<HH", data[18:22])
        return width, height
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height is a top-down bitmap


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if len(data) < 30:
        raise _Unreadable("WebP header is incomplete")
    return None  # a chunk layout not read here: let the service decide


def _tiff(data: bytes) -> tuple[int, int] | None:
    endian = "<" if data[:2] == b"II" else ">"
    if data[2:4] in (b"+\x00", b"\x00+"):
        return None  # BigTIFF: 64-bit offsets, not read here
    try:
        (offset,) = struct.unpack(endian + "I", data[4:8])
        (count,) = struct.unpack(endian + "H", data[offset:offset + 2])
        found: dict[int, int] = {}
        for k in range(count):
            entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
            tag, typ = struct.unpack(endian + "HH", entry[:4])
            if tag in (256, 257):
                # SHORT or LONG, left-justified in the value field in either byte order
                fmt = endian + ("H" if typ == 3 else "I")
                found[tag] = struct.unpack(fmt, entry[8:8 + struct.calcsize(fmt)])[0]
        return found[256], found[257]
    except (struct.error, KeyError):
        raise _Unreadable("TIFF has no readable image directory") from None


def _psd(data: bytes) -> tuple[int, int]:
    if len(data) < 22:
        raise _Unreadable("PSD header is incomplete")
    height, width = struct.unpack(">II", data[14:22])
    return width, height


_DIMENSIONS = {"png": _png, "jpg": _jpeg, "gif": _gif, "bmp": _bmp, "webp": _webp,
               "tiff": _tiff, "psd": _psd}


def inspect(data: bytes) -> FileFacts:
    """Format and, where the header gives them for sure, the dimensions. Raises
    :class:`FailureError` (``OCRFLOW.IMAGE_UNREADABLE``) only for a header that is
    certainly missing."""
    fmt = sniff_format(data)
    reader = _DIMENSIONS.get(fmt or "")
    if reader is None:
        return FileFacts(fmt)
    try:
        size = reader(data)
    except (_Unreadable, struct.error) as exc:
        raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE", f"{(fmt or '').upper()} file: {exc}") from None
    if size is None:
        return FileFacts(fmt)
    return FileFacts(fmt, size[0], size[1])


def check(data: bytes, api: ApiLimits, catalogue: Catalogue) -> FileFacts:
    """Raises :class:`FailureError` with an ``OCRFLOW.*`` code for what ``api`` would refuse."""
    if not data:
        raise FailureError.of("OCRFLOW.EMPTY_OBJECT", "the object is empty (0 bytes)")
    check_size(len(data), api, catalogue)
    facts = inspect(data)
    if facts.format is None or facts.format not in api.formats:
        shown = facts.format.upper() if facts.format else "not an image, PDF or OFD"
        accepted = ", ".join(sorted(f.upper() for f in api.formats))
        raise FailureError.of("OCRFLOW.UNSUPPORTED_FORMAT",
                              f"{api.name} takes {accepted}; this file is {shown}")
    if facts.format == "pdf" and pdf_encrypted(data):
        raise FailureError.of("OCRFLOW.IMAGE_UNREADABLE", "the PDF is encrypted")
    if facts.width is not None and facts.height is not None and not api.fits(facts.width, facts.height):
        raise FailureError.of("OCRFLOW.IMAGE_DIMENSIONS",
                              f"image is {facts.width}×{facts.height}; {api.name} takes "
                              f"{api.describe_limits()}")
    return facts


def check_size(size: int, api: ApiLimits, catalogue: Catalogue) -> None:
    """Refuses by size alone (before downloading, when the size is known)."""
    if size > catalogue.max_file_bytes:
        raise FailureError.of(
            "OCRFLOW.FILE_TOO_LARGE",
            f"{size:,} bytes; {api.name} takes at most {catalogue.max_file_bytes:,} bytes "
            f"({catalogue.max_image_base64_bytes // (1024 * 1024)} MB after base64)")


# --- PDF: encryption from the cross-reference structure -----------------------------------
_STARTXREF = re.compile(rb"startxref\s+(\d+)")
_OBJ_HEAD = re.compile(rb"\s*\d+\s+\d+\s+obj\s*")
_XREF_SUBSECTION = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_PREV = re.compile(rb"/Prev\s+(\d+)")
_DELIMITERS = b" \t\r\n\f\x00()<>[]{}/%"


def pdf_encrypted(data: bytes) -> bool:
    """Whether the PDF's trailer (classic ``trailer`` after an ``xref`` table, or the
    dictionary of a cross-reference stream) names ``/Encrypt``, following ``/Prev`` through
    incremental updates. False when the structure cannot be followed: then the service
    decides."""
    tail = data.rfind(b"startxref", max(0, len(data) - (1 << 20)))
    if tail < 0:
        return False
    found = _STARTXREF.match(data, tail)
    if found is None:
        return False
    offset: int | None = int(found.group(1))
    seen: set[int] = set()
    while offset is not None and offset not in seen and len(seen) < PDF_MAX_SECTIONS:
        seen.add(offset)
        trailer = _trailer_at(data, offset)
        if trailer is None:
            return False
        if _has_key(trailer, b"/Encrypt"):
            return True
        prev = _PREV.search(_top_level(trailer))
        offset = int(prev.group(1)) if prev else None
    return False


def _trailer_at(data: bytes, offset: int) -> bytes | None:
    """The trailer dictionary of the cross-reference section at ``offset``."""
    if offset >= len(data):
        return None
    pos = offset
    while pos < len(data) and data[pos] in b" \t\r\n\f\x00":
        pos += 1
    if data.startswith(b"xref", pos):
        pos += 4
        # skip the subsections: "first count" then count 20-byte entries each
        while True:
            sub = _XREF_SUBSECTION.match(data, pos)
            if sub is None:
                break
            count = int(sub.group(2))
            entries = data[sub.end():sub.end() + 20 * count]
            if len(entries) < 20 * count or count and entries[17:18] not in (b"n", b"f"):
                return None
            pos = sub.end() + 20 * count
        while pos < len(data) and data[pos] in b" \t\r\n\f\x00":
            pos += 1
        if not data.startswith(b"trailer", pos):
            return None
        return _dictionary(data, pos + 7)
    head = _OBJ_HEAD.match(data, pos)
    if head is None:
        return None
    dictionary = _dictionary(data, head.end())
    if dictionary is None or not re.search(rb"/Type\s*/XRef(?![^\s/<>\[\]()])", _top_level(dictionary)):
        return None
    return dictionary


def _dictionary(data: bytes, pos: int) -> bytes | None:
    """The bytes of the ``<< … >>`` starting at ``pos`` (after blanks), nested dictionaries
    and strings respected; None if it does not close within PDF_MAX_DICT bytes."""
    while pos < len(data) and data[pos] in b" \t\r\n\f\x00":
        pos += 1
    if not data.startswith(b"<<", pos):
        return None
    end = min(len(data), pos + PDF_MAX_DICT)
    depth, i = 0, pos
    while i < end:
        c = data[i]
        if c == 0x28:  # "(": a literal string, with escapes and nested parentheses
            nest, i = 1, i + 1
            while i < end and nest:
                if data[i] == 0x5C:
                    i += 2
                    continue
                nest += {0x28: 1, 0x29: -1}.get(data[i], 0)
                i += 1
            continue
        if data.startswith(b"<<", i):
            depth += 1
            i += 2
            continue
        if data.startswith(b">>", i):
            depth -= 1
            i += 2
            if depth == 0:
                return data[pos:i]
            continue
        i += 1
    return None


def _top_level(dictionary: bytes) -> bytes:
    """The dictionary with nested dictionaries, arrays and strings blanked out, so keys
    inside them are not taken for the trailer's own."""
    out = bytearray(dictionary[2:-2])
    depth, i = 0, 0
    while i < len(out):
        if out[i:i + 2] in (b"<<", b">>"):
            depth += 1 if out[i:i + 2] == b"<<" else -1
            out[i:i + 2] = b"  "
            i += 2
            continue
        c = out[i]
        if c in b"[(":
            depth += 1
            out[i] = 0x20
        elif c in b"])":
            depth -= 1
            out[i] = 0x20
        elif depth > 0:
            out[i] = 0x20
        i += 1
    return bytes(out)


def _has_key(dictionary: bytes, key: bytes) -> bool:
    top = _top_level(dictionary)
    start = 0
    while True:
        at = top.find(key, start)
        if at < 0:
            return False
        after = top[at + len(key):at + len(key) + 1]
        if not after or after in _DELIMITERS:  # "/Encrypt", not "/EncryptMetadata"
            return True
        start = at + 1
