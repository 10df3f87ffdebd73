"""Real-world file variants, made at test time: files phones, scanners, screenshot tools and
e-invoice systems produce, which decoders read and the OCR API accepts."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

from PIL import Image


def _image(mode: str = "RGB", size: tuple[int, int] = (640, 480)) -> Image.Image:
    img = Image.new(mode, size, "white" if mode in ("RGB", "CMYK", "L", "P") else 65535)
    return img


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(**params: object) -> bytes:
    return _save(_image(), "JPEG", **params)


def motion_photo() -> bytes:
    # a still JPEG followed by the video clip (an MP4 after the end marker), as phones store it
    video = struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00mp42isom"
    video += struct.pack(">I", 8 + 4096) + b"mdat" + bytes(range(256)) * 16
    return jpeg(quality=90) + video


def jpeg_with_trailer() -> bytes:
    return jpeg() + b"\x00\x00SEFH" + b"vendor metadata " * 64 + b"SEFT"


def png_with_trailing_bytes() -> bytes:
    return _save(_image(), "PNG") + b"\x00" * 37 + b"screenshot tool footer"


def cmyk_jpeg() -> bytes:
    return _save(_image("CMYK"), "JPEG")


def png16() -> bytes:
    return _save(Image.new("I;16", (640, 480), 40000), "PNG")


def palette_png() -> bytes:
    return _save(_image("P"), "PNG")


def big_endian_tiff(width: int = 640, height: int = 480) -> bytes:
    """An uncompressed 8-bit grayscale TIFF in Motorola byte order ("MM"), as some
    scanners write."""
    pixels = b"\xff" * (width * height)
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1), (278, 3, 1, height),
               (279, 4, 1, len(pixels))]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = struct.pack(">H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack(">HI", value, 0)[:4] if typ == 3 else struct.pack(">I", value)
        ifd += struct.pack(">HHI", tag, typ, count) + packed
    ifd += struct.pack(">I", 0)
    return b"MM\x00*" + struct.pack(">I", ifd_offset) + ifd + pixels


def top_down_bmp() -> bytes:
    """A BMP whose height is negative: rows stored top to bottom (Windows screenshots)."""
    data = bytearray(_save(_image(), "BMP"))
    (height,) = struct.unpack("<i", data[22:26])
    data[22:26] = struct.pack("<i", -height)
    return bytes(data)


def lossless_webp() -> bytes:
    return _save(_image(), "WEBP", lossless=True)


def ofd_invoice() -> bytes:
    """An OFD e-invoice container (GB/T 33190): a ZIP whose root holds OFD.xml."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?>'
                   '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD">'
                   "<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")
        z.writestr("Doc_0/Document.xml", '<?xml version="1.0" encoding="UTF-8"?>'
                   '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData>'
                   '<ofd:PageArea><ofd:PhysicalBox>0 0 210 140</ofd:PhysicalBox></ofd:PageArea>'
                   "</ofd:CommonData></ofd:Document>")
    return buf.getvalue()


#: name → (maker, API it is routed to, whether Pillow decodes it)
VARIANTS: dict[str, tuple[Callable[[], bytes], str, bool]] = {
    "motion-photo.jpg": (motion_photo, "general-text", True),
    "jpeg-trailer.jpg": (jpeg_with_trailer, "general-text", True),
    "png-trailing-bytes.png": (png_with_trailing_bytes, "general-text", True),
    "progressive.jpg": (lambda: jpeg(progressive=True), "general-text", True),
    "cmyk.jpg": (cmyk_jpeg, "id-card", True),
    "16-bit.png": (png16, "general-text", True),
    "palette.png": (palette_png, "general-text", True),
    "big-endian.tif": (big_endian_tiff, "id-card", True),
    "top-down.bmp": (top_down_bmp, "general-text", True),
    "lossless.webp": (lossless_webp, "general-text", True),
    "e-invoice.ofd": (ofd_invoice, "vat-invoice", False),
}
