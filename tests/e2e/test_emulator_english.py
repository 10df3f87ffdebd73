"""English recognized with its spaces: the emulator's engine reads the demo's samples and
generated English lines word for word ("GREEN LEAF CAFE", not "GREENLEAFCAFE")."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrflow.emulator.models import TextEngine
from ocrflow.emulator.pdfpages import render_page

ROOT = Path(__file__).resolve().parents[2]
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
WORDS = ("green leaf cafe annual review thank you latte order total invoice paper toner report "
         "sales region north south winter spring office river").split()


@pytest.fixture(scope="module")
def engine() -> TextEngine:
    return TextEngine()


def lines_of(engine: TextEngine, image: bytes) -> list[str]:
    return [b["words"] for b in engine.words(image)]


def test_the_demo_samples_keep_their_spaces(engine: TextEngine) -> None:
    receipt = lines_of(engine, (ROOT / "samples" / "receipt.jpg").read_bytes())
    assert "GREEN LEAF CAFE" in receipt and "Thank you" in receipt and "Latte x2" in receipt
    page = render_page((ROOT / "samples" / "annual-review.pdf").read_bytes(), 1)
    assert lines_of(engine, page)[:2] == ["Annual Review 2026", "Page 1: sales rose in every region"]


def test_generated_english_lines_keep_their_spaces(engine: TextEngine) -> None:
    if not FONT.exists():
        pytest.fail(f"the font {FONT} is missing: `make test` installs it (fonts-wqy-microhei)")
    rng = random.Random(7)
    exact = lost_space = total = 0
    for i in range(12):
        size = (18, 22, 26, 30, 34, 40, 48)[i % 7]
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))) for _ in range(3)]
        lines = [line.upper() if i % 3 == 0 else line.title() if i % 3 == 1 else line for line in lines]
        font = ImageFont.truetype(str(FONT), size)
        image = Image.new("RGB", (max(int(font.getlength(x)) for x in lines) + 60,
                                  40 + len(lines) * (size + 18)), "white")
        draw = ImageDraw.Draw(image)
        for j, line in enumerate(lines):
            draw.text((30, 20 + j * (size + 18)), line, fill="black", font=font)
        out = io.BytesIO()
        image.save(out, "PNG")
        got = lines_of(engine, out.getvalue())
        for line in lines:
            total += 1
            exact += line in got
            lost_space += any(g != line and g.replace(" ", "") == line.replace(" ", "") for g in got)
    # with the engine's default settings 21 of these 36 lines lost a space
    assert lost_space <= 2 and exact >= 0.75 * total, (exact, lost_space, total)
