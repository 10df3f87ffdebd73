"""The emulator reads PDFs as the service does: the requested page (``pdf_page_number``
where the API takes it, else page 1) is rendered and recognized; one call bills one page;
a page past the end is refused and not billed."""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Iterator

import pytest

from ocrflow.emulator.server import RunningEmulator, start_emulator
from tests.e2e.test_emulator import call, code
from tests.support.documents import squash, text_pdf, words


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with start_emulator(credentials={"EMUAK": "EMUSK"}) as e:
        yield e


def test_each_requested_page_is_recognized_and_billed_once(emu: RunningEmulator) -> None:
    n = random.randint(1000, 9999)
    lines = [f"Invoice {n} page {p}" for p in (1, 2, 3)]
    image = base64.b64encode(text_pdf([[line] for line in lines])).decode()
    for page, line in enumerate(lines, start=1):
        r = call(emu, body={"image": image, "pdf_page_number": page})
        assert r.status_code == 200, r.text
        assert words(r.json()["result"]) == [squash(line)]
    first = call(emu, body={"image": image})  # no page named: page 1, as documented
    assert words(first.json()["result"]) == [squash(lines[0])]
    assert emu.stats()["billed"] == 4


def test_a_page_past_the_end_or_a_bad_page_number_is_refused_unbilled(emu: RunningEmulator) -> None:
    image = base64.b64encode(text_pdf([["one"], ["two"]])).decode()
    assert code(call(emu, body={"image": image, "pdf_page_number": 3})) == (400, "AIS.0101")
    for bad in (0, -1, "2", True, 1.5):
        assert code(call(emu, body={"image": image, "pdf_page_number": bad})) == (400, "AIS.0101"), bad
    stats = emu.stats()
    assert stats["billed"] == 0 and stats["failed"] == 6


def test_a_broken_pdf_is_refused_as_undecodable(emu: RunningEmulator) -> None:
    broken = base64.b64encode(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n").decode()
    assert code(call(emu, body={"image": broken})) == (400, "AIS.0102")


def test_a_page_of_the_largest_pdf_size_is_rendered_within_a_pixel_budget() -> None:
    # 14400 pt (200 inches) a side, PDF's largest page: at 144 dpi a 3.3 GB bitmap
    from PIL import Image

    from ocrflow.emulator.pdfpages import RENDER_MAX_PIXELS, render_page

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>"]
    pdf, offsets = b"%PDF-1.7\n", []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(pdf)
    pdf += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    pdf += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    page = Image.open(io.BytesIO(render_page(pdf, 1)))
    assert page.width == page.height and page.width * page.height <= RENDER_MAX_PIXELS
    assert page.width > 6000  # as large as the budget allows, not a thumbnail
