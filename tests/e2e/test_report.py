"""``ocrflow run DIR --report FILE.html`` on the demo's samples (and a file the API refuses),
opened in headless Chromium: the page renders offline, every file and its recognized text
are on it, and its screenshot is not blank.

The README's screenshot of the report is this test's: ``OCRFLOW_REPORT_SCREENSHOT=docs/run-report.png``
writes it there (a 256-colour copy of the top of the page)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from ocrflow.cli import main
from ocrflow.emulator.server import start_emulator
from ocrflow.observability import log
from tests.support.documents import squash
from tests.support.harness import run_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"  # a fresh profile per start
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=True)


class Resources(HTMLParser):
    """Every URL the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "data")]


def test_the_run_report_shows_every_file_with_its_text_in_chromium(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "samples"
    shutil.copytree(ROOT / "samples", folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    report = tmp_path / "report.html"
    with start_emulator(credentials={"TESTAK0000000000": "test-secret-key-0000000000000000"}) as emu:
        for name, value in run_env(tmp_path, emu.url + "/{region}", OCR_READ_TIMEOUT_S="120",
                                   OCR_DEADLINE_S="300").items():
            monkeypatch.setenv(name, value)
        # `ocrflow run` quiets the log through the environment: set here, so it is undone after
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        try:
            assert main(["run", str(folder), "--report", str(report)]) == 0
        finally:
            # `ocrflow run` sends the log to the stderr of the moment, here capsys's stream,
            # which closes after this test: later tests would log into a closed file
            log.configure("ocrflow", "INFO", sys.__stderr__)
    printed = capsys.readouterr().out
    assert f"Report: {report}" in printed

    page = report.read_text("utf-8")
    resources = Resources()
    resources.feed(page)
    assert resources.urls and all(u.startswith("data:image/") for u in resources.urls)
    assert "url(" not in page and "@import" not in page and "<script" not in page

    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    sections = dom.split('<section class="file')[1:]
    keys = sorted(p.name for p in folder.iterdir())
    assert sorted(s.split('data-key="', 1)[1].split('"', 1)[0] for s in sections) == keys
    by_key = {s.split('data-key="', 1)[1].split('"', 1)[0]: s for s in sections}
    assert "OCRFLOW.IMAGE_UNREADABLE" in by_key["broken.png"]
    expected = {"english-letter.png": "Quarterly Report 2026", "receipt.jpg": "GREEN LEAF CAFE",
                "chinese-notice.png": "华为云文字识别", "annual-review.pdf": "Hiring continues"}
    for key, text in expected.items():
        assert squash(text) in squash(by_key[key]), key
    assert by_key["annual-review.pdf"].count('<div class="page">') == 3
    assert all("<svg" in by_key[k] and "<rect" in by_key[k] for k in expected)

    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1100,1500", f"--screenshot={shot}", report.as_uri())
    with Image.open(shot) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
        background = max(range(256), key=histogram.__getitem__)
        drawn = sum(n for value, n in enumerate(histogram) if abs(value - background) > 40)
        assert drawn > 0.02 * grey.width * grey.height  # text, images and boxes, not a blank page
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50
        target = os.environ.get("OCRFLOW_REPORT_SCREENSHOT")
        if target:
            image.convert("RGB").crop((0, 0, 1100, 1100)).quantize(
                256, method=Image.Quantize.FASTOCTREE).save(target, optimize=True)
