"""The chaos run: many uploads against the local emulator with injected faults, checking
the product's guarantees end to end. Used by the test suite and by ``scripts/chaos.py``.

Guarantees checked:
* one message per object — results plus failures equal the uploads, every object has one;
* a second delivery of every event calls nothing and publishes nothing;
* billed calls (2xx answers) ≤ results + calls whose answer never arrived (timeouts);
* ocrflow's call metrics (total / success / failed) equal the emulator's counts, except
  that an answer which arrived after the client gave up is a success for the service and
  a failure for us (the run reports how many).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import events as events_mod
from .config import load_settings
from .handler import credentials_for
from .log import configure
from .pipeline import Pipeline
from .runtime import build_runtime


@dataclass
class ChaosReport:
    uploads: int
    results: int
    failures: int
    objects_with_message: int
    objects_with_two_messages: int
    unpublished: int
    billed: int
    unanswered: int
    redelivery_new_calls: int
    redelivery_new_messages: int
    ours: dict[str, int] = field(default_factory=dict)
    emulator: dict[str, int] = field(default_factory=dict)
    failure_codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _png(i: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64 + i % 50, 32 + i % 20), 255).save(buf, "PNG")
    return buf.getvalue()


def run_chaos(uploads: int = 200, fault_rate: float = 0.3, seed: int = 7,
              faults: tuple[str, ...] = ("429", "4401", "500", "503", "504", "reset"),
              batch: int = 10, workdir: Path | None = None, read_timeout_s: float = 2.0,
              slow_ms: int = 3000) -> ChaosReport:
    from .emulator.server import start_emulator

    tmp = Path(workdir or tempfile.mkdtemp(prefix="ocrflow-chaos-"))
    keys = write_uploads(tmp / "buckets" / "chaos", uploads)
    with start_emulator(fault_rate=fault_rate, faults=list(faults), seed=seed, recognition=False,
                        slow_ms=slow_ms, credentials={"CHAOSAK": "CHAOSSK"}) as emulator:
        settings = load_settings({
            "OBJECT_STORE_URL": (tmp / "buckets").as_uri(), "OCRFLOW_STATE_DIR": str(tmp / "state"),
            "OCR_ENDPOINT": emulator.url + "/{region}", "OCR_PROJECT_ID": "chaos-project",
            "HUAWEICLOUD_SDK_AK": "CHAOSAK", "HUAWEICLOUD_SDK_SK": "CHAOSSK",
            "OCR_READ_TIMEOUT_S": str(read_timeout_s), "OCR_MAX_ATTEMPTS": "4",
            "OCR_MAX_CONCURRENCY": "8", "POWERTOOLS_LOG_LEVEL": "ERROR",
        })
        configure(settings.service_name, settings.log_level, io.StringIO())
        rt = build_runtime(settings)
        emf = io.StringIO()
        rt.metrics.stream = emf
        credentials = credentials_for(settings, None)
        events = [_sqs_batch(keys, start, min(start + batch, uploads))
                  for start in range(0, uploads, batch)]
        unanswered = 0

        def deliver(event: dict[str, Any]) -> set[str]:
            """One invocation; returns the SQS message ids to redeliver."""
            nonlocal unanswered
            outcomes = Pipeline(rt).process(events_mod.parse_event(event), credentials,
                                            time.monotonic() + 120.0)
            rt.metrics.flush()
            unanswered += sum(o.billed_unknown for o in outcomes)
            return {o.delivery_id or "" for o in outcomes if not o.done}

        pending = events
        for _ in range(5):  # the platform redelivers what was not published
            retry = []
            for event in pending:
                failed = deliver(event)
                if failed:
                    retry.append({"Records": [r for r in event["Records"] if r["messageId"] in failed]})
            pending = retry
            if not pending:
                break
        unpublished = sum(len(e["Records"]) for e in pending)
        emulator.wait_idle()  # answers that arrive after the client gave up still count
        stats_before = emulator.stats()
        ours = _emf_totals(emf.getvalue())
        results = list(rt.queue("result").dump())
        failures = list(rt.queue("failure").dump())
        for event in events:  # at-least-once: every event arrives a second time
            deliver(event)
        emulator.wait_idle()
        stats_after = emulator.stats()
        results2, failures2 = list(rt.queue("result").dump()), list(rt.queue("failure").dump())
        rt.close()
    subjects = [m["subject"] for m in results + failures]
    codes: dict[str, int] = {}
    for m in failures:
        codes[m["data"]["error"]["code"]] = codes.get(m["data"]["error"]["code"], 0) + 1
    return ChaosReport(
        uploads=uploads, results=len(results), failures=len(failures),
        objects_with_message=len(set(subjects) & set(keys)),
        objects_with_two_messages=len(subjects) - len(set(subjects)),
        unpublished=unpublished, billed=stats_before["billed"], unanswered=unanswered,
        redelivery_new_calls=stats_after["total"] - stats_before["total"],
        redelivery_new_messages=len(results2) + len(failures2) - len(results) - len(failures),
        ours=ours,
        emulator={k: stats_before[k] for k in ("total", "success", "failed", "billed")},
        failure_codes=codes)


# --- several processes on the same uploads ------------------------------------------------
def write_uploads(folder: Path, uploads: int) -> list[str]:
    """Writes ``uploads`` small PNG files into ``folder``; their keys, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [f"upload {i:04d}.png" for i in range(uploads)]
    for i, key in enumerate(keys):
        (folder / key).write_bytes(_png(i))
    return keys


def start_run(folder: Path, env: Mapping[str, str], state_dir: Path) -> subprocess.Popen[str]:
    """One ``ocrflow run`` over ``folder`` — a function instance given every upload — with
    ``env`` as its whole environment and a state folder of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "ocrflow.cli", "run", str(folder)],
        env={**env, "OCRFLOW_STATE_DIR": str(state_dir)}, cwd=state_dir.parent,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass(frozen=True)
class RunCounts:
    """The counts on ``ocrflow run``'s summary line."""

    results: int
    failures: int
    duplicates: int
    unpublished: int

    @classmethod
    def parse(cls, stdout: str) -> RunCounts:
        m = re.search(r"(\d+) results, (\d+) failures, (\d+) already processed, "
                      r"(\d+) not published", stdout)
        if m is None:
            raise ValueError(f"no ocrflow run summary in: {stdout[-500:]!r}")
        return cls(*map(int, m.groups()))


@dataclass(frozen=True)
class MessageCount:
    """What reached the queues, per upload."""

    uploads: int
    messages: int
    #: uploads with at least one result message
    results: int
    most_per_upload: int
    #: uploads with more than one message (the same CloudEvent id republished counts)
    uploads_with_copies: int
    #: uploads with messages of more than one id: two different outcomes
    uploads_with_distinct_messages: int
    uploads_without_message: int


def count_messages(keys: list[str], results: list[dict[str, Any]],
                   failures: list[dict[str, Any]]) -> MessageCount:
    per_upload: dict[str, list[str]] = {key: [] for key in keys}
    for message in results + failures:
        per_upload.setdefault(message["subject"], []).append(message["id"])
    ids = list(per_upload.values())
    return MessageCount(
        uploads=len(keys), messages=len(results) + len(failures),
        results=len({m["subject"] for m in results}),
        most_per_upload=max((len(i) for i in ids), default=0),
        uploads_with_copies=sum(len(i) > 1 for i in ids),
        uploads_with_distinct_messages=sum(len(set(i)) > 1 for i in ids),
        uploads_without_message=sum(not i for i in ids))


def _sqs_batch(keys: list[str], start: int, stop: int) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{i}", "eventSource": "aws:sqs", "body": json.dumps({
        "Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "chaos"}, "object": {"key": keys[i].replace(" ", "+")}}}]})}
        for i in range(start, stop)]}


def _emf_totals(text: str) -> dict[str, int]:
    totals = {"total": 0, "success": 0, "failed": 0}
    for line in text.splitlines():
        doc = json.loads(line)
        totals["total"] += doc.get("OcrCallsTotal", 0)
        totals["success"] += doc.get("OcrCallsSuccess", 0)
        totals["failed"] += doc.get("OcrCallsFailed", 0)
    return totals
