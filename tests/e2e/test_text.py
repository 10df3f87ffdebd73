"""``data.text`` with real recognition (the emulator's OCR engine): the lines of a rendered
page come back in reading order, beside the provider's result, for the text APIs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ocrflow.emulator.server import start_emulator
from tests.e2e.test_recognition import render, squash
from tests.support.harness import make_harness


@pytest.mark.parametrize("api", ["general-text", "general-table"])
def test_text_is_the_pages_lines_in_reading_order(tmp_path: Path, api: str, validate_message: Any) -> None:
    n = random.randint(10000, 99999)
    lines = [f"Invoice {n}", "华为云文字识别", f"Total {n % 997} CNY"]
    with start_emulator(credentials={"TESTAK0000000000": "test-secret-key-0000000000000000"}) as emu:
        # the engine loads its models on the first call, which takes long on a busy machine:
        # this test is about the text, not about timeouts
        h = make_harness(tmp_path, emu.url + "/{region}",
                         OCR_ROUTES=json.dumps([{"prefix": "", "api": api}]),
                         OCR_READ_TIMEOUT_S="120", OCR_DEADLINE_S="240")
        h.put("uploads", "page.png", render(lines))
        answer = h.invoke({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "uploads"}, "object": {"key": "page.png"}}}]})
        assert answer["counts"]["results"] == 1, answer
        [message] = [validate_message(m) for m in h.results()]
        h.close()
    assert message["data"]["api"] == api
    assert [squash(line) for line in message["data"]["text"].split("\n")] == [squash(x) for x in lines]
    assert "result" in message["data"]  # the provider's answer stays beside it, verbatim
