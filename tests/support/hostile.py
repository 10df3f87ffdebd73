"""Hostile files made at test (and bench) time, never committed: small files that decode
into huge rasters, metadata chunks that inflate without end, PDFs of a million objects.

Each is written directly (PNG chunks, PDF objects) with the compressed data streamed, so
making a 13000×13000 PNG costs its compressed size in memory, not its raster.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type → samples per pixel
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _zeros_deflated(total: int, step: int = 1 << 22, level: int = 9) -> Iterator[bytes]:
    """``total`` zero bytes deflated (zlib stream), in pieces."""
    z = zlib.compressobj(level)
    block = bytes(min(step, total))
    left = total
    while left:
        n = min(left, len(block))
        out = z.compress(block if n == len(block) else block[:n])
        if out:
            yield out
        left -= n
    yield z.flush()


def png(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 6,
        before_idat: tuple[bytes, ...] = ()) -> bytes:
    """A valid PNG of ``width``×``height`` whose rows are all zero (filter 0): it deflates
    about 1000:1, so a 676 MB raster is a ~660 KB file. ``before_idat``: extra chunks."""
    row = 1 + (width * _SAMPLES[colour_type] * bit_depth + 7) // 8
    out = io.BytesIO()
    out.write(PNG_SIGNATURE)
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)))
    if colour_type == 3:
        out.write(chunk(b"PLTE", b"\xff\xff\xff" * 2))
    for extra in before_idat:
        out.write(extra)
    pending = b""
    for piece in _zeros_deflated(row * height):
        pending += piece
        while len(pending) >= 1 << 20:
            out.write(chunk(b"IDAT", pending[:1 << 20]))
            pending = pending[1 << 20:]
    out.write(chunk(b"IDAT", pending))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()


def deflated_zeros(total: int) -> bytes:
    return b"".join(_zeros_deflated(total))


def iccp_bomb(inflated: int = 1 << 30, side: int = 64) -> bytes:
    """A small PNG whose ``iCCP`` (colour profile) chunk inflates to ``inflated`` bytes."""
    body = b"bomb\x00\x00" + deflated_zeros(inflated)
    return png(side, side, colour_type=2, before_idat=(chunk(b"iCCP", body),))


def ztxt_bomb(inflated: int = 1 << 30, side: int = 64, chunks: int = 1) -> bytes:
    """A small PNG with ``chunks`` ``zTXt`` (compressed text) chunks, each inflating to
    ``inflated`` bytes."""
    body = b"Comment\x00\x00" + deflated_zeros(inflated)
    return png(side, side, colour_type=2, before_idat=(chunk(b"zTXt", body),) * chunks)


def many_objects_pdf(objects: int = 1_400_000, pages: int = 2, referenced: bool = True) -> bytes:
    """A valid PDF of ``pages`` blank pages and ``objects`` small objects in one revision
    (a classic cross-reference table): 1.4 million make a file of about 60 MB (1 million
    about 55 MB when they are referenced).
    ``referenced``: page 1's resources reach every object (through an array), so splitting
    the page out must read them all; otherwise they are left unreferenced."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []

    def obj(body: bytes) -> None:
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % (len(offsets)) + body + b"\nendobj\n")

    first_filler = 3 + pages + 1  # after catalogue, page tree, pages and the array
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    array = 3 + pages
    for i in range(pages):
        extra = b" /Properties << /Fill %d 0 R >>" % array if referenced and i == 0 else b""
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources <<%s >> >>" % extra)
    if referenced:
        refs = b" ".join(b"%d 0 R" % n for n in range(first_filler, first_filler + objects))
        obj(b"[" + refs + b"]")
    else:
        obj(b"null")
    for _ in range(objects):
        obj(b"0")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
    return out.getvalue()
