"""The outputs' decisions that need no recognition: where a file goes (never outside the
output folder), Markdown of tables and fields, what a failure renders, the photo laid on a
PDF page when ocrflow fitted it, per-block boxes and confidences."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ocrflow import consumer
from ocrflow.outputs.blocks import blocks_of, split_words
from ocrflow.outputs.render import RenderError, _photo, output_path, render_message, to_markdown

RECORDED = Path(__file__).resolve().parents[2] / "shared" / "ocrflow" / "emulator" / "recorded"


def result_message(api: str, result: Any, key: str = "docs/a.png", **data: Any) -> consumer.OcrResult:
    message = consumer.parse({
        "specversion": "1.0", "id": "m-1", "source": "ocrflow/recognize", "type": "ocr.result.v1",
        "time": "2026-12-05T00:00:00.000Z", "subject": key,
        "data": {"object": {"bucket": "b", "key": key, "etag": "e", "size": 1}, "api": api,
                 "ocr_region": "cn-north-4", "request_id": None, "attempts": 1, "duration_ms": 5,
                 "result": result, **data}})
    assert isinstance(message, consumer.OcrResult)
    return message


def test_a_file_is_named_after_its_key_under_the_folder(tmp_path: Path) -> None:
    assert output_path(tmp_path, "invoices/a.png", "pdf") == tmp_path.resolve() / "invoices" / "a.png.pdf"
    assert output_path(tmp_path, "a b/c.jpg", "markdown").name == "c.jpg.md"
    assert output_path(tmp_path, "x.png", "hocr").suffix == ".hocr"


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs/key", "a//b", "./a", "a/./b",
                                 "", "a\x00b", "a\nb", "a/..", ".."])
def test_keys_that_would_leave_the_folder_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(RenderError):
        output_path(tmp_path, key, "pdf")


def test_no_key_ever_names_a_file_outside_the_folder(tmp_path: Path) -> None:
    """Seeded keys made of path pieces: whatever is accepted lies under the folder."""
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "link").symlink_to(tmp_path)  # a link inside the folder leading out of it
    rng = random.Random(25)
    pieces = ["..", ".", "", "a", "b.png", "link", "/", "\\", "~", "%2e%2e", "\u2025", " ", "..."]
    accepted = 0
    for _ in range(3000):
        key = "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        try:
            path = output_path(out, key, "pdf")
        except RenderError:
            continue
        accepted += 1
        assert path.resolve().is_relative_to(out.resolve()), key
        parts = Path(key).parts
        assert len(parts) == 1 or parts[0] != "link", key  # through the link is outside
    assert accepted > 100  # the generator also makes keys that are fine


def test_a_failure_renders_nothing() -> None:
    failure = consumer.parse({
        "specversion": "1.0", "id": "f-1", "source": "ocrflow/recognize", "type": "ocr.failure.v1",
        "time": "2026-12-05T00:00:00.000Z",
        "data": {"object": {"bucket": "b", "key": "k.png"}, "api": "general-text",
                 "error": {"code": "AIS.0103", "message": "too large", "source": "provider",
                           "retryable": False}}})
    for fmt in ("pdf", "markdown", "hocr", "text"):
        with pytest.raises(RenderError, match="AIS.0103"):
            render_message(failure, fmt, None)
    with pytest.raises(RenderError, match="unknown format"):
        render_message(failure, "docx", None)


def test_a_table_becomes_a_markdown_table_with_cells_in_their_places() -> None:
    cell = lambda w, r, c: {"words": w, "rows": [r], "columns": [c], "confidence": 0.9,  # noqa: E731
                            "location": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    result = {"words_region_count": 2, "words_region_list": [
        {"type": "text", "words_block_list": [{"words": "Stock list", "confidence": 0.99}]},
        {"type": "table", "words_block_list": [
            cell("Item", 0, 0), cell("Qty", 0, 1), cell("Pa|per", 1, 0), cell("10", 1, 1),
            cell("Toner", 2, 0)]}]}
    md = to_markdown(result_message("general-table", result)).decode()
    assert md == ("# docs/a.png\n\nStock list  \n\n| Item | Qty |\n| --- | --- |\n"
                  "| Pa\\|per | 10 |\n| Toner |  |\n")


def test_card_fields_become_a_field_value_table() -> None:
    answer = json.loads((RECORDED / "id-card.json").read_text("utf-8"))["result"]
    md = to_markdown(result_message("id-card", answer)).decode()
    rows = md.split("\n")[2:]
    assert rows[:2] == ["| field | value |", "| --- | --- |"]
    assert {r.split(" | ")[0].lstrip("| ") for r in rows[2:] if r} == set(answer)


def test_the_providers_markdown_is_used_as_it_is() -> None:
    result = {"words_block_list": [{"words": "a"}], "markdown_result": "a\tb\nc"}
    assert to_markdown(result_message("general-text", result)).decode() == "# docs/a.png\n\na\tb\nc\n"


def test_a_fitted_photo_is_laid_upright_at_the_size_it_was_sent() -> None:
    """A photo stored sideways (EXIF orientation 6) and scaled down by fitting: the page
    image is the sent one, so the result's boxes land on it without conversion."""
    image = Image.new("RGB", (400, 200), "white")
    image.paste((255, 0, 0), (0, 0, 40, 40))  # a mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    page, encoded = _photo(out.getvalue(), {"format": "jpg", "width": 100, "height": 200, "scale": 0.5})
    assert page.size == (100, 200) and encoded is None
    # turned: the red mark is now top right (green channel low), the bottom left is white
    assert page.getpixel((90, 5))[1] < 60 < page.getpixel((5, 190))[1]
    same, encoded = _photo(out.getvalue(), None)  # sent as it was: the stored pixels and bytes
    assert same.size == (400, 200) and encoded == out.getvalue()


def test_blocks_carry_box_and_confidence_and_words_share_the_line() -> None:
    result = {"words_block_list": [
        {"words": "ab cd", "confidence": 0.5, "location": [[10, 20], [60, 18], [61, 40], [10, 42]]},
        {"words": "x"}]}
    first, second = blocks_of("general-text", result)
    assert first.box == (10, 18, 61, 42) and first.confidence == 0.5
    assert second.box is None and second.confidence is None
    words = split_words(first)
    assert [w.text for w in words] == ["ab", "cd"]
    assert words[0].box is not None and words[1].box is not None
    assert words[0].box[0] == 10 and words[1].box[2] == 61 and words[0].box[2] < words[1].box[0]
    seal = {"seal_list": [{"words_block_list": [{"words": "章", "words_confidence": 0.8}]}]}
    assert blocks_of("seal", seal)[0].confidence == 0.8
    assert blocks_of("id-card", {"name": "x"}) == []


def test_a_claim_checked_result_is_fetched_and_checked_before_it_renders(tmp_path: Path) -> None:
    import hashlib

    pages = [{"page": 1, "result": {"words_block_list": [{"words": "first page"}]}},
             {"page": 2, "result": {"words_block_list": [{"words": "second page"}]}}]
    stored = json.dumps(pages).encode()
    # where the producer writes it: the upload's bucket, ocrflow-results/<message id>.json
    path = tmp_path / "b" / "ocrflow-results" / "m-1.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(stored)
    ref = {"url": path.as_uri(), "bytes": len(stored), "sha256": hashlib.sha256(stored).hexdigest()}
    message = result_message("general-text", None, key="long.pdf", result_ref=ref, pages_total=2)
    store = tmp_path.as_uri()
    md = consumer.render(message, "markdown", store).decode()
    assert "## Page 1\n\nfirst page" in md and "## Page 2\n\nsecond page" in md
    path.write_bytes(stored.replace(b"first", b"FIRST"))  # not the bytes the message names
    with pytest.raises(consumer.ResultRefError):
        consumer.render(message, "markdown", store)
