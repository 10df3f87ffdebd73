"""Hostile files made at test (and bench) time, never committed: small files that decode
into huge rasters, metadata chunks that inflate without end, PDFs of a million objects.

Each is written directly (PNG chunks, PDF objects) with the compressed data streamed, so
making a 13000×13000 PNG costs its compressed size in memory, not its raster.
"""

from __future__ import annotations

import io
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type → samples per pixel
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def deflated_zeros(total: int, segment: int = 1 << 20) -> bytes:
    """A zlib stream of ``total`` zero bytes, made in milliseconds: each megabyte of zeros
    compressed once after a full flush (so every one is the same bytes), repeated, then an
    empty final block and the Adler-32 of zeros (a = 1, b = total)."""
    def flushed(n: int) -> bytes:
        z = zlib.compressobj(9)
        return z.compress(bytes(n)) + z.flush(zlib.Z_FULL_FLUSH)

    whole, rest = divmod(total, segment)
    header = flushed(1)[:2]
    out = [header, flushed(segment)[2:] * whole if whole else b""]
    if rest:
        out.append(flushed(rest)[2:])
    out.append(b"\x03\x00" + struct.pack(">I", ((total % 65521) << 16) | 1))
    return b"".join(out)


def png(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 6,
        before_idat: tuple[bytes, ...] = ()) -> bytes:
    """A valid PNG of ``width``×``height`` whose rows are all zero (filter 0): it deflates
    about 1000:1, so a 676 MB raster is a ~690 KB file. ``before_idat``: extra chunks."""
    row = 1 + (width * _SAMPLES[colour_type] * bit_depth + 7) // 8
    out = io.BytesIO()
    out.write(PNG_SIGNATURE)
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)))
    if colour_type == 3:
        out.write(chunk(b"PLTE", b"\xff\xff\xff" * 2))
    for extra in before_idat:
        out.write(extra)
    pixels = deflated_zeros(row * height)
    for at in range(0, len(pixels), 1 << 20):
        out.write(chunk(b"IDAT", pixels[at:at + (1 << 20)]))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()


def iccp_bomb(inflated: int = 1 << 30, width: int = 64, height: int = 64) -> bytes:
    """A small PNG whose ``iCCP`` (colour profile) chunk inflates to ``inflated`` bytes."""
    body = b"bomb\x00\x00" + deflated_zeros(inflated)
    return png(width, height, colour_type=2, before_idat=(chunk(b"iCCP", body),))


def ztxt_bomb(inflated: int = 1 << 30, width: int = 64, height: int = 64, chunks: int = 1) -> bytes:
    """A small PNG with ``chunks`` ``zTXt`` (compressed text) chunks, each inflating to
    ``inflated`` bytes."""
    body = b"Comment\x00\x00" + deflated_zeros(inflated)
    return png(width, height, colour_type=2, before_idat=(chunk(b"zTXt", body),) * chunks)


def noise_jpeg(width: int, height: int, quality: int = 92) -> bytes:
    """A JPEG of random pixels: it compresses like a very detailed photo (8160×6120, 50
    megapixels, is about 33 MB)."""
    import os

    from PIL import Image

    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def scanned_pdf(pages: int = 50, width: int = 1700, height: int = 2200) -> bytes:
    """A PDF of ``pages`` scanned pages, each a JPEG of random grey pixels (two pages
    alternate): 50 pages of 1700×2200 are about 63 MB, ~1.3 MB a page."""
    import random

    from PIL import Image

    rng = random.Random(1)
    scans = [Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
             for _ in range(2)]
    buf = io.BytesIO()
    scans[0].save(buf, "PDF", save_all=True, append_images=[scans[i % 2] for i in range(1, pages)],
                  resolution=200, quality=30)
    return buf.getvalue()


def heic_photo(width: int, height: int) -> bytes:
    """A HEIC photo (pillow-heif) of a smooth picture: as many pixels as a phone's, made in
    seconds."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    ramp = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", [ramp, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT), ramp])
    buf = io.BytesIO()
    image.save(buf, "HEIF", quality=60)
    return buf.getvalue()


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
    obj(b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
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


def many_entries_zip(entries: int = 600_000) -> bytes:
    """A valid ZIP of ``entries`` empty files (names ``d/0000001``…): 600,000 make about
    55 MB. An OFD is a ZIP, so its format is read by listing the archive."""
    local, central = io.BytesIO(), io.BytesIO()
    for n in range(entries):
        name = b"d/%07d" % n
        offset = local.tell()
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0,
                                  len(name), 0, 0, 0, 0, 0, offset) + name)
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(entries, 0xFFFF), min(entries, 0xFFFF),
                      len(directory), local.tell(), 0)
    return local.getvalue() + directory + end


def page_markers_pdf(size: int = 60_000_000) -> bytes:
    """A PDF-looking file of ``size`` bytes made of ``/Type /Page`` markers (one object and
    a cross-reference pointer around them), which a byte scan of pages meets millions of
    times and a PDF library reads whole to rebuild the cross-references."""
    head, tail = b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n", b"\nstartxref\n0\n%%EOF\n"
    marker = b"/Type /Page\n"
    return head + marker * ((size - len(head) - len(tail)) // len(marker)) + tail


def tiff_tag_flood(values: int = 15_000_000) -> bytes:
    """A 100×100 TIFF whose strip-offset tag lists ``values`` numbers (15 million: 60 MB),
    each of which a decoder that reads the directory whole makes an object of."""
    after_ifd = 8 + 2 + 12 * 9 + 4
    entries = [(256, 4, 1, 100), (257, 4, 1, 100), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, values, after_ifd), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, 1, 100)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + bytes(4 * values)


def gif_comment_flood(width: int, height: int, size: int = 50_000_000) -> bytes:
    """A GIF with ``size`` bytes of comment before its image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (width, height)).save(buf, "GIF")
    gif = buf.getvalue()
    screen = 13 + (3 * 2 ** ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)  # header, colour table
    blocks = size // 256
    return gif[:screen] + b"!\xfe" + (b"\xff" + b"c" * 255) * blocks + b"\x00" + gif[screen:]


def jpeg_segment_flood(width: int, height: int, segments: int = 900) -> bytes:
    """A JPEG with ``segments`` application segments of 64 KB (900: 59 MB) before its image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "JPEG")
    jpeg = buf.getvalue()
    return jpeg[:2] + (b"\xff\xef" + struct.pack(">H", 65535) + b"a" * 65533) * segments + jpeg[2:]
