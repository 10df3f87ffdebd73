"""Documents made at test time: PDFs whose pages carry known text, and photos."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def font(size: int = 34) -> ImageFont.FreeTypeFont:
    if not FONT.exists():
        pytest.fail(f"the CJK font {FONT} is missing: `make test` installs it "
                    "(apt-get install fonts-wqy-microhei)")
    return ImageFont.truetype(str(FONT), size)


def text_page(lines: list[str], size: tuple[int, int] = (760, 300)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 70 * i), line, fill="black", font=font())
    return img


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per entry, each showing its lines (rendered as an image)."""
    images = [text_page(lines) for lines in pages]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return buf.getvalue()


def squash(text: str) -> str:
    return "".join(text.split()).lower()  # the recognizer may drop spaces between words


def words(result: dict) -> list[str]:  # type: ignore[type-arg]
    return [squash(b["words"]) for b in result["words_block_list"]]
