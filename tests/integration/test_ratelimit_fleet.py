"""Several ``ocrflow run`` processes (standing in for function instances) share one rate
limit through Redis against an emulator that throttles like the gateway — counting each
second of its clock, or any one-second window: no upload fails and at most 2 % of calls
are throttled; the same fleet without the limit is throttled heavily (the control that
shows the emulator really refuses)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ocrflow.emulator.server import start_emulator
from tests.conftest import ROOT

QPS, PROCESSES, CONCURRENCY = 10, 3, 8


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (100 + i, 60), 255).save(buf, "PNG")
    return buf.getvalue()


def fleet(tmp: Path, redis_url: str, uploads: int, limit: int | None,
          window: str = "second") -> tuple[list[dict[str, int]], dict[str, Any]]:
    with start_emulator(recognition=False, latency_ms=100, qps=QPS, qps_window=window) as emu:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "shared"),
               "OCR_ENDPOINT": emu.url + "/{region}", "OCR_PROJECT_ID": "fleet-project",
               "HUAWEICLOUD_SDK_AK": "FLEETAK", "HUAWEICLOUD_SDK_SK": "FLEETSK",
               "OCR_MAX_CONCURRENCY": str(CONCURRENCY), "POWERTOOLS_LOG_LEVEL": "ERROR",
               "IDEMPOTENCY_STORE_URL": f"{redis_url}?prefix=ocrflow-test-{uuid.uuid4().hex[:8]}:"}
        if limit is not None:
            env["OCR_MAX_CALLS_PER_SECOND"] = str(limit)
        procs = []
        for p in range(PROCESSES):
            folder = tmp / f"instance{p}"
            folder.mkdir(parents=True)
            for i in range(p, uploads, PROCESSES):
                (folder / f"doc{i:04d}.png").write_bytes(png(i))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "ocrflow.cli", "run", str(folder)],
                env={**env, "OCRFLOW_STATE_DIR": str(tmp / f"state{p}")}, cwd=tmp,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [proc.communicate(timeout=240) for proc in procs]
        stats = emu.stats()
    counts = []
    for stdout, stderr in outs:
        m = re.search(r"(\d+) results, (\d+) failures, \d+ already processed, (\d+) not published", stdout)
        assert m, stdout[-1000:] + stderr[-1000:]
        counts.append(dict(zip(("results", "failures", "unpublished"), map(int, m.groups()))))
    return counts, stats


@pytest.mark.parametrize("window", ["second", "sliding"])
def test_a_fleet_under_one_shared_limit_loses_no_upload_to_throttling(
        tmp_path: Path, redis_url: str, window: str) -> None:
    counts, stats = fleet(tmp_path / "limited", redis_url, 150, QPS, window)
    assert sum(c["results"] for c in counts) == 150
    assert sum(c["failures"] + c["unpublished"] for c in counts) == 0
    assert stats["success"] == stats["billed"] == 150  # one paid call per upload
    assert stats["failed"] <= 0.02 * stats["total"]  # the only refusals are throttles: a handful


def test_the_same_fleet_without_the_limit_is_throttled(tmp_path: Path, redis_url: str) -> None:
    counts, stats = fleet(tmp_path / "unlimited", redis_url, 60, None)
    assert stats["failed"] >= 0.3 * stats["total"]
    assert sum(c["results"] for c in counts) == stats["success"] == stats["billed"]  # never paid twice
