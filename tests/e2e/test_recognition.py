"""The whole pipeline against the emulator with real recognition: text rendered into a
generated image comes back in the published message (Chinese and English)."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrflow.emulator.server import start_emulator
from tests.support.harness import make_harness

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def render(lines: list[str]) -> bytes:
    if not FONT.exists():
        pytest.fail(f"the CJK font {FONT} is missing: `make test` installs it "
                    "(apt-get install fonts-wqy-microhei)")
    font = ImageFont.truetype(str(FONT), 34)
    img = Image.new("RGB", (760, 70 * len(lines) + 40), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 25 + 70 * i), line, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def squash(text: str) -> str:
    return "".join(text.split()).lower()  # the recognizer may still drop a space between words


def test_rendered_text_comes_back_through_the_pipeline(tmp_path: Path, validate_message: Any) -> None:
    n = random.randint(10000, 99999)
    english, chinese = f"Order {n} shipped today", f"华为云文字识别{n}"
    with start_emulator(credentials={"TESTAK0000000000": "test-secret-key-0000000000000000"}) as emu:
        # the first real recognition loads the OCR model; on a busy machine that can pass the
        # harness's 5 s read timeout, and the retry would be a second billed call
        h = make_harness(tmp_path, emu.url + "/{region}", OCR_READ_TIMEOUT_S="60")
        h.put("uploads", f"scans/order {n}.png", render([english, chinese]))
        answer = h.invoke({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "uploads"}, "object": {"key": f"scans/order+{n}.png"}}}]})
        assert answer["counts"]["results"] == 1, answer
        [message] = [validate_message(m) for m in h.results()]
        result = message["data"]["result"]
        words = [b["words"] for b in result["words_block_list"]]
        assert result["words_block_count"] == len(words) >= 2
        assert squash(english) in [squash(w) for w in words]
        assert squash(chinese) in [squash(w) for w in words]
        for block in result["words_block_list"]:
            xs = [p[0] for p in block["location"]]
            ys = [p[1] for p in block["location"]]
            assert len(block["location"]) == 4 and min(xs) >= 0 and min(ys) >= 0  # origin top-left
            assert 0 < block["confidence"] <= 1
        english_block = next(b for b in result["words_block_list"] if squash(b["words"]) == squash(english))
        chinese_block = next(b for b in result["words_block_list"] if squash(b["words"]) == squash(chinese))
        assert english_block["location"][0][1] < chinese_block["location"][0][1]  # y grows downwards
        assert message["data"]["request_id"] and emu.stats()["billed"] == 1
        h.close()
