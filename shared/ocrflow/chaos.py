"""The chaos run: many uploads against the local emulator with injected faults, checking
the product's guarantees end to end. Used by the test suite and by ``scripts/chaos.py``.

Guarantees checked:
* one message per object — results plus failures equal the uploads, every object has one;
* a second delivery of every event calls nothing and publishes nothing;
* billed calls (2xx answers) ≤ answers kept in messages (a result, a document's page) + calls
  whose answer never arrived (timeouts);
* ocrflow's call metrics (total / success / failed) equal the emulator's counts, except
  that an answer which arrived after the client gave up is a success for the service and
  a failure for us (the run reports how many);
* ``data.usage`` summed over the published messages equals the metrics (``OcrCallsTotal``,
  ``OcrBilledUnits``) and the emulator's own count of calls and billed units (less the
  answers that arrived after the client gave up, which the provider bills and nobody saw);
  a document's pages add up to its ``data.usage``.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
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
    #: deliveries that gave their record back unpublished (throttled, pages pending)
    redelivered: int
    billed: int
    unanswered: int
    redelivery_new_calls: int
    redelivery_new_messages: int
    ours: dict[str, int] = field(default_factory=dict)
    emulator: dict[str, int] = field(default_factory=dict)
    failure_codes: dict[str, int] = field(default_factory=dict)
    #: provider answers the messages keep: one per result, one per answered page
    answers: int = 0
    #: ``data.usage`` summed over every published message
    usage: dict[str, int] = field(default_factory=dict)
    #: messages without ``data.usage``, and documents whose pages do not add up to it
    usage_missing: int = 0
    pages_not_summing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _png(i: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64 + i % 50, 32 + i % 20), 255).save(buf, "PNG")
    return buf.getvalue()


def _pdf(i: int, pages: int) -> bytes:
    from PIL import Image

    images = [Image.new("L", (64 + i % 50, 32 + p), 255) for p in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:])
    return buf.getvalue()


def run_chaos(uploads: int = 200, fault_rate: float = 0.3, seed: int = 7,
              faults: tuple[str, ...] = ("429", "4401", "500", "503", "504", "reset"),
              batch: int = 10, workdir: Path | None = None, read_timeout_s: float = 2.0,
              slow_ms: int = 3000, documents: int = 0, pages: int = 3) -> ChaosReport:
    """``documents`` of the uploads are PDFs of ``pages`` pages (one call per page)."""
    from .emulator.server import start_emulator

    tmp = Path(workdir or tempfile.mkdtemp(prefix="ocrflow-chaos-"))
    bucket = tmp / "buckets" / "chaos"
    bucket.mkdir(parents=True, exist_ok=True)
    keys = [f"upload {i:04d}.pdf" if i < documents else f"upload {i:04d}.png"
            for i in range(uploads)]
    for i, key in enumerate(keys):
        (bucket / key).write_bytes(_pdf(i, pages) if i < documents else _png(i))
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
        unanswered = redelivered = 0

        def deliver(event: dict[str, Any]) -> set[str]:
            """One invocation; returns the SQS message ids to redeliver."""
            nonlocal unanswered, redelivered
            outcomes = Pipeline(rt).process(events_mod.parse_event(event), credentials,
                                            time.monotonic() + 120.0)
            rt.metrics.flush()
            unanswered += sum(o.billed_unknown for o in outcomes)
            again = {o.delivery_id or "" for o in outcomes if not o.done}
            redelivered += len(again)
            return again

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
    spent, missing, not_summing = _usage(results, failures)
    return ChaosReport(
        uploads=uploads, results=len(results), failures=len(failures),
        objects_with_message=len(set(subjects) & set(keys)),
        objects_with_two_messages=len(subjects) - len(set(subjects)),
        unpublished=unpublished, redelivered=redelivered, billed=stats_before["billed"],
        unanswered=unanswered,
        redelivery_new_calls=stats_after["total"] - stats_before["total"],
        redelivery_new_messages=len(results2) + len(failures2) - len(results) - len(failures),
        ours=ours,
        emulator={k: stats_before[k] for k in ("total", "success", "failed", "billed")},
        failure_codes=codes, usage=spent, usage_missing=missing, pages_not_summing=not_summing,
        answers=sum(len(m["data"].get("pages") or []) or ("result" in m["data"]) for m in results)
        + sum(len(m["data"].get("pages") or []) for m in failures))


def _usage(results: list[dict[str, Any]], failures: list[dict[str, Any]]
           ) -> tuple[dict[str, int], int, int]:
    """``data.usage`` summed; messages without it; documents whose pages do not add up to it
    (a result's pages exactly, a failure's at most: the page that failed is in no entry)."""
    spent = {"billed_units": 0, "calls": 0}
    missing = not_summing = 0
    for m in results + failures:
        usage = m["data"].get("usage")
        if not isinstance(usage, dict):
            missing += 1
            continue
        for k in spent:
            spent[k] += usage[k]
        entries = m["data"].get("pages") or []
        paged = {k: sum(p["usage"][k] for p in entries) for k in spent}
        if entries and (paged != {k: usage[k] for k in spent} if m in results
                        else any(paged[k] > usage[k] for k in spent)):
            not_summing += 1
    return spent, missing, not_summing


def _sqs_batch(keys: list[str], start: int, stop: int) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{i}", "eventSource": "aws:sqs", "body": json.dumps({
        "Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "chaos"}, "object": {"key": keys[i].replace(" ", "+")}}}]})}
        for i in range(start, stop)]}


def _emf_totals(text: str) -> dict[str, int]:
    totals = {"total": 0, "success": 0, "failed": 0, "billed": 0}
    for line in text.splitlines():
        doc = json.loads(line)
        totals["total"] += doc.get("OcrCallsTotal", 0)
        totals["success"] += doc.get("OcrCallsSuccess", 0)
        totals["failed"] += doc.get("OcrCallsFailed", 0)
        totals["billed"] += doc.get("OcrBilledUnits", 0)
    return totals
