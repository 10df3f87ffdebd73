"""A small run of the benchmarks (``make bench`` is kept out of ``make test``): the figures
that need no SDK baseline are measured for real at a small size, and what they report must
be complete and well-formed. No timing is asserted: the numbers belong to ``make bench``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "run.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_quick_run_measures_and_writes_every_requested_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = bench("--quick", "--only", "overhead_per_record,burst_batch_of_ten,run_folder",
                "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["machine"]["cores"] >= 1 and results["machine"]["python"].count(".") == 2

    overhead = results["overhead_per_record"]
    assert overhead["records"] == 20
    assert overhead["ours_ms_per_record"] > 0 and overhead["bare_ms_per_record"] > 0
    # the ratio is of the unrounded medians: it agrees with the printed milliseconds
    assert abs(overhead["ratio"] - overhead["ours_ms_per_record"] / overhead["bare_ms_per_record"]) \
        <= 0.05 * overhead["ratio"]

    burst = results["burst_batch_of_ten"]
    # every record of the batch waited for the emulated latency at least once
    assert burst["one_record_ms"] >= burst["latency_ms"]
    assert burst["batch_of_ten_ms"] >= burst["latency_ms"]

    folder = results["run_folder"]
    assert folder["files"] == 40 and folder["files_per_s"] > 0

    for label in ("per record: pipeline vs bare signed POST", "SQS batch of 10 vs 1 record",
                  "ocrflow run, 40 files at 100 ms"):
        assert label in run.stdout
    assert "cold start" not in run.stdout  # not requested, not printed


def test_figures_needing_the_sdk_say_so_and_unknown_figures_are_named(tmp_path: Path) -> None:
    run = bench("--only", "cold_start_import", "--out", str(tmp_path / "r.json"))
    assert run.returncode == 2
    assert "--sdk-python is needed for cold_start_import" in run.stderr

    run = bench("--only", "coldstart", "--out", str(tmp_path / "r.json"))
    assert run.returncode == 2
    assert "unknown figure(s) coldstart" in run.stderr and "cold_start_import" in run.stderr
    assert not (tmp_path / "r.json").exists()


def test_quick_fleet_figure_reports_each_mode(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = bench("--quick", "--only", "fleet_rate_limit", "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    fleet = json.loads(out.read_text())["fleet_rate_limit"]
    for mode in ("without", "with", "too_high", "sliding_without", "sliding_with"):
        f = fleet[mode]
        assert f["uploads_ok"] + f["uploads_failed"] + f["uploads_given_back"] == fleet["uploads"]
        assert f["calls"] >= f["uploads_ok"] and 0 <= f["throttled_share"] <= 1
    # with the limit at the emulator's rate no upload is lost to throttling
    assert fleet["with"]["uploads_failed"] == fleet["with"]["uploads_given_back"] == 0
    assert "throttled share of calls" in run.stdout


def test_quick_run_measures_what_cloud_eye_metrics_add(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = bench("--quick", "--only", "metrics_cloud_eye", "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    figure = json.loads(out.read_text())["metrics_cloud_eye"]
    assert figure["invocations"] == 10 and figure["latency_ms"] == 30
    # every Cloud Eye invocation waited for the endpoint's answer at least once
    assert figure["ces_ms"] >= figure["latency_ms"]
    assert figure["records_done_ces_ms"] > 0 and figure["records_done_emf_ms"] > 0
    assert "invocation, Cloud Eye at 30 ms vs EMF" in run.stdout
