"""Writes shared/ocrflow/outputs/glyphless.ttf: the font of the searchable PDF's invisible text.

A text layer that is never drawn needs no glyph outlines, only widths and a character map,
so one font covers every script in about 12 KB (the approach of Tesseract's GlyphLessFont
and OCRmyPDF's text layers). Every character of the Basic Multilingual Plane maps to one of
four empty glyphs: zero width (combining marks, joiners), one em (wide and fullwidth, i.e.
CJK), half an em (the rest). Run with fontTools installed (it comes with fpdf2):
``python scripts/make_glyphless_font.py``.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.misc.timeTools import timestampFromString
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
from fontTools.ttLib.tables._g_l_y_f import Glyph

OUT = Path(__file__).resolve().parents[1] / "shared" / "ocrflow" / "outputs" / "glyphless.ttf"
EM, ASCENT, DESCENT = 1000, 800, -200
GLYPHS = {".notdef": 500, "space": 500, "zero": 0, "half": 500, "full": 1000}
ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F)}


def glyph_for(cp: int) -> str:
    if cp == 0x20 or cp == 0xA0:
        return "space"
    char = chr(cp)
    if cp in ZERO_WIDTH or unicodedata.category(char).startswith("M"):
        return "zero"
    return "full" if unicodedata.east_asian_width(char) in ("W", "F") else "half"


def main() -> None:
    fb = FontBuilder(EM, isTTF=True)
    fb.setupGlyphOrder(list(GLYPHS))
    empty = {}
    for name in GLYPHS:
        glyph = Glyph()
        glyph.numberOfContours = 0
        empty[name] = glyph
    fb.setupGlyf(empty)
    fb.setupHorizontalMetrics({name: (width, 0) for name, width in GLYPHS.items()})
    fb.setupCharacterMap({0x20: "space"})
    fb.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    fb.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, sTypoLineGap=0, usWinAscent=ASCENT,
                usWinDescent=-DESCENT, sxHeight=500, sCapHeight=700)
    stamp = timestampFromString("Mon Jan  1 00:00:00 2024")  # fixed: the file is reproducible
    fb.setupHead(unitsPerEm=EM, created=stamp, modified=stamp)
    fb.setupPost()
    fb.setupNameTable({"familyName": "OcrflowGlyphless", "styleName": "Regular",
                       "psName": "OcrflowGlyphless-Regular", "version": "Version 1.0"})
    # format 13 maps ranges of characters to one glyph: the whole plane in a few KB
    cmap = CmapSubtable.newSubtable(13)
    cmap.platformID, cmap.platEncID, cmap.language = 3, 10, 0
    cmap.cmap = {cp: glyph_for(cp) for cp in range(0x10000)
                 if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn"}
    fb.font["cmap"].tables = [cmap]
    fb.font.save(str(OUT))
    print(f"{OUT.relative_to(OUT.parents[3])}: {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
