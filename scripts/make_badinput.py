"""Generates the bad-input corpus under tests/badinput/ (files and the case manifest).

Run from the repository root: python scripts/make_badinput.py. The output is committed;
very large inputs (huge events, over-limit files) are made by the test at run time.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "tests" / "badinput"
FILES = OUT / "files"


def png(w: int, h: int, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


def image(fmt: str, w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, fmt)
    return buf.getvalue()


def png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def pdf(trailer_extra: bytes = b"") -> bytes:
    """A well-formed one-object-per-line PDF with an xref table, so that its trailer is
    found the way readers find it (startxref → xref → trailer)."""
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj%s endobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


PDF = pdf()
ENCRYPTED_PDF = pdf(b"/Encrypt 3 0 R")

files: dict[str, bytes] = {
    "empty.png": b"",
    "text-named.jpg": b"This is a plain text file with a .jpg name.\n",
    "html-named.png": b"<!doctype html><html><body>not an image</body></html>",
    "json-named.tiff": b'{"not": "an image"}',
    "truncated.png": png(300, 200)[:-40],
    "truncated-header.png": png(300, 200)[:20],
    "truncated.jpg": image("JPEG", 300, 200)[:-300],
    "jpeg-soi-only.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "one-pixel.png": png(1, 1),
    "one-pixel.jpg": image("JPEG", 1, 1),
    "thin-strip.png": png(2000, 10),
    "huge-dimensions.png": png_header(20000, 20000),
    "too-tall-for-cards.png": png_header(100, 9000),
    "document.pdf": PDF,
    "encrypted.pdf": ENCRYPTED_PDF,
    "drawing.svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><text x="10" y="50">hi</text></svg>\n',
    "drawing-noxml.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>',
    "zip-named.png": b"PK\x03\x04" + b"\x00" * 60,
    "gif-truncated.gif": b"GIF89a\x10",
    "bmp-truncated.bmp": b"BM\x00\x00",
    "webp-truncated.webp": b"RIFF\x00\x00\x00\x00WEBPVP8X",
    "random-bytes.png": bytes(range(256)) * 4,
    "utf16-text.jpg": "纯文本，不是图片".encode("utf-16"),
    "good.png": png(200, 80),
}

cases: list[dict[str, object]] = []


def case(name: str, expect: str, *, file: str | None = None, key: str | None = None,
         event: object = None, route: str | None = None, call: bool = False, **extra: object) -> None:
    c: dict[str, object] = {"name": name, "expect": expect, "call": call}
    if file is not None:
        c["file"] = file
    if key is not None:
        c["key"] = key
    if event is not None:
        c["event"] = event
    if route is not None:
        c["api"] = route
    c.update(extra)
    cases.append(c)


# --- events that cannot be parsed at all, or records that are incomplete ------------------
INVALID = "OCRFLOW.EVENT_INVALID"
for i, raw in enumerate([
    "{", '{"Records": [', '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k"', "",
    "null", "42", '"just a string"', "[]", "[1, 2, 3]", "{}", '{"Records": null}', '{"Records": {}}',
    '{"Records": "all"}', '{"Records": [null]}', '{"Records": [42]}', '{"Records": ["x"]}',
    '{"Records": [{}]}', '{"Records": [{"s3": {}}]}', '{"Records": [{"s3": {"bucket": {}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": 5}, "object": {"key": "k"}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": -5}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": true}}}]}',
    '{"Records": [{"s3": {"bucket": {"name": ""}, "object": {"key": "k"}}}]}',
    '{"Records": [{"obs": {"bucket": {"name": "b"}}}]}',
    '{"detail-type": "Object Created", "source": "aws.s3", "detail": {}}',
    '{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}, "object": {"key": null}}}',
    '{"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": "{not json"}]}',
    '{"Records": [{"eventSource": "aws:sqs", "messageId": "m1"}]}',
    '{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "[1"}}]}',
    '{"Type": "Notification", "Message": "not json at all"}',
    '{"source": "HC.OBS.DWR", "specversion": "1.0", "data": {}}',
    '{"source": "HC.OBS.DWR", "specversion": "1.0", "data": "{broken"}',
    '{"unknown": "shape", "Records2": []}',
]):
    case(f"event-{i:02d}", INVALID, event=raw)

# --- keys refused before anything is read -----------------------------------------------------
KEY = "OCRFLOW.KEY_INVALID"
case("key-dotdot", KEY, key="a/../../etc/passwd")
case("key-dotdot-encoded", KEY, key="scans/%2E%2E/secret.png", raw_key=True)
case("key-control-char", KEY, key="scans/bad\x07bell.png")
case("key-newline", KEY, key="scans/line\nbreak.png")
case("key-nul", KEY, key="scans/nul\x00.png")
case("key-too-long", KEY, key="k/" + "x" * 1100 + ".png")
case("key-too-long-multibyte", KEY, key="发" * 400 + ".png")
case("key-empty", KEY, key="")

# --- objects that are not there (any more), or changed ------------------------------------------
case("object-deleted", "OCRFLOW.OBJECT_NOT_FOUND", key="gone/deleted-before-read.png", missing=True)
case("object-etag-mismatch", "OCRFLOW.OBJECT_CHANGED", file="good.png", key="changed.png",
     etag="00000000000000000000000000000000")
case("object-is-folder", "OCRFLOW.OBJECT_NOT_FOUND", key="folder", folder=True)

# --- files refused locally ----------------------------------------------------------------------
for fname, code, api in [
    ("empty.png", "OCRFLOW.EMPTY_OBJECT", None),
    ("text-named.jpg", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("html-named.png", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("json-named.tiff", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("truncated-header.png", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("jpeg-soi-only.jpg", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("one-pixel.png", "OCRFLOW.IMAGE_DIMENSIONS", None),
    ("one-pixel.jpg", "OCRFLOW.IMAGE_DIMENSIONS", None),
    ("thin-strip.png", "OCRFLOW.IMAGE_DIMENSIONS", None),
    ("huge-dimensions.png", "OCRFLOW.DECODE_LIMIT", None),  # fitting it: 1.5 GB decoded
    ("too-tall-for-cards.png", "OCRFLOW.IMAGE_UNREADABLE", "id-card"),  # no pixels to fit
    ("document.pdf", "OCRFLOW.UNSUPPORTED_FORMAT", "id-card"),
    ("document.pdf", "OCRFLOW.UNSUPPORTED_FORMAT", "web-image"),
    ("encrypted.pdf", "OCRFLOW.IMAGE_UNREADABLE", "mvs-invoice"),
    ("encrypted.pdf", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("drawing.svg", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("drawing-noxml.svg", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("zip-named.png", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("gif-truncated.gif", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("bmp-truncated.bmp", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("webp-truncated.webp", "OCRFLOW.IMAGE_UNREADABLE", None),
    ("random-bytes.png", "OCRFLOW.UNSUPPORTED_FORMAT", None),
    ("utf16-text.jpg", "OCRFLOW.UNSUPPORTED_FORMAT", None),
]:
    case(f"file-{fname}-{api or 'general-text'}", code, file=fname,
         key=f"{api or 'general-text'}/{fname}", route=api)

# --- generated at run time (too large to commit) ---------------------------------------------------
case("file-over-limit-by-size", "OCRFLOW.FILE_TOO_LARGE", generate="over_limit", key="big/over.png")
case("file-over-limit-size-in-event", "OCRFLOW.FILE_TOO_LARGE", generate="small_but_event_says_huge",
     key="big/claims-huge.png")
case("event-huge", INVALID, generate="huge_event")
case("event-many-bad-records", INVALID, generate="many_bad_records", expect_count=50)

# --- damaged but maybe decodable: not certain, so sent; the service's refusal is what arrives ----
for fname in ("truncated.png", "truncated.jpg"):
    case(f"file-{fname}-sent", "AIS.0102", file=fname, key=f"general-text/{fname}", call=True,
         answer={"status": 400, "error_code": "AIS.0102"})

# --- provider codes (the API's own refusals), answered by the OCR endpoint ----------------------
for code, status in [("AIS.0101", 400), ("AIS.0102", 400), ("AIS.0103", 400), ("AIS.0104", 400),
                     ("AIS.0105", 400), ("ModelArts.4204", 403)]:
    case(f"provider-{code}", code, file="good.png", key=f"provider/{code}.png", call=True,
         answer={"status": status, "error_code": code})


def main() -> None:
    FILES.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (FILES / name).write_bytes(data)
    (OUT / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{len(cases)} cases, {len(files)} files")


if __name__ == "__main__":
    main()
