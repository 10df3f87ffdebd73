"""The ``ocrflow`` command line: invoke, run, queue dump, redrive, backfill, and the tools
(emulator, render) behind it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from .core.errors import ConfigError, OcrflowError
from .observability.terminal import columns, json_line, json_text, padded, shown

EXIT_OK, EXIT_NOT_ALL_PUBLISHED, EXIT_USAGE = 0, 1, 2


def _settings(**overrides: Any) -> Any:
    from .config.settings import load_settings

    return load_settings(**overrides)


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json_text(json.dumps(obj, ensure_ascii=False, indent=2)) + "\n")


# --- invoke ---------------------------------------------------------------------------------
def cmd_invoke(args: argparse.Namespace) -> int:
    from .handler import RecordsNotPublished, handle
    from .runtime import reset_runtime, runtime

    path = Path(args.event)
    try:
        # bytes: an event that is not UTF-8 is an invalid event (a failure), not a crash
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("EVENT.json", f"cannot read {path}: {exc.strerror}") from None
    reset_runtime()
    rt = runtime(_settings())
    try:
        answer = handle(raw, None, function=args.function, rt=rt)
    except RecordsNotPublished as exc:
        _print_json({"error": str(exc)}, sys.stdout)
        return EXIT_NOT_ALL_PUBLISHED
    finally:
        reset_runtime()
    _print_json(answer, sys.stdout)
    if "batchItemFailures" in answer and answer["batchItemFailures"]:
        return EXIT_NOT_ALL_PUBLISHED
    if any(r.get("resultCode") != "Succeeded" for r in answer.get("results", [])):
        return EXIT_NOT_ALL_PUBLISHED  # an S3 Batch Operations invocation
    return EXIT_OK


# --- run --------------------------------------------------------------------------------------
class _Progress:
    """Progress on stderr for long runs: a line every few seconds (or a live line on a TTY)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.done = self.failed = 0
        self.started = self.last = time.monotonic()
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def __call__(self, outcome: Any) -> None:
        with self.lock:
            self.done += 1
            if not outcome.done or outcome.status == "failure":
                self.failed += 1
            now = time.monotonic()
            every = 0.2 if self.tty else 5.0
            if self.total >= 20 and (now - self.last >= every or self.done == self.total):
                self.last = now
                rate = self.done / max(now - self.started, 1e-6)
                line = f"processed {self.done}/{self.total} ({self.failed} failed, {rate:.1f} files/s)"
                self.stream.write("\r" + line if self.tty else line + "\n")
                if self.tty and self.done == self.total:
                    self.stream.write("\n")
                self.stream.flush()


def _fmt_table(rows: list[list[str]], headers: list[str]) -> str:
    rows = [[shown(cell) for cell in row] for row in rows]  # names come from uploads
    widths = [max(columns(h), *(columns(r[i]) for r in rows)) if rows else columns(h)
              for i, h in enumerate(headers)]
    line = "  ".join(padded(h, w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(padded(c, w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_run(args: argparse.Namespace) -> int:
    from .core.models import ObjectRef
    from .flow.pipeline import Pipeline
    from .handler import credentials_for, summarise
    from .observability.log import configure
    from .runtime import build_runtime

    root = Path(args.dir).resolve()
    if not root.is_dir():
        raise ConfigError("DIR", f"{args.dir} is not a folder")
    if "POWERTOOLS_LOG_LEVEL" not in os.environ:
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # keep the table readable
    settings = _settings(object_store_url=root.parent.as_uri())
    configure(settings.service_name, settings.log_level)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    refs = [ObjectRef(bucket=root.name, key=p.relative_to(root).as_posix(), size=p.stat().st_size)
            for p in files]
    rt = build_runtime(settings)
    progress = _Progress(len(refs))
    t0 = time.monotonic()
    try:
        # a local run has no platform timeout: each file gets OCR_DEADLINE_S of its own
        outcomes = Pipeline(rt, "recognize").process(
            refs, credentials_for(settings, None), float("inf"), on_done=progress)
        calls, billed = rt.metrics.snapshot(), rt.metrics.billed()
    finally:
        rt.close()
    elapsed = time.monotonic() - t0
    rows = []
    for o in outcomes:
        what = o.status if o.status != "failure" else f"failure {o.code}"
        line = o.first_line if o.status in ("result", "duplicate") else o.detail
        if o.status == "duplicate":
            what = "already processed (no new call)"
        elif o.pages:
            what += f" ({o.pages} pages)"
        rows.append([o.ref.key if o.ref else "?", o.api or "", o.region or "", what,
                     _short(line), f"{o.duration_ms} ms"])
    out = sys.stdout
    out.write(_fmt_table(rows, ["file", "api", "region", "outcome", "first line", "time"]) + "\n\n")
    counts = summarise(outcomes)["counts"]
    rate = counts["records"] / max(elapsed, 1e-6)
    out.write(f"{counts['records']} files in {elapsed:.1f} s ({rate:.1f} files/s): "
              f"{counts['results']} results, {counts['failures']} failures, "
              f"{counts['duplicates']} already processed, {counts['unpublished']} not published\n")
    _write_usage(out, calls, billed, settings.price_per_unit)
    out.write(f"Messages: ocrflow queue dump '{shown(settings.queue_url('result'))}'\n")
    if counts["failures"]:
        out.write(f"Failures: ocrflow queue dump '{shown(settings.queue_url('failure'))}'\n")
    if args.json:
        _print_json(summarise(outcomes), out)
    if args.report:
        from .outputs.cli import write_run_report

        out.write(f"Report: {write_run_report(args.report, outcomes, settings, root)}\n")
    return EXIT_OK if counts["unpublished"] == 0 else EXIT_NOT_ALL_PUBLISHED


def _write_usage(out: TextIO, calls: dict[str, dict[str, dict[str, int]]],
                 billed: dict[str, dict[str, int]], prices: dict[str, float] | None) -> None:
    """Calls and billed units per API and region; with prices, what they cost."""
    total, unpriced = 0.0, []
    for api, regions in sorted(calls.items()):
        for region, c in sorted(regions.items()):
            units = billed[api][region]
            line = (f"OCR calls {api} @ {region}: {c['total']} total, {c['success']} success, "
                    f"{c['failed']} failed, {units} billed units")
            if prices is not None:
                price = prices.get(api)
                if price is None:
                    unpriced.append(api)
                    line += " (no price in OCR_PRICE_PER_UNIT)"
                else:
                    total += units * price
                    line += f", estimated cost {_amount(units * price)}"
            out.write(line + "\n")
    if prices is not None:
        missing = f"; not counted: {', '.join(sorted(set(unpriced)))}" if unpriced else ""
        out.write(f"Estimated cost: {_amount(total)} at the prices of OCR_PRICE_PER_UNIT{missing}\n")


def _amount(value: float) -> str:
    return f"{value:,.4f}"


# --- queue dump -------------------------------------------------------------------------------
def cmd_queue_dump(args: argparse.Namespace) -> int:
    """Every message it can print, one JSON line each; with ``--resolve``, a message whose
    claim check cannot be followed (or that is not an ocrflow message) is reported on stderr
    instead, the dump goes on, and the exit status says some were left out."""
    from .adapters.registry import open_queue

    queue = open_queue(args.url, "QUEUE_URL")
    store: Any = None
    left_out = 0
    try:
        if args.resolve:
            from .adapters.registry import open_object_store

            store = open_object_store(args.store or _settings().object_store_url, "OBJECT_STORE_URL")
        for message in queue.dump():
            if store is not None:
                from .contract.consumer import MessageError, ResultRefError, resolved

                try:
                    message = resolved(message, store)
                except (MessageError, ResultRefError) as exc:
                    left_out += 1
                    ident = message.get("id") if isinstance(message, dict) else None
                    name = shown(ident[:200]) if isinstance(ident, str) else "without an id"
                    sys.stderr.write(f"ocrflow: message {name} not resolved: {shown(str(exc))}\n")
                    continue
            sys.stdout.write(json_line(message) + "\n")
    finally:
        queue.close()
        if store is not None:
            store.close()
    if left_out:
        sys.stderr.write(f"ocrflow: {left_out} message(s) could not be resolved\n")
        return EXIT_NOT_ALL_PUBLISHED
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from .outputs.cli import cmd_render as render

    return render(args, _settings())


def cmd_redrive(args: argparse.Namespace) -> int:
    from .flow.redrive import redrive
    from .handler import credentials_for, deadline_for
    from .runtime import build_runtime

    settings = _settings()
    rt = build_runtime(settings)
    try:
        report = redrive(rt, args.url, set(args.code) or None, credentials_for(settings, None),
                         deadline_for(settings, None), dry_run=args.dry_run)
    finally:
        rt.close()
    _print_json(report.summary(), sys.stdout)
    return EXIT_OK if all(o.done for o in report.outcomes) else EXIT_NOT_ALL_PUBLISHED


def cmd_backfill(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from .adapters.registry import open_object_store, open_queue
    from .flow.backfill import backfill

    parts = urlsplit(args.source)
    if parts.scheme not in ("s3", "obs", "file") or (parts.scheme != "file" and not parts.netloc):
        raise ConfigError("SOURCE", f"expected s3://BUCKET/PREFIX, got {args.source!r}")
    if parts.scheme == "file":
        store = open_object_store(args.store or _settings().object_store_url, "OBJECT_STORE_URL")
        bucket, prefix = parts.path.strip("/").partition("/")[::2]
    else:
        store = open_object_store(args.store or f"{parts.scheme}://", "OBJECT_STORE_URL")
        bucket, prefix = parts.netloc, parts.path.lstrip("/")
    queue = open_queue(args.queue, "--queue")

    def progress(r: Any) -> None:
        sys.stderr.write(f"\rlisted {r.listed}, sent {r.sent}, failed {r.failed}")
        sys.stderr.flush()

    try:
        report = backfill(store, bucket, prefix, queue, args.region, progress)
    finally:
        queue.close()
    sys.stderr.write("\n")
    _print_json({"listed": report.listed, "sent": report.sent, "failed": report.failed}, sys.stdout)
    return EXIT_OK if report.failed == 0 else EXIT_NOT_ALL_PUBLISHED


def cmd_emulator(argv: list[str]) -> int:
    try:
        from .emulator.cli import main as emulator_main
    except ImportError as exc:
        sys.stderr.write(f"ocrflow emulator: not available ({exc}); install ocrflow[emulator]\n")
        return EXIT_USAGE
    return emulator_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrflow", description=(
        "Bucket uploads → Huawei Cloud OCR → results on a queue. Configuration comes from the "
        "environment (see the README)."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("invoke", help="run the recognize handler on an event file")
    p.add_argument("event", metavar="EVENT.json")
    p.add_argument("--function", default="recognize", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("run", help="process every file under DIR as an upload (bucket = DIR's name)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true", help="also print the full summary as JSON")
    p.add_argument("--report", default=None, metavar="FILE.html",
                   help="also write one self-contained HTML page: each page with its boxes and text")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("queue", help="inspect a queue")
    qsub = p.add_subparsers(dest="queue_command", required=True, metavar="SUBCOMMAND")
    d = qsub.add_parser("dump", help="print each message as one JSON line, oldest first, without removing it")
    d.add_argument("url", metavar="QUEUE_URL")
    d.add_argument("--resolve", action="store_true",
                   help="put claim-checked results back inline (fetched, size and sha256 checked)")
    d.add_argument("--store", default=None, metavar="URL",
                   help="object store of the claim-checked results (default: OBJECT_STORE_URL)")
    d.set_defaults(func=cmd_queue_dump)

    try:
        from .outputs.cli import add_render_parser
    except ImportError:  # the function bundle leaves the document outputs out (a tool)
        pass
    else:
        add_render_parser(sub, cmd_render)

    p = sub.add_parser("backfill", help="send one upload notification per object already in a bucket")
    p.add_argument("source", metavar="s3://BUCKET/PREFIX")
    p.add_argument("--queue", required=True, metavar="URL", help="the intake queue of the deployed stack")
    p.add_argument("--region", default="us-east-1", help="awsRegion written into the notifications")
    p.add_argument("--store", default=None, help="object store URL (default: the source's scheme)")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("redrive", help="replay failures whose cause is fixed")
    p.add_argument("url", metavar="FAILURE_QUEUE_URL")
    p.add_argument("--code", action="append", default=[],
                   help="only failures with this error code (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be replayed")
    p.set_defaults(func=cmd_redrive)

    sub.add_parser("emulator", help="a local stand-in for the Huawei Cloud OCR API",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        return cmd_emulator(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        sys.stderr.write(f"ocrflow: configuration error: {shown(str(exc))}\n")
        return EXIT_USAGE
    except OcrflowError as exc:
        sys.stderr.write(f"ocrflow: {shown(str(exc))}\n")
        return EXIT_NOT_ALL_PUBLISHED
    except KeyboardInterrupt:
        return 130
    except Exception:  # a library's message may quote a credential: the trace is redacted
        import traceback

        from .core import redact

        lines = redact.text(traceback.format_exc()).split("\n")
        sys.stderr.write("\n".join(shown(line) for line in lines))
        return EXIT_NOT_ALL_PUBLISHED


if __name__ == "__main__":
    sys.exit(main())
