"""Fit a photo to what the API accepts instead of refusing it.

A photo over the API's byte limit, over its side or pixel limits, or in a format the API
does not take but Pillow reads (HEIC/HEIF through pillow-heif, WebP, GIF, …) is decoded,
turned upright (EXIF orientation), scaled down and encoded as JPEG with the highest quality
that fits the body limit. The image libraries are imported here only, on the first file that
needs fitting: the cold start and the common path never load them.

The result is the largest image within the API's limits and :data:`FIT_MAX_PIXELS`, which
bounds memory: a JPEG is decoded directly at the smallest DCT reduction (1/2, 1/4, 1/8)
that fits the budget, so even a 100-megapixel photo never exists as a full raster; other
formats are decoded whole and resized. 24 million pixels (6000×4000) is more detail than OCR
needs, and its raster (72 MB in RGB) stays well inside a 512 MB function.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from .catalogue import ApiLimits, Catalogue
from .errors import FailureError

FIT_MAX_PIXELS = 24_000_000
#: JPEG qualities tried in turn; below the last one the image is made smaller instead.
QUALITIES = (92, 85, 75, 65)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# EXIF orientation → the transpose that makes the image upright (as ImageOps.exif_transpose)
_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
            6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


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
    own verdict) when the file cannot be made to fit: not an image Pillow reads, smaller
    than the API's minimum side, or an API that takes no JPEG."""
    if "jpg" not in api.formats or api.body_field not in ("image", "data"):
        raise refusal
    image = _open(data, refusal)
    try:
        return _fit(image, api, catalogue, refusal)
    finally:
        image.close()


def _open(data: bytes, refusal: FailureError) -> Any:
    from PIL import Image, UnidentifiedImageError

    from .log import route_image_library_messages

    route_image_library_messages()

    if is_heif(data):
        try:
            import pillow_heif
        except ImportError:
            raise refusal from None
        pillow_heif.register_heif_opener()
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise refusal from None
    if image.format == "PDF":  # pragma: no cover - Pillow writes PDFs but does not read them
        raise refusal
    return image


def _fit(image: Any, api: ApiLimits, catalogue: Catalogue, refusal: FailureError) -> Fitted:
    from PIL import Image

    orientation = _orientation(image)
    turned = orientation in (5, 6, 7, 8)
    stored_w, stored_h = image.size
    width, height = (stored_h, stored_w) if turned else (stored_w, stored_h)  # upright
    scale = _largest_scale(width, height, api)
    if scale <= 0:
        raise refusal
    if image.format == "JPEG":
        # decoded directly at the smallest DCT reduction (1/2, 1/4, 1/8) within the pixel
        # budget: a 50-megapixel photo never exists as a full raster
        r = 1
        while r < 8 and math.ceil(stored_w / r) * math.ceil(stored_h / r) > FIT_MAX_PIXELS:
            r *= 2
        image.draft("RGB", (math.ceil(stored_w / r), math.ceil(stored_h / r)))
    try:
        image.load()
    except (OSError, Image.DecompressionBombError):
        raise refusal from None
    image = _flatten(image)
    limit = catalogue.max_file_bytes
    while True:
        target = _scaled(width, height, scale)
        if min(target) < api.min_side:
            raise refusal
        box = (target[1], target[0]) if turned else target
        if image.width <= box[0] and image.height <= box[1]:
            sized = image  # the reduced decode is already within every limit
        else:
            sized = image.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
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
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: the image as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _flatten(image: Any) -> Any:
    """RGB or greyscale, as JPEG stores them; transparency over white (text on a transparent
    background would otherwise turn black on black)."""
    from PIL import Image

    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode.startswith("I"):  # 16- or 32-bit greyscale
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return image.convert("RGB")
