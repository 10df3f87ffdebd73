"""Which library writes the searchable PDF: output size, time, and where the text lands.

Each candidate lays the same pages (the demo's samples as the emulator's engine recognizes
them: an English letter, a Chinese notice, a three-page PDF) as a JPEG with the recognized
lines as invisible text over their boxes. Fidelity: the PDF is read back with PDFium and
each line's characters' loose boxes are compared with the box it was laid on (mean
distance of the four edges, in points). Candidates:

* fpdf2 with the glyphless font (what OCRmyPDF 17 does for its text layers);
* reportlab with its built-in, non-embedded CJK font STSong-Light (reportlab cannot embed
  a font without outlines);
* pikepdf writing the content stream and a Type0/Identity-H font by hand (Tesseract's and
  OCRmyPDF's earlier approach), the same glyphless font embedded.

Run: ``.venv/bin/python bench/pdf_text_layer.py`` (needs the emulator and render extras,
plus ``pip install reportlab pikepdf``, which the project itself does not depend on).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from ocrflow.emulator.models import TextEngine  # noqa: E402
from ocrflow.emulator.pdfpages import render_page  # noqa: E402
from ocrflow.outputs.blocks import Block, blocks_of  # noqa: E402
from ocrflow.outputs.render import FONT  # noqa: E402

DPI = 144
Page = tuple[bytes, int, int, list[Block]]  # jpeg, width px, height px, blocks


def pages() -> list[Page]:
    from PIL import Image

    rec = TextEngine()
    images = [(ROOT / "samples" / "english-letter.png").read_bytes(),
              (ROOT / "samples" / "chinese-notice.png").read_bytes()]
    pdf = (ROOT / "samples" / "annual-review.pdf").read_bytes()
    images += [render_page(pdf, n) for n in (1, 2, 3)]
    out = []
    for data in images:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=85)
        blocks = blocks_of("general-text", {"words_block_list": rec.words(data)})
        out.append((jpeg.getvalue(), image.width, image.height, blocks))
    return out


def pt(v: float) -> float:
    return v * 72 / DPI


def with_fpdf2(doc: list[Page]) -> bytes:
    from fpdf import FPDF

    from ocrflow.outputs.render import lay_text

    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    pdf.add_font("glyphless", fname=str(FONT))
    pdf.set_font("glyphless", size=10)
    for jpeg, w, h, blocks in doc:
        pdf.add_page(format=(pt(w), pt(h)))
        pdf.image(io.BytesIO(jpeg), x=0, y=0, w=pt(w), h=pt(h))
        lay_text(pdf, blocks, 1.0, DPI)
    return bytes(pdf.output())


def with_reportlab(doc: list[Page]) -> bytes:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    c = canvas.Canvas(out)
    for jpeg, w, h, blocks in doc:
        c.setPageSize((pt(w), pt(h)))
        c.drawImage(ImageReader(io.BytesIO(jpeg)), 0, 0, pt(w), pt(h))
        for b in blocks:
            if b.box is None:
                continue
            left, top, right, bottom = (pt(v) for v in b.box)
            size = bottom - top
            natural = pdfmetrics.stringWidth(b.text, "STSong-Light", size)
            t = c.beginText()
            t.setTextRenderMode(3)
            t.setFont("STSong-Light", size)
            t.setHorizScale((right - left) / natural * 100 if natural else 100)
            t.setTextOrigin(left, pt(h) - bottom + 0.2 * size)  # PDF space: origin bottom left
            t.textOut(b.text)
            c.drawText(t)
        c.showPage()
    c.save()
    return out.getvalue()


def with_pikepdf(doc: list[Page]) -> bytes:
    import zlib

    import pikepdf
    from fontTools.ttLib import TTFont

    font_bytes = FONT.read_bytes()
    ttf = TTFont(io.BytesIO(font_bytes))
    cmap, hmtx = ttf.getBestCmap(), ttf["hmtx"].metrics
    order = {name: i for i, name in enumerate(ttf.getGlyphOrder())}
    pdf = pikepdf.new()
    # CID = the UTF-16 code unit; CIDToGIDMap gives each its (empty) glyph and width class
    gids = bytearray(2 * 65536)
    widths: list[int] = []
    for cp in range(65536):
        gid = order.get(cmap.get(cp, ".notdef"), 0)
        gids[2 * cp:2 * cp + 2] = gid.to_bytes(2, "big")
        widths.append(hmtx[ttf.getGlyphOrder()[gid]][0])
    w_array: list[Any] = []
    run_start = 0
    for cp in range(1, 65537):  # runs of equal width: [first last width]
        if cp == 65536 or widths[cp] != widths[run_start]:
            w_array += [run_start, cp - 1, widths[run_start]]
            run_start = cp
    tounicode = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo "
                 b"<< /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS"
                 b" def /CMapType 2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 "
                 b"beginbfrange <0000> <FFFF> <0000> endbfrange endcmap CMapName currentdict /CMap "
                 b"defineresource pop end end")
    descriptor = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name("/OcrflowGlyphless"), Flags=4,
        FontBBox=[0, -200, 1000, 800], ItalicAngle=0, Ascent=800, Descent=-200, CapHeight=700,
        StemV=80, FontFile2=pdf.make_stream(font_bytes)))
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name("/OcrflowGlyphless"), FontDescriptor=descriptor,
        CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        CIDToGIDMap=pdf.make_stream(zlib.compress(bytes(gids)), Filter=pikepdf.Name.FlateDecode),
        W=pikepdf.Array(w_array))
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name("/OcrflowGlyphless"),
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[pdf.make_indirect(cid_font)],
        ToUnicode=pdf.make_stream(tounicode)))
    for jpeg, w, h, blocks in doc:
        from PIL import Image

        image = pikepdf.Stream(pdf, jpeg, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                               Width=w, Height=h, ColorSpace=pikepdf.Name.DeviceRGB,
                               BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
        del Image
        ops = [f"q {pt(w):.3f} 0 0 {pt(h):.3f} 0 0 cm /Im0 Do Q BT 3 Tr".encode()]
        for b in blocks:
            if b.box is None:
                continue
            left, top, right, bottom = (pt(v) for v in b.box)
            size = bottom - top
            units = b.text.encode("utf-16-be")
            natural = sum(widths[int.from_bytes(units[i:i + 2], "big")] for i in range(0, len(units), 2))
            scale = (right - left) / (natural / 1000 * size) * 100 if natural else 100
            ops.append(f"/F0 {size:.3f} Tf {scale:.3f} Tz 1 0 0 1 {left:.3f} "
                       f"{pt(h) - bottom + 0.2 * size:.3f} Tm <{units.hex()}> Tj".encode())
        ops.append(b"ET")
        page = pdf.add_blank_page(page_size=(pt(w), pt(h)))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image),
                                            Font=pikepdf.Dictionary(F0=font))
        page.Contents = pdf.make_stream(zlib.compress(b"\n".join(ops)), Filter=pikepdf.Name.FlateDecode)
    out = io.BytesIO()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def fidelity(data: bytes, doc: list[Page]) -> tuple[float, int]:
    """Mean edge distance (pt) between each line laid and its characters read back, and the
    number of lines whose text did not come back."""
    import pypdfium2 as pdfium

    errors, missing = [], 0
    document = pdfium.PdfDocument(data)
    for index, (_, _, h, blocks) in enumerate(doc):
        page = document[index]
        text_page = page.get_textpage()
        text = text_page.get_text_range()
        at = 0
        for b in blocks:
            if b.box is None:
                continue
            found = text.find(b.text, at)
            if found < 0:
                missing += 1
                continue
            at = found + len(b.text)
            boxes = [text_page.get_charbox(i, loose=True) for i in range(found, at)
                     if not b.text[i - found].isspace()]
            left, bottom = min(x[0] for x in boxes), min(x[1] for x in boxes)
            right, top = max(x[2] for x in boxes), max(x[3] for x in boxes)
            want = [pt(v) for v in b.box]
            page_h = pt(h)
            got = [left, page_h - top, right, page_h - bottom]
            errors.append(statistics.mean(abs(g - w) for g, w in zip(got, want)))
    document.close()
    return (statistics.mean(errors) if errors else float("nan")), missing


def main() -> None:
    doc = pages()
    lines, jpegs = sum(len(p[3]) for p in doc), sum(len(p[0]) for p in doc)
    print(f"{len(doc)} pages, {lines} lines; JPEGs {jpegs:,} bytes")
    print(f"{'library':<10} {'bytes':>9} {'ms/doc':>8} {'edge error pt':>14} {'lines lost':>10}")
    for name, make in (("fpdf2", with_fpdf2), ("reportlab", with_reportlab), ("pikepdf", with_pikepdf)):
        try:
            make(doc)  # warm-up: imports, font parsing
        except ImportError as exc:
            print(f"{name:<10} not installed ({exc.name})")
            continue
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            data = make(doc)
            runs.append((time.perf_counter() - t) * 1000)
        error, lost = fidelity(data, doc)
        print(f"{name:<10} {len(data):>9,} {statistics.median(runs):>8.1f} {error:>14.2f} {lost:>10}")


if __name__ == "__main__":
    main()
