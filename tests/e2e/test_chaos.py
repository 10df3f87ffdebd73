"""The chaos run (issue: reliability): 200 uploads at a 30 % fault rate with a fixed seed."""

from __future__ import annotations

from pathlib import Path

from ocrflow.chaos.run import run_chaos


def test_two_hundred_uploads_thirty_percent_faults(tmp_path: Path) -> None:
    # 20 of them three-page PDFs: one call per page, pages saved across redeliveries
    r = run_chaos(uploads=200, fault_rate=0.3, seed=7, workdir=tmp_path, documents=20)
    print(r.as_dict())
    assert r.unpublished == 0
    assert r.results + r.failures == 200
    assert r.objects_with_message == 200 and r.objects_with_two_messages == 0
    assert r.redelivery_new_calls == 0 and r.redelivery_new_messages == 0
    assert r.billed <= r.answers + r.unanswered
    assert r.emulator["failed"] > 0  # faults really happened
    assert r.ours == {k: r.emulator[k] for k in ("total", "success", "failed", "billed")}
    # every message says what its upload cost; together, what the provider billed
    assert r.usage_missing == 0 and r.pages_not_summing == 0
    assert r.usage == {"billed_units": r.emulator["billed"], "calls": r.emulator["total"]}


def test_slow_answers_are_the_only_gap_between_billing_and_results(tmp_path: Path) -> None:
    r = run_chaos(uploads=40, fault_rate=0.3, seed=11, faults=("slow", "500", "reset"),
                  workdir=tmp_path, read_timeout_s=0.5, slow_ms=1500)
    print(r.as_dict())
    assert r.unpublished == 0 and r.results + r.failures == 40
    assert r.objects_with_message == 40 and r.objects_with_two_messages == 0
    assert r.unanswered > 0  # some answers arrived after the client gave up
    assert r.billed <= r.answers + r.unanswered
    assert r.ours["total"] == r.emulator["total"]
    assert r.ours["success"] + r.unanswered == r.emulator["success"]
    # a call that timed out reached the provider: a call in the upload's usage, billed by the
    # provider, in no figure of ours (nobody saw its answer)
    assert r.usage_missing == 0
    assert r.usage == {"billed_units": r.ours["billed"], "calls": r.emulator["total"]}
    assert r.usage["billed_units"] + r.unanswered == r.emulator["billed"]


def test_throttled_uploads_count_every_delivery_in_their_usage(tmp_path: Path) -> None:
    # throttling only, often: records and pages are given back and delivered again, and the
    # calls of the deliveries before are counted in the message the last one publishes
    r = run_chaos(uploads=60, fault_rate=0.6, seed=3, faults=("429", "4401"),
                  workdir=tmp_path, documents=10)
    print(r.as_dict())
    assert r.unpublished == 0 and r.results + r.failures == 60
    assert r.objects_with_message == 60 and r.objects_with_two_messages == 0
    assert r.redelivered > 0  # the ledger was needed
    assert r.ours == {k: r.emulator[k] for k in ("total", "success", "failed", "billed")}
    assert r.usage_missing == 0 and r.pages_not_summing == 0
    assert r.usage == {"billed_units": r.emulator["billed"], "calls": r.emulator["total"]}
