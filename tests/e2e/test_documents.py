"""Whole documents through ``ocrflow invoke`` and ``ocrflow run`` against the emulator:
every page of a PDF in one message (one call per page, none again on redelivery, also after
a crash between pages), the budget and page-count guards refusing before any call, and
photos the API would refuse fitted and recognized with one call."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from ocrflow.emulator.server import RunningEmulator, start_emulator
from ocrflow.provider import catalogue
from tests.conftest import ROOT
from tests.support.documents import font, squash, text_page, text_pdf, words

AK, SK = "DOCSAK0000000000", "docs-secret-key-000000000000000"
CAT = catalogue.load()


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with start_emulator(credentials={AK: SK}) as e:
        yield e


@pytest.fixture
def fresh(emu: RunningEmulator) -> RunningEmulator:
    emu.wait_idle()
    emu.reset()
    return emu


class Workspace:
    """A folder with a bucket, an event file per upload and the environment of a user."""

    def __init__(self, root: Path, endpoint: str, **env: str) -> None:
        self.root = root
        self.bucket = root / "buckets" / "uploads"
        self.bucket.mkdir(parents=True)
        self.env = {"OBJECT_STORE_URL": (root / "buckets").as_uri(), "OCR_ENDPOINT": endpoint + "/{region}",
                    "OCR_PROJECT_ID": "docs-project", "HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK,
                    "OCRFLOW_STATE_DIR": str(root / "state"), "OCR_READ_TIMEOUT_S": "60", **env}

    def upload(self, key: str, data: bytes) -> Path:
        path = self.bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "uploads"}, "object": {"key": key, "size": len(data)}}}]}
        event_path = self.root / f"{key.replace('/', '_')}.event.json"
        event_path.write_text(json.dumps(event))
        return event_path

    def popen(self, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), **self.env}
        return subprocess.Popen([sys.executable, "-m", "ocrflow.cli", *args], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ocrflow(self, *args: str) -> tuple[int, str, str]:
        proc = self.popen(*args)
        out, err = proc.communicate(timeout=240)
        return proc.returncode, out, err

    def invoke(self, event: Path) -> dict[str, Any]:
        code, out, err = self.ocrflow("invoke", str(event))
        assert code == 0, err[-3000:]
        return json.loads(out)  # type: ignore[no-any-return]

    def messages(self, which: str = "results") -> list[dict[str, Any]]:
        url = f"sqlite:///{self.root / 'state' / 'queues.db'}?queue={which}"
        code, out, err = self.ocrflow("queue", "dump", url)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]


def calls(emu: RunningEmulator) -> int:
    emu.wait_idle()
    return int(emu.stats()["total"])


def page_lines(pages: int) -> list[str]:
    n = random.randint(1000, 9999)
    return [f"Ledger {n} page {p}" for p in range(1, pages + 1)]


# --- every page, one message --------------------------------------------------------------------
def test_a_multi_page_pdf_ends_in_one_result_with_every_page(tmp_path: Path, fresh: RunningEmulator,
                                                             validate_message: Any) -> None:
    lines = page_lines(3)
    ws = Workspace(tmp_path, fresh.url)
    event = ws.upload("reports/q3.pdf", text_pdf([[line] for line in lines]))
    summary = ws.invoke(event)
    assert summary["counts"]["results"] == 1 and summary["outcomes"][0]["pages"] == 3
    [message] = [validate_message(m) for m in ws.messages()]
    data = message["data"]
    assert "result" not in data and data["pages_total"] == 3
    assert [p["page"] for p in data["pages"]] == [1, 2, 3]
    assert [words(p["result"]) for p in data["pages"]] == [[squash(line)] for line in lines]
    assert all(p["request_id"] for p in data["pages"]) and "input" not in data  # sent as uploaded
    stats = fresh.stats()
    assert stats["total"] == stats["billed"] == 3  # one call per page
    again = ws.invoke(event)  # a redelivery of the same upload
    assert again["counts"]["duplicates"] == 1 and calls(fresh) == 3
    assert len(ws.messages()) == 1


def test_a_large_pdf_is_sent_page_by_page_and_every_page_is_read(tmp_path: Path, fresh: RunningEmulator,
                                                                 validate_message: Any) -> None:
    from pypdf import PdfReader, PdfWriter

    lines = page_lines(3)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([[line] for line in lines]))))
    writer.add_attachment("scan-archive.bin", os.urandom(1_500_000))  # a large file, small pages
    buf = io.BytesIO()
    writer.write(buf)
    ws = Workspace(tmp_path, fresh.url)
    assert ws.invoke(ws.upload("archive.pdf", buf.getvalue()))["counts"]["results"] == 1
    [message] = [validate_message(m) for m in ws.messages()]
    pages = message["data"]["pages"]
    assert [words(p["result"]) for p in pages] == [[squash(line)] for line in lines]
    assert all(p["input"]["format"] == "pdf" for p in pages)  # each page sent alone
    assert calls(fresh) == 3


def test_usage_metrics_and_the_run_table_count_page_calls(tmp_path: Path, fresh: RunningEmulator) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    lines = page_lines(2)
    (folder / "minutes.pdf").write_bytes(text_pdf([[line] for line in lines]))
    (folder / "note.png").write_bytes(_png(text_page(["A single page note"])))
    ws = Workspace(tmp_path, fresh.url)
    code, out, err = ws.ocrflow("run", str(folder))
    assert code == 0, err[-3000:]
    row = next(line for line in out.splitlines() if line.startswith("minutes.pdf"))
    assert "result (2 pages)" in row and squash(lines[0]) in squash(row)
    assert "OCR calls general-text @ cn-north-4: 3 total, 3 success, 0 failed" in out
    assert calls(fresh) == 3


# --- nothing paid twice ------------------------------------------------------------------------------
def test_a_crash_between_pages_pays_on_redelivery_only_for_pages_not_answered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validate_message: Any) -> None:
    lines = page_lines(4)
    data = text_pdf([[line] for line in lines])
    with start_emulator(credentials={AK: SK}, latency_ms=700) as emu:
        ws = Workspace(tmp_path, emu.url, OCR_MAX_CONCURRENCY="1")
        event = ws.upload("scans/contract.pdf", data)
        proc = ws.popen("invoke", str(event))
        deadline = time.monotonic() + 120
        while emu.stats()["billed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # page 2's answer saved, page 3 on its way
        proc.send_signal(signal.SIGKILL)  # the function dies between pages
        proc.wait(30)
        billed_before = calls(emu)
        assert 2 <= billed_before < 4
        assert ws.messages() == []  # nothing was published
        saved = _saved_pages(ws, data)
        assert len(saved) >= 2 and set(saved) <= {1, 2, 3}

        # the redelivery comes once the dead invocation's claim has lapsed
        from ocrflow import cli
        from ocrflow.adapters.idempotency import policy as idempotency_policy

        class AnHourLater:
            @staticmethod
            def time() -> float:
                return time.time() + 3600

        monkeypatch.setattr(idempotency_policy, "time", AnHourLater)  # the one clock of expiry
        for name, value in ws.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(ws.root)
        assert cli.main(["invoke", str(event)]) == 0
        assert calls(emu) - billed_before == 4 - len(saved)  # only the pages not yet answered
    [message] = [validate_message(m) for m in ws.messages()]
    assert [words(p["result"]) for p in message["data"]["pages"]] == [[squash(line)] for line in lines]


def test_time_running_out_mid_document_leaves_it_for_redelivery_which_finishes_it(
        tmp_path: Path, validate_message: Any) -> None:
    with start_emulator(credentials={AK: SK}, latency_ms=1500, recognition=False) as emu:
        ws = Workspace(tmp_path, emu.url, OCR_MAX_CONCURRENCY="1", OCR_DEADLINE_S="3.8")
        event = ws.upload("long.pdf", text_pdf([["one"], ["two"], ["three"]]))
        pending = 0
        for _ in range(3):
            code, out, err = ws.ocrflow("invoke", str(event))
            if code == 0:
                assert json.loads(out)["counts"]["results"] == 1
                break
            # not published: the platform redelivers the record
            logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
            assert any(entry.get("code") == "OCRFLOW.PAGES_PENDING" for entry in logs), err[-2000:]
            pending += 1
        assert code == 0 and pending >= 1
        assert calls(emu) == 3  # every page once, over the deliveries
    [message] = [validate_message(m) for m in ws.messages()]
    assert [p["page"] for p in message["data"]["pages"]] == [1, 2, 3]


def test_a_failed_page_fails_the_document_naming_it_and_keeps_the_pages_answered(
        tmp_path: Path, validate_message: Any) -> None:
    # seed 0 at rate 0.5: the first request passes, the second and third get HTTP 500
    with start_emulator(credentials={AK: SK}, recognition=False, fault_rate=0.5, faults=["500"],
                        seed=0) as emu:
        ws = Workspace(tmp_path, emu.url, OCR_MAX_CONCURRENCY="1", OCR_MAX_ATTEMPTS="1")
        event = ws.upload("bundle.pdf", text_pdf([["one"], ["two"], ["three"]]))
        summary = ws.invoke(event)
        assert summary["counts"]["failures"] == 1
        assert calls(emu) == 2  # page 3 is not called once page 2 failed
    [failure] = [validate_message(m) for m in ws.messages("failures")]
    data = failure["data"]
    assert data["failed_page"] == 2 and data["pages_total"] == 3
    assert data["error"]["code"] == "Emulator.InjectedFault"
    assert data["error"]["message"].startswith("page 2 of 3: ")
    assert [p["page"] for p in data["pages"]] == [1]


# --- nothing paid blindly ---------------------------------------------------------------------------
def test_the_budget_counts_pages_and_refuses_a_document_that_does_not_fit(
        tmp_path: Path, fresh: RunningEmulator, validate_message: Any) -> None:
    ws = Workspace(tmp_path, fresh.url, OCR_MAX_CALLS_PER_DAY="3")
    three = ws.upload("three.pdf", text_pdf([["one"], ["two"], ["three"]]))
    assert ws.invoke(three)["counts"]["results"] == 1  # 3 of 3
    two = ws.upload("two.pdf", text_pdf([["four"], ["five"]]))
    assert ws.invoke(two)["counts"]["failures"] == 1
    assert calls(fresh) == 3  # nothing paid for the document that did not fit
    [failure] = [validate_message(m) for m in ws.messages("failures")]
    assert failure["data"]["error"]["code"] == "OCRFLOW.BUDGET_EXCEEDED"
    assert failure["data"]["pages_total"] == 2


def test_a_pdf_over_the_page_limit_is_refused_before_any_call(tmp_path: Path, fresh: RunningEmulator,
                                                              validate_message: Any) -> None:
    ws = Workspace(tmp_path, fresh.url, OCR_MAX_PDF_PAGES="2")
    event = ws.upload("thick.pdf", text_pdf([["one"], ["two"], ["three"]]))
    assert ws.invoke(event)["counts"]["failures"] == 1
    [failure] = [validate_message(m) for m in ws.messages("failures")]
    assert failure["data"]["error"]["code"] == "OCRFLOW.PDF_TOO_MANY_PAGES"
    assert calls(fresh) == 0


# --- fit, then call ---------------------------------------------------------------------------------
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _saved_pages(ws: Workspace, data: bytes) -> dict[int, Any]:
    import hashlib

    from ocrflow.adapters.registry import open_idempotency_store
    from ocrflow.core.models import ObjectRef
    from ocrflow.flow import keys, pages

    store = open_idempotency_store(f"sqlite:///{ws.root / 'state' / 'idempotency.db'}")
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    ref = ObjectRef("uploads", "scans/contract.pdf", None, etag)
    try:
        return pages.saved_pages(store, keys.document_key(ref, "general-text", "cn-north-4"), 4, 0.0)
    finally:
        store.close()


def test_an_oversized_phone_photo_is_fitted_and_recognized_with_one_call(
        tmp_path: Path, fresh: RunningEmulator, validate_message: Any) -> None:
    n = random.randint(1000, 9999)
    photo = Image.merge("RGB", [Image.effect_noise((4400, 3300), 40) for _ in range(3)])
    ImageDraw.Draw(photo).rectangle((150, 250, 3900, 700), fill="white")
    ImageDraw.Draw(photo).text((200, 300), f"Receipt {n}", fill="black", font=font(300))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=97)
    assert buf.tell() > CAT.max_file_bytes  # over the 10 MB base64 limit
    ws = Workspace(tmp_path, fresh.url)
    assert ws.invoke(ws.upload("camera/IMG_0001.jpg", buf.getvalue()))["counts"]["results"] == 1
    [message] = [validate_message(m) for m in ws.messages()]
    sent = message["data"]["input"]
    assert sent["format"] == "jpg" and sent["width"] * sent["height"] <= 24_000_000
    assert sent["scale"] == pytest.approx(sent["width"] / 4400, abs=1e-4)
    assert squash(f"Receipt {n}") in words(message["data"]["result"])
    stats = fresh.stats()
    assert stats["total"] == stats["billed"] == 1  # the emulator refuses a body over the limits


def test_an_over_wide_id_card_scan_is_scaled_to_8192_px_and_recognized(
        tmp_path: Path, fresh: RunningEmulator, validate_message: Any) -> None:
    scan = Image.new("L", (9000, 1400), 255)
    ImageDraw.Draw(scan).text((100, 100), "IDENTITY CARD", fill=0, font=font(200))
    routes = json.dumps([{"prefix": "cards/", "api": "id-card"}])
    ws = Workspace(tmp_path, fresh.url, OCR_ROUTES=routes)
    assert ws.invoke(ws.upload("cards/front.png", _png(scan)))["counts"]["results"] == 1
    [message] = [validate_message(m) for m in ws.messages()]
    assert message["data"]["api"] == "id-card"
    assert message["data"]["input"] == {"format": "jpg", "width": 8192, "height": 1274,
                                        "scale": pytest.approx(8192 / 9000, abs=1e-5)}
    assert fresh.stats()["billed"] == 1


def test_a_heic_photo_is_converted_upright_and_recognized(tmp_path: Path, fresh: RunningEmulator,
                                                          validate_message: Any) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    n = random.randint(1000, 9999)
    upright = text_page([f"Parcel {n} delivered"], size=(900, 240))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned a quarter clockwise, shown upright by phones
    buf = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_270).save(buf, "HEIF", quality=90, exif=exif.tobytes())
    ws = Workspace(tmp_path, fresh.url)
    refused = Workspace(tmp_path / "off", fresh.url, OCR_FIT_IMAGES="false")
    event = refused.upload("IMG_0002.HEIC", buf.getvalue())
    assert refused.invoke(event)["outcomes"][0]["code"] == "OCRFLOW.UNSUPPORTED_FORMAT"
    assert calls(fresh) == 0
    assert ws.invoke(ws.upload("IMG_0002.HEIC", buf.getvalue()))["counts"]["results"] == 1
    [message] = [validate_message(m) for m in ws.messages()]
    assert message["data"]["input"] == {"format": "jpg", "width": 900, "height": 240, "scale": 1.0}
    assert words(message["data"]["result"]) == [squash(f"Parcel {n} delivered")]
    assert fresh.stats()["billed"] == 1
