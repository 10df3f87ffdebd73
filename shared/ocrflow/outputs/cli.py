"""``ocrflow render FORMAT QUEUE_URL --out DIR`` and ``ocrflow run DIR --report FILE.html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import ConfigError, OcrflowError
from ..observability.terminal import shown

EXIT_OK, EXIT_REPORTED = 0, 1


def cmd_render(args: argparse.Namespace, settings: Any) -> int:
    """One file per result message on the queue, oldest first (a later message for the same
    key replaces the earlier file); each message that renders nothing is reported on
    stderr with its key, and the others go on."""
    from ..adapters.registry import open_object_store, open_queue
    from ..contract.consumer import MessageError, OcrFailure, parse
    from .render import RenderError, output_path, render_message, require

    try:
        require(args.format)
    except RenderError as exc:
        raise ConfigError("FORMAT", str(exc)) from None
    out_dir = Path(args.out)
    queue = open_queue(args.url, "QUEUE_URL")
    store = open_object_store(args.store or settings.object_store_url, "OBJECT_STORE_URL")
    written = reported = 0
    err: TextIO = sys.stderr
    try:
        for event in queue.dump():
            key = str((event.get("data") or {}).get("object", {}).get("key") or event.get("subject")
                      or event.get("id") or "?") if isinstance(event, dict) else "?"
            try:
                message = parse(event)
                if isinstance(message, OcrFailure):
                    e = message.data.error
                    raise RenderError(f"failed ({e.code}): renders nothing")
                path = output_path(out_dir, key, args.format)
                data = render_message(message, args.format, store, args.dpi)
            except (RenderError, MessageError) as exc:
                reported += 1
                err.write(f"{shown(key)}: {shown(str(exc))}\n")
                continue
            except OcrflowError as exc:  # a claim check that cannot be fetched, for one
                reported += 1
                err.write(f"{shown(key)}: {shown(str(exc))}\n")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written += 1
            sys.stdout.write(f"{shown(str(path))}\n")
    finally:
        queue.close()
        store.close()
    err.write(f"{written} files written under {shown(str(out_dir))}, {reported} messages reported\n")
    return EXIT_OK if reported == 0 else EXIT_REPORTED


def add_render_parser(sub: Any, func: Any) -> None:
    from .render import DEFAULT_DPI, FORMATS

    p = sub.add_parser("render", help="write a searchable PDF, Markdown, hOCR or text per result message")
    p.add_argument("format", metavar="FORMAT", help=" | ".join(FORMATS))
    p.add_argument("url", metavar="QUEUE_URL")
    p.add_argument("--out", required=True, metavar="DIR", help="one file per upload, named after its key")
    p.add_argument("--store", default=None, metavar="URL",
                   help="object store of the originals and claim-checked results "
                        "(default: OBJECT_STORE_URL)")
    p.add_argument("--dpi", type=float, default=DEFAULT_DPI,
                   help=f"resolution PDF pages are rendered at (default {DEFAULT_DPI})")
    p.set_defaults(func=func)


def write_run_report(path: str, outcomes: list[Any], settings: Any, root: Path) -> str:
    """The run's HTML report at ``path``; returns the path written."""
    from ..adapters.registry import open_object_store, open_queue
    from .report import build_report

    by_id: dict[str, dict[str, Any]] = {}
    for kind in ("result", "failure"):
        queue = open_queue(settings.queue_url(kind), "RESULT_QUEUE_URL" if kind == "result"
                           else "FAILURE_QUEUE_URL")
        try:
            for event in queue.dump():
                if isinstance(event, dict) and isinstance(event.get("id"), str):
                    by_id[event["id"]] = event
        finally:
            queue.close()
    store = open_object_store(root.parent.as_uri(), "OBJECT_STORE_URL")
    try:
        html = build_report(outcomes, by_id, store, title=f"ocrflow run {root.name}")
    finally:
        store.close()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, "utf-8")
    return str(target.resolve())
