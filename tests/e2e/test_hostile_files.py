"""Memory bounded by design: the worst files, each handled by the function in a fresh
process (as one invocation is), end in exactly one published message — coded when they
cannot be made to fit — while the process's peak resident memory stays within 256 MB, half
of what the template gives the function. The files are made here (tests/support/hostile.py):
small PNGs that decode to gigabytes, a colour profile that inflates to 1 GiB, a 59 MB PDF of
1.4 million objects, and the phone photos that must still be fitted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.registry import open_queue
from tests.conftest import ROOT
from tests.support import hostile
from tests.support.harness import run_env
from tests.support.replay_server import ReplayServer

#: the target for one record: half the 512 MB the template gives the function
PEAK_LIMIT_MB = 256

RUN = r"""
import json, re, sys
sys.path.insert(0, sys.argv[1])
import handler
event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "uploads"},
         "object": {"key": key}}} for key in sys.argv[2:]]}
out = handler.handler(event, None)
peak = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"counts": out["counts"], "peak_mb": round(peak / 1024, 1)}))
"""

ROUTES = json.dumps([{"prefix": "card/", "api": "id-card"}])

CASES: dict[str, tuple[Any, str]] = {  # key: (how to make it, the message expected)
    # 13000×13000 RGBA (a 670 KB file): 676 MB decoded, 2.1 GB peak before
    "rgba-13000.png": (lambda: hostile.png(13000, 13000), "OCRFLOW.DECODE_LIMIT"),
    # the same in 16-bit greyscale: 1.6 GB peak before
    "grey16-13000.png": (lambda: hostile.png(13000, 13000, bit_depth=16, colour_type=0),
                         "OCRFLOW.DECODE_LIMIT"),
    # over a card's 8192 px, so it must be decoded to fit; its colour profile inflates to 1 GiB
    "card/iccp-bomb.png": (lambda: hostile.iccp_bomb(1 << 30, 9000, 600), "OCRFLOW.DECODE_LIMIT"),
    "card/ztxt-bomb.png": (lambda: hostile.ztxt_bomb(1 << 30, 9000, 600), "OCRFLOW.DECODE_LIMIT"),
    # 59 MB, 1.4 million objects, two pages: 475–832 MB before
    "objects.pdf": (lambda: hostile.many_objects_pdf(1_400_000, referenced=False), "OCRFLOW.DECODE_LIMIT"),
    "objects-referenced.pdf": (lambda: hostile.many_objects_pdf(1_000_000), "OCRFLOW.DECODE_LIMIT"),
    # a ZIP (an OFD is one) listing 600,000 entries: 290 MB to list before
    "entries.zip": (lambda: hostile.many_entries_zip(600_000), "OCRFLOW.FILE_TOO_LARGE"),
    # 60 MB of page markers: a byte scan kept one object per match before (269 MB)
    "markers.pdf": (lambda: hostile.page_markers_pdf(60_000_000), "OCRFLOW.FILE_TOO_LARGE"),
    # a TIFF directory listing 15 million strip offsets: 3.7 GB and two minutes before
    "strips.tif": (lambda: hostile.tiff_tag_flood(15_000_000), "OCRFLOW.DECODE_LIMIT"),
    # 50 MB of metadata before the image, which the decoder keeps: fitted, within the target
    "card/comments.gif": (lambda: hostile.gif_comment_flood(9000, 100, 50_000_000), "result"),
    "card/segments.jpg": (lambda: hostile.jpeg_segment_flood(9000, 100, 900), "result"),
    # 50 pages and 170,000 objects in 7.3 MB: not parsed, every page read by page number from
    # the whole file, eight calls at once each holding the file in base64
    "pages-by-number.pdf": (lambda: hostile.many_objects_pdf(170_000, pages=50, referenced=False), "result"),
    # what must still work: a 33 MB 50-megapixel photo and a 24-megapixel HEIC, fitted
    "photo-50mp.jpg": (lambda: hostile.noise_jpeg(8160, 6120), "result"),
    "photo-24mp.heic": (lambda: hostile.heic_photo(5712, 4284), "result"),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    server = ReplayServer()
    tmp = tmp_path_factory.mktemp("hostile")
    env = run_env(tmp, server.url + "/{region}", OCR_ROUTES=ROUTES,
                  RESULT_QUEUE_URL=f"sqlite:///{tmp}/queues.db?queue=results",
                  FAILURE_QUEUE_URL=f"sqlite:///{tmp}/queues.db?queue=failures",
                  POWERTOOLS_LOG_LEVEL="ERROR", PYTHONPATH=str(ROOT / "shared"))
    yield tmp, env
    server.stop()


def messages(env: dict[str, str], kind: str, key: str) -> list[dict[str, Any]]:
    url = env["RESULT_QUEUE_URL" if kind == "result" else "FAILURE_QUEUE_URL"]
    queue = open_queue(url)
    try:
        return [m for m in queue.dump() if m["subject"] == key]
    finally:
        queue.close()


@pytest.mark.parametrize("key", list(CASES))
def test_the_worst_files_end_in_one_message_within_the_memory_target(
        key: str, workspace: tuple[Path, dict[str, str]], validate_message: Any) -> None:
    tmp, env = workspace
    make, expected = CASES[key]
    path = tmp / "buckets" / "uploads" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make())
    size_mb = path.stat().st_size / 1e6
    done = subprocess.run([sys.executable, "-c", RUN, str(ROOT / "functions" / "recognize"), key],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    results, failures = messages(env, "result", key), messages(env, "failure", key)
    if expected == "result":
        assert len(results) == 1 and not failures, (report, failures)
        validate_message(results[0])
        data = results[0]["data"]
        if key.endswith(".pdf"):
            assert data["pages_total"] == len(data["pages"]) == 50
        else:
            assert data["input"]["format"] == "jpg"  # fitted
    else:
        assert len(failures) == 1 and not results, (report, results)
        validate_message(failures[0])
        assert failures[0]["data"]["error"]["code"] == expected, failures[0]["data"]["error"]
    print(f"{key}: {size_mb:.1f} MB file, peak {report['peak_mb']} MB")
    assert report["peak_mb"] <= PEAK_LIMIT_MB, (key, report)


#: a batch of eight large uploads in one invocation: within the 512 MB the template gives the
#: function, with room to spare (775 and 548 MB before records reserved their memory)
BATCH_PEAK_LIMIT_MB = 400

BATCHES: dict[str, Any] = {
    "scan.pdf": lambda: hostile.scanned_pdf(),  # 63 MB, 50 pages split
    "photo.jpg": lambda: hostile.noise_jpeg(8160, 6120),  # 33–48 MB, fitted
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_a_batch_of_eight_large_uploads_stays_within_the_function_memory(
        name: str, workspace: tuple[Path, dict[str, str]]) -> None:
    tmp, env = workspace
    data = BATCHES[name]()
    keys = [f"batch-{i}-{name}" for i in range(8)]
    folder = tmp / "buckets" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        (folder / key).write_bytes(data)
    done = subprocess.run([sys.executable, "-c", RUN, str(ROOT / "functions" / "recognize"), *keys],
                          env={**env, "OCR_MEMORY_MB": "512"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    failures = [m["data"]["error"] for m in messages(env, "failure", keys[0])]
    assert report["counts"]["results"] == 8, (report, failures)
    for key in keys:
        assert len(messages(env, "result", key)) == 1
    print(f"8 × {name} of {len(data) / 1e6:.1f} MB: peak {report['peak_mb']} MB")
    assert report["peak_mb"] <= BATCH_PEAK_LIMIT_MB, report
