"""Outputs made from the emulator's real recognition of an image and a three-page PDF: the
searchable PDF's text is read back on the right page near the right place, the hOCR parses
and its boxes lie within its pages, the Markdown holds the text; ``ocrflow render`` writes
one file per upload and reports, without stopping, a failure and an original that is gone."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring  # an XML parser (fpdf2 brings defusedxml)
from PIL import Image, ImageDraw

from ocrflow import consumer
from ocrflow.adapters.registry import open_object_store
from ocrflow.cli import main
from ocrflow.emulator.server import start_emulator
from tests.support.documents import font, squash, text_pdf
from tests.support.harness import Harness, make_harness

N = random.randint(10000, 99999)
IMAGE_LINES = [f"Order {N} shipped", "华为云文字识别"]
PDF_PAGES = [[f"Annual review {N}", "sales rose"], ["第二页运营", f"Page two {N}"],
             [f"Outlook {N}", "hiring continues"]]
LINE_STEP, IMAGE_TOP, PDF_TOP, LEFT = 70, 25, 40, 30  # where the lines are drawn


def image_with(lines: list[str]) -> bytes:
    img = Image.new("RGB", (760, 70 * len(lines) + 40), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((LEFT, IMAGE_TOP + LINE_STEP * i), line, fill="black", font=font())
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def drawn_box(line: str, x: float, y: float, scale: float) -> tuple[float, float, float, float]:
    """Where PIL drew ``line`` at (x, y), in PDF points (``scale`` points per pixel)."""
    left, top, right, bottom = font().getbbox(line)
    return ((x + left) * scale, (y + top) * scale, (x + right) * scale, (y + bottom) * scale)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("render")
    with start_emulator(credentials={"TESTAK0000000000": "test-secret-key-0000000000000000"}) as emu:
        h = make_harness(tmp, emu.url + "/{region}", OCR_READ_TIMEOUT_S="120", OCR_DEADLINE_S="300")
        h.put("uploads", "scans/order.png", image_with(IMAGE_LINES))
        h.put("uploads", "reports/annual.pdf", text_pdf(PDF_PAGES))
        h.put("uploads", "broken.png", b"\x89PNG\r\n\x1a\n not an image")
        h.put("uploads", "gone.png", image_with(["Soon deleted"]))
        records = [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "uploads"},
                                                             "object": {"key": k}}}
                   for k in ("scans/order.png", "reports/annual.pdf", "broken.png", "gone.png")]
        answer = h.invoke({"Records": records})
        assert answer["counts"]["results"] == 3 and answer["counts"]["failures"] == 1, answer
        (h.root / "uploads" / "gone.png").unlink()
        messages = {m["data"]["object"]["key"]: m for m in h.results()}
        yield h, messages
        h.close()


def store(h: Harness) -> Any:
    return open_object_store(h.settings.object_store_url)


def read_pdf(data: bytes) -> list[tuple[float, str, list[tuple[float, float, float, float]]]]:
    """Each page: its height, its text, and each character's box (left, top, right, bottom in
    points from the top left)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    pages = []
    for page in document:
        height = page.get_height()
        text_page = page.get_textpage()
        count = text_page.count_chars()
        text = text_page.get_text_range(0, count)
        boxes = []
        for i in range(count):
            left, bottom, right, top = text_page.get_charbox(i, loose=True)
            boxes.append((left, height - top, right, height - bottom))
        pages.append((height, text, boxes))
    document.close()
    return pages


def find_line(text: str, boxes: list[Any], line: str) -> tuple[float, float, float, float]:
    """The box around ``line``'s characters in the page's text (spaces ignored)."""
    chars = [(c.lower(), b) for c, b in zip(text, boxes) if not c.isspace()]
    flat = "".join(c for c, _ in chars)
    at = flat.find(squash(line))
    assert at >= 0, (line, text)
    found = [b for _, b in chars[at:at + len(squash(line))]]
    return (min(b[0] for b in found), min(b[1] for b in found),
            max(b[2] for b in found), max(b[3] for b in found))


def near(got: tuple[float, ...], want: tuple[float, ...], tolerance: float) -> bool:
    """The read-back box starts where the drawn one does and shares its vertical middle."""
    return (abs(got[0] - want[0]) <= tolerance
            and abs((got[1] + got[3]) / 2 - (want[1] + want[3]) / 2) <= tolerance)


def test_searchable_pdf_of_an_image_has_its_text_where_it_is_drawn(run: Any) -> None:
    h, messages = run
    data = consumer.render(messages["scans/order.png"], "pdf", store(h))
    [(height, text, boxes)] = read_pdf(data)
    # a photo's pixels lie on the page at 144 per inch: half a point each
    assert height == pytest.approx((70 * len(IMAGE_LINES) + 40) / 2)
    for i, line in enumerate(IMAGE_LINES):
        want = drawn_box(line, LEFT, IMAGE_TOP + LINE_STEP * i, 0.5)
        # the lines are 35 points apart: half of that tells a line from its neighbour
        assert near(find_line(text, boxes, line), want, 12), (line, want)


def test_searchable_pdf_of_a_pdf_has_each_pages_text_on_that_page(run: Any) -> None:
    h, messages = run
    data = consumer.render(messages["reports/annual.pdf"], "pdf", store(h))
    pages = read_pdf(data)
    assert len(pages) == len(PDF_PAGES)
    for (height, text, boxes), lines in zip(pages, PDF_PAGES):
        assert height == pytest.approx(300)  # the original page's size, in points
        for i, line in enumerate(lines):
            want = drawn_box(line, LEFT, PDF_TOP + LINE_STEP * i, 1.0)
            assert near(find_line(text, boxes, line), want, 20), (line, want)
        others = [x for page in PDF_PAGES if page is not lines for x in page]
        assert not any(squash(o) in squash(text) for o in others)


def test_hocr_parses_and_its_boxes_lie_within_its_pages(run: Any) -> None:
    h, messages = run
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    for key, pages in (("scans/order.png", [IMAGE_LINES]), ("reports/annual.pdf", PDF_PAGES)):
        root = fromstring(consumer.render(messages[key], "hocr", store(h)))
        divs = root.findall(".//h:div[@class='ocr_page']", ns)
        assert len(divs) == len(pages)
        for div, lines in zip(divs, pages):
            props = dict(p.strip().split(" ", 1) for p in div.get("title", "").split(";"))
            _, _, width, height = map(int, props["bbox"].split())
            words = div.findall(".//h:span[@class='ocrx_word']", ns)
            assert div.findall(".//h:span[@class='ocr_line']", ns) and words
            for word in words:
                title = dict(p.strip().split(" ", 1) for p in word.get("title", "").split(";"))
                x0, y0, x1, y1 = map(int, title["bbox"].split())
                assert 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height
                assert 0 <= int(title["x_wconf"]) <= 100
            said = squash("".join(w.text or "" for w in words))
            assert all(squash(line) in said for line in lines)


def test_markdown_holds_the_text_page_by_page(run: Any) -> None:
    h, messages = run
    image = consumer.render(messages["scans/order.png"], "markdown").decode()
    assert image.startswith("# scans/order.png\n")
    assert all(squash(line) in squash(image) for line in IMAGE_LINES)
    document = consumer.render(messages["reports/annual.pdf"], "markdown").decode()
    sections = document.split("## Page ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == ["1", "2", "3"]
    for section, lines in zip(sections, PDF_PAGES):
        assert all(squash(line) in squash(section) for line in lines)


def test_the_render_command_writes_one_file_per_upload_and_reports_the_rest(
        run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h, _ = run
    out = tmp_path / "out"
    for fmt, suffix in (("pdf", ".pdf"), ("hocr", ".hocr"), ("markdown", ".md"), ("text", ".txt")):
        for kind in ("result", "failure"):
            code = main(["render", fmt, h.settings.queue_url(kind), "--out", str(out),
                         "--store", h.settings.object_store_url])
            err = capsys.readouterr().err
            if kind == "failure":
                assert code == 1 and "broken.png: failed (OCRFLOW." in err
                continue
            assert (out / "scans" / f"order.png{suffix}").stat().st_size > 0
            assert (out / "reports" / f"annual.pdf{suffix}").stat().st_size > 0
            if fmt in ("pdf", "hocr"):  # the formats that read the original
                assert code == 1 and "gone.png: the original uploads/gone.png is gone" in err
                assert not (out / f"gone.png{suffix}").exists()
            else:
                assert code == 0 and (out / f"gone.png{suffix}").exists()
    assert sorted(p.name for p in out.rglob("*") if p.is_file() and "order" in p.name) == [
        "order.png.hocr", "order.png.md", "order.png.pdf", "order.png.txt"]


def test_markdown_is_the_providers_own_when_the_route_asks_for_it(tmp_path: Path) -> None:
    routes = json.dumps([{"api": "general-text", "options": {"return_markdown_result": True}}])
    with start_emulator(credentials={"TESTAK0000000000": "test-secret-key-0000000000000000"}) as emu:
        h = make_harness(tmp_path, emu.url + "/{region}", OCR_ROUTES=routes,
                         OCR_READ_TIMEOUT_S="120", OCR_DEADLINE_S="300")
        h.put("uploads", "row.png", image_with([f"Left {N}"]))
        answer = h.invoke({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "uploads"}, "object": {"key": "row.png"}}}]})
        assert answer["counts"]["results"] == 1, answer
        [message] = h.results()
        h.close()
    provided = message["data"]["result"]["markdown_result"]
    assert squash(f"Left {N}") in squash(provided)
    assert consumer.render(message, "markdown").decode() == f"# row.png\n\n{provided}\n"
