"""Fit a photo to what the API accepts instead of refusing it.

A photo over the API's byte limit, over its side or pixel limits, or in a format the API
does not take but Pillow reads (HEIC/HEIF through pillow-heif, WebP, GIF, …) is decoded,
turned upright (EXIF orientation), scaled down and encoded as JPEG with the highest quality
that fits the body limit. The image libraries are imported here only, on the first file that
needs fitting: the cold start and the common path never load them.

Memory is bounded by design. Before a pixel is decoded, the memory the whole fitting takes
is computed from the header — the file itself, the decoded raster (pixels × Pillow's bytes
per pixel for the mode, plus the decoder's own frame buffer for HEIF and WebP), the
flattened copy, the resized image and the JPEG — and must stay within
:data:`FIT_MEMORY_BUDGET`; a PNG's compressed metadata chunks are inflated (counted, not
kept) against :data:`PNG_METADATA_MAX` first. A JPEG is decoded directly at the smallest DCT
reduction (1/2, 1/4, 1/8) that fits, so a 200-megapixel photo never exists at full size;
other formats have no reduced decode in Pillow and are decoded whole, so a raster beyond the
budget ends in ``OCRFLOW.DECODE_LIMIT`` naming the figures, before anything is allocated. One
image is decoded at a time in a process, so concurrent records share one budget.

Whatever the decoders raise on a broken file ends in ``OCRFLOW.IMAGE_UNREADABLE``; fitting is
only tried on files the API refuses as they are, so such a refusal is certain.
"""

from __future__ import annotations

import io
import math
import re
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from ..core.errors import FailureError
from ..provider.catalogue import ApiLimits, Catalogue

FIT_MAX_PIXELS = 24_000_000
#: The most fitting one image may hold at once: the file, its decoded raster and every copy
#: made of it, and the JPEG. With the interpreter, the libraries (~50 MB) and the allocator's
#: slack, one record stays under 256 MB, half the function's memory in the template.
FIT_MEMORY_BUDGET = 176 << 20
#: A PNG's compressed metadata (colour profile ``iCCP``, text ``zTXt``/``iTXt``), inflated:
#: each chunk at most what Pillow reads of one (1 MiB), all together at most this.
PNG_METADATA_MAX = 8 << 20
PNG_CHUNK_MAX = 1 << 20
#: A TIFF's first image directory, which Pillow reads whole into Python objects when it
#: opens the file: at most this many numbers in one tag (the strips of a 65,535-row image),
#: and this many bytes of values in all. One tag of 15 million strip offsets took 3.7 GB.
TIFF_MAX_VALUES = 1 << 16
TIFF_MAX_BYTES = 16 << 20
#: EXIF blocks larger than this (a JPEG's cannot be) are not read for the orientation.
EXIF_MAX_BYTES = 256 << 10
#: One band of a resize: the source rows it reads (three such buffers exist at once).
RESIZE_STRIP_BYTES = 4 << 20
#: JPEG qualities tried in turn; below the last one the image is made smaller instead.
QUALITIES = (92, 85, 75, 65)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# EXIF orientation → the transpose that makes the image upright (as ImageOps.exif_transpose)
_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
            6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
# Pillow's storage per pixel: one byte for these, two for 16-bit greyscale, four for the rest
# (RGB too is stored in four)
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# decoders that decode a whole frame into a buffer of their own, then copy it into Pillow's
# image (bytes per pixel: pillow-heif measured at 3 beyond Pillow's 4, a 24-megapixel HEIC
# peaking 172 MB while it loads; libwebp decodes RGBA)
_DECODER_BYTES = {"HEIF": 3, "AVIF": 3, "WEBP": 4}
# a JPEG's size at the first quality tried, at most (noise at 92 takes ~1.5 bytes a pixel)
_JPEG_BYTES = {"RGB": 2, "L": 1}
_DECODING = threading.Lock()
_BYTES_REPR = re.compile(r"b(['\"]).*?\1")


@dataclass(frozen=True)
class Fitted:
    data: bytes
    #: what was sent: {"format": "jpg", "width", "height", "scale"}; scale = sent / original
    #: side, both upright, so a consumer maps a result coordinate back by dividing by it
    input: dict[str, Any]


def is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def fit(data: bytes, api: ApiLimits, catalogue: Catalogue, refusal: FailureError) -> Fitted:
    """The largest JPEG ``api`` accepts made from ``data``; raises ``refusal`` (the check's
    own verdict) when the file cannot be made to fit (smaller than the API's minimum side,
    an API that takes no JPEG, not an image Pillow reads), ``OCRFLOW.DECODE_LIMIT`` when
    fitting it would take more than :data:`FIT_MEMORY_BUDGET`, and
    ``OCRFLOW.IMAGE_UNREADABLE`` when the decoder fails on it."""
    if "jpg" not in api.formats or api.body_field not in ("image", "data"):
        raise refusal
    with _DECODING:
        try:
            _check_png_metadata(data, refusal)
            _check_tiff_directory(data, refusal)
            image = _open(data, refusal)
            try:
                return _fit(image, len(data), api, catalogue, refusal)
            finally:
                image.close()
        except FailureError:
            raise
        except MemoryError:
            raise _over(refusal, "ran out of memory in the decoder") from None
        except Exception as exc:  # noqa: BLE001 - Pillow and its plugins raise any type on a broken file
            raise FailureError.of(
                "OCRFLOW.IMAGE_UNREADABLE",
                f"{refusal.failure.message}; the image could not be decoded to fit it "
                f"({type(exc).__name__}: {_BYTES_REPR.sub('…', str(exc))[:160]})") from None


def _over(refusal: FailureError, what: str) -> FailureError:
    return FailureError.of("OCRFLOW.DECODE_LIMIT", f"{refusal.failure.message}; fitting it {what}")


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def _check_png_metadata(data: bytes, refusal: FailureError) -> None:
    """Inflates a PNG's compressed metadata chunks, counting without keeping, so a colour
    profile or text that inflates to a gigabyte is refused before the decoder reads it."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    pos, total = 8, 0
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        start = pos + 8
        pos = start + length + 4
        if kind == b"IEND":
            return
        if kind == b"tEXt":
            total += min(length, len(data) - start)
        elif kind in (b"zTXt", b"iCCP", b"iTXt"):
            body = data[start:start + length]
            stream = _compressed_part(kind, body)
            if stream is not None:
                inflated = _inflated_size(stream, PNG_CHUNK_MAX + 1)
                if inflated > PNG_CHUNK_MAX:
                    raise _over(refusal, f"would inflate its {kind.decode()} chunk to more than "
                                         f"{_mib(PNG_CHUNK_MAX)} (the most the decoder reads of one)")
                total += inflated
            else:
                total += len(body)
        if total > PNG_METADATA_MAX:
            raise _over(refusal, f"would inflate its metadata chunks to more than {_mib(PNG_METADATA_MAX)}")


# bytes per value of each TIFF field type (BYTE … IFD8)
_TIFF_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
                    13: 4, 16: 8, 17: 8, 18: 8}


def _check_tiff_directory(data: bytes, refusal: FailureError) -> None:
    """Counts the values of a TIFF's first image directory (classic or BigTIFF) before
    Pillow turns each number into a Python object."""
    head = data[:4]
    if head not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return
    order, big = ("<" if head[:2] == b"II" else ">"), head[2:4] in (b"+\x00", b"\x00+")
    try:
        if big:
            (offset,) = struct.unpack(order + "Q", data[8:16])
            (entries,) = struct.unpack(order + "Q", data[offset:offset + 8])
            size, first, count_format = 20, offset + 8, order + "Q"
        else:
            (offset,) = struct.unpack(order + "I", data[4:8])
            (entries,) = struct.unpack(order + "H", data[offset:offset + 2])
            size, first, count_format = 12, offset + 2, order + "I"
    except struct.error:
        return  # no directory: the decoder refuses the file itself
    total = 0
    for k in range(min(entries, max(0, len(data) - first) // size)):
        at = first + size * k
        tag, kind = struct.unpack(order + "HH", data[at:at + 4])
        (count,) = struct.unpack(count_format, data[at + 4:at + 4 + struct.calcsize(count_format)])
        width = _TIFF_TYPE_BYTES.get(kind, 1)
        if width > 1 and count > TIFF_MAX_VALUES:
            raise _over(refusal, f"would read {count:,} numbers of its TIFF tag {tag} (at most "
                                 f"{TIFF_MAX_VALUES:,} are read)")
        total += count * width
        if total > TIFF_MAX_BYTES:
            raise _over(refusal, f"would read more than {_mib(TIFF_MAX_BYTES)} of TIFF tags")


def _held(image: Any) -> int:
    """Bytes of metadata the opened image holds (comments, colour profile, EXIF, a JPEG's
    application segments), beside the file."""
    held = sum(len(v) for v in image.info.values() if isinstance(v, (bytes, str)))
    return held + sum(len(segment) for _, segment in getattr(image, "applist", []))


def _compressed_part(kind: bytes, body: bytes) -> bytes | None:
    """The zlib stream of a compressed metadata chunk, or None when it is stored plain."""
    name_end = body.find(b"\x00")
    if name_end < 0:
        return None
    if kind in (b"zTXt", b"iCCP"):
        return body[name_end + 2:]
    if body[name_end + 1:name_end + 2] != b"\x01":  # iTXt: compression flag
        return None
    rest = body[name_end + 3:]
    for _ in range(2):  # language tag, translated keyword
        end = rest.find(b"\x00")
        if end < 0:
            return None
        rest = rest[end + 1:]
    return rest


def _inflated_size(stream: bytes, limit: int) -> int:
    """How many bytes ``stream`` inflates to, counted up to ``limit``; broken data counts
    what it gave (the decoder then refuses it itself)."""
    inflater = zlib.decompressobj()
    size, pending = 0, stream
    try:
        while size < limit:
            out = inflater.decompress(pending, 1 << 16)
            size += len(out)
            pending = inflater.unconsumed_tail
            if not out and not pending:
                break
    except zlib.error:
        pass
    return size


def _open(data: bytes, refusal: FailureError) -> Any:
    from PIL import Image, UnidentifiedImageError

    # ocrflow's own budget, computed per mode and after the JPEG's reduced decode, replaces
    # Pillow's pixel-count guard: that one warns on stderr for a 90-megapixel greyscale scan
    # decoded within the budget and refuses a 200-megapixel photo decoded at 1/8
    Image.MAX_IMAGE_PIXELS = None
    from ..observability.log import route_image_library_messages

    route_image_library_messages()
    if is_heif(data):
        try:
            import pillow_heif
        except ImportError:
            raise refusal from None
        pillow_heif.register_heif_opener()
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise refusal from None
    if image.format == "PDF":  # pragma: no cover - Pillow writes PDFs but does not read them
        raise refusal
    return image


def _fit(image: Any, file_bytes: int, api: ApiLimits, catalogue: Catalogue,
         refusal: FailureError) -> Fitted:
    from PIL import Image

    orientation = _orientation(image)
    turned = orientation in (5, 6, 7, 8)
    stored_w, stored_h = image.size
    width, height = (stored_h, stored_w) if turned else (stored_w, stored_h)  # upright
    scale = _largest_scale(width, height, api)
    if scale <= 0:
        raise refusal
    limit = catalogue.max_file_bytes
    file_bytes += _held(image)
    if image.format == "JPEG":
        # decoded directly at the smallest DCT reduction (1/2, 1/4, 1/8) within the pixel
        # budget and the memory budget: a 50-megapixel photo never exists as a full raster
        r = 1
        while r < 8 and (math.ceil(stored_w / r) * math.ceil(stored_h / r) > FIT_MAX_PIXELS
                         or file_bytes + _decode_peak(image, math.ceil(stored_w / r)
                                                      * math.ceil(stored_h / r)) > FIT_MEMORY_BUDGET):
            r *= 2
        image.draft("RGB", (math.ceil(stored_w / r), math.ceil(stored_h / r)))
    pixels = image.size[0] * image.size[1]
    flat_mode = _flat_mode(image)
    flat = 1 if flat_mode == "L" else 4
    decoding = file_bytes + _decode_peak(image, pixels)
    if decoding > FIT_MEMORY_BUDGET:
        raise _over(refusal, f"would take {_mib(decoding)} to decode ({image.size[0]}×{image.size[1]} "
                             f"{image.mode}, {_PIXEL_BYTES.get(image.mode, 4)} bytes a pixel, and "
                             f"its conversion to {flat_mode}), over the {_mib(FIT_MEMORY_BUDGET)} "
                             "one image may take")
    # after decoding: the flattened raster, its resized copy and one strip being resized;
    # then the resized copy, its turned copy and the JPEG. The largest size within what the
    # budget leaves for them.
    room = FIT_MEMORY_BUDGET - file_bytes
    encoding = 2 * flat + _JPEG_BYTES[flat_mode]
    target_pixels = min((room - pixels * flat - 3 * RESIZE_STRIP_BYTES) / flat, room / encoding)
    budget_scale = math.sqrt(max(0.0, target_pixels) / (width * height))
    if min(width, height) * min(scale, budget_scale) < api.min_side:
        raise _over(refusal, f"would need more than {_mib(FIT_MEMORY_BUDGET)} to scale its "
                             f"{image.size[0]}×{image.size[1]} pixels down")
    scale = min(scale, budget_scale)
    image.load()
    image = _flatten(image)
    while True:
        target = _scaled(width, height, scale)
        if min(target) < api.min_side:
            raise refusal
        box = (target[1], target[0]) if turned else target
        if image.width <= box[0] and image.height <= box[1]:
            sized = image  # the reduced decode is already within every limit
        else:
            sized = _resize(image, box)
            image.close()  # the full raster is not needed again
            image = sized
        if orientation in _UPRIGHT:
            sized = sized.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
        for quality in QUALITIES:
            out = io.BytesIO()
            sized.save(out, "JPEG", quality=quality)
            if out.tell() <= limit:
                w, h = sized.size
                return Fitted(out.getvalue(), {"format": "jpg", "width": w, "height": h,
                                               "scale": round(w / width, 6)})
        # even the lowest quality is too large: shrink by the area still in excess
        scale = sized.width / width * math.sqrt(limit / out.tell()) * 0.95


def _resize(image: Any, size: tuple[int, int]) -> Any:
    """``image`` resized to ``size`` (Lanczos), one band of rows at a time. Resized whole,
    Pillow would hold a copy as wide as the result and as tall as the source; a band is cut
    with the rows its filter reaches beyond it, so the result is that of one resize (within a few
    levels, from rounding)."""
    from PIL import Image

    width, height = image.size
    out = Image.new(image.mode, size)
    ratio = height / size[1]  # source rows per result row
    margin = math.ceil(3 * max(ratio, 1.0)) + 2  # Lanczos reaches 3 rows, scaled
    per_row = width * 4
    step = max(1, int((RESIZE_STRIP_BYTES / per_row - 2 * margin) / ratio))
    for top in range(0, size[1], step):
        bottom = min(size[1], top + step)
        y0, y1 = top * ratio, bottom * ratio
        c0, c1 = max(0, math.floor(y0) - margin), min(height, math.ceil(y1) + margin)
        # across, then down: the order Pillow takes resizing the whole image
        with image.crop((0, c0, width, c1)) as rows:
            across = rows.resize((size[0], c1 - c0), Image.Resampling.LANCZOS)
        band = across.resize((size[0], bottom - top), Image.Resampling.LANCZOS,
                             box=(0, y0 - c0, size[0], y1 - c0))
        out.paste(band, (0, top))
    return out


def _decode_peak(image: Any, pixels: int) -> int:
    """Bytes held at the worst moment of decoding and flattening ``pixels`` pixels of the
    image's mode: the raster, the decoder's own buffer, or the flattened copy beside it."""
    per_pixel = _PIXEL_BYTES.get(image.mode, 4)
    decoder = pixels * _DECODER_BYTES.get(image.format or "", 0) + _strip_pixels(image) * per_pixel
    converted = 0
    if image.mode not in ("RGB", "L"):  # the flattened copy, filled band by band
        converted = pixels * (1 if _flat_mode(image) == "L" else 4) + 3 * RESIZE_STRIP_BYTES
    return pixels * per_pixel + max(decoder, converted)


def _strip_pixels(image: Any) -> int:
    """Pixels of the largest strip or tile libtiff decodes into a buffer of its own."""
    if image.format != "TIFF":
        return 0
    tags = getattr(image, "tag_v2", {})
    width, height = image.size
    if 322 in tags and 323 in tags:
        return int(tags[322]) * int(tags[323])
    rows = tags.get(278, height)
    return width * min(int(rows) if isinstance(rows, int) else height, height)


def _largest_scale(width: int, height: int, api: ApiLimits) -> float:
    """The largest scale (≤ 1) at which the upright image meets the API's side and pixel
    limits and ocrflow's own pixel budget; 0 when no scale does."""
    if min(width, height) < api.min_side:
        return 0.0  # never enlarged: a thumbnail does not become readable by upscaling
    scale = min(1.0, api.max_side / max(width, height))
    pixels = min(FIT_MAX_PIXELS, api.max_pixels or FIT_MAX_PIXELS)
    scale = min(scale, math.sqrt(pixels / (width * height)))
    if min(width, height) * scale < api.min_side:
        return 0.0  # a strip so long that it cannot keep the shorter side
    return scale


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    # floor, so a limit is never passed by rounding
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _orientation(image: Any) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # Pillow would decode the whole image to look for an eXIf chunk after the pixels
    if len(image.info.get("exif") or b"") > EXIF_MAX_BYTES:
        return 1  # each of its numbers would become a Python object
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: the image as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _flat_mode(image: Any) -> str:
    return "L" if image.mode in ("1", "L", "LA", "I", "F") or image.mode.startswith("I;16") else "RGB"


def _flatten(image: Any) -> Any:
    """RGB or greyscale, as JPEG stores them; transparency over white (text on a transparent
    background would otherwise turn black on black). Converted one band of rows at a time
    into the result, so no full-size intermediate (RGBA of a palette, 32-bit of a 16-bit
    greyscale) ever exists; the decoded raster is closed once converted."""
    from PIL import Image

    if image.mode in ("RGB", "L"):
        return image
    width, height = image.size
    out = Image.new(_flat_mode(image), image.size, 255 if _flat_mode(image) == "L" else "white")
    rows = max(1, RESIZE_STRIP_BYTES // (4 * width))
    for top in range(0, height, rows):
        with image.crop((0, top, width, min(height, top + rows))) as band:
            out.paste(_flat_band(band), (0, top))
    image.close()
    return out


def _flat_band(band: Any) -> Any:
    from PIL import Image

    mode = band.mode
    if mode == "LA":
        flat = Image.new("L", band.size, 255)
        flat.paste(band.convert("L"), mask=band)
        return flat
    if mode in ("RGBA", "PA") or (mode == "P" and "transparency" in band.info):
        rgba = band if mode == "RGBA" else band.convert("RGBA")
        flat = Image.new("RGB", band.size, "white")
        flat.paste(rgba, mask=rgba)
        return flat
    if mode.startswith("I;16") or mode in ("I", "F"):  # 16- or 32-bit greyscale
        return band.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return band.convert(_flat_mode(band))
