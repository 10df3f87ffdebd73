"""The message contract (design.md §4): CloudEvents 1.0, structured JSON.

``ocr.result.v1`` carries the provider's result verbatim (or, when too large for the queue,
``result_ref`` naming where it was stored); ``ocr.failure.v1`` carries ``error``. The JSON
Schemas ship in ``ocrflow/data/schemas/``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import Failure
from .models import ObjectRef, OutgoingMessage

RESULT_TYPE = "ocr.result.v1"
FAILURE_TYPE = "ocr.failure.v1"
SCHEMA_FILES = {RESULT_TYPE: "ocr.result.v1.json", FAILURE_TYPE: "ocr.failure.v1.json"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(*, function: str, ref: ObjectRef | None, api: str | None, region: str | None,
          request_id: str | None = None, attempts: int = 0, duration_ms: int = 0,
          result: Any = None, error: Failure | None = None,
          result_ref: dict[str, Any] | None = None,
          event_excerpt: str | None = None) -> dict[str, Any]:
    kind = FAILURE_TYPE if error is not None else RESULT_TYPE
    data: dict[str, Any] = {
        "object": ref.as_message_object() if ref else None,
        "api": api,
        "ocr_region": region,
        "request_id": request_id,
        "attempts": attempts,
        "duration_ms": duration_ms,
    }
    if error is not None:
        data["error"] = error.as_dict()
        if event_excerpt is not None:
            data["event_excerpt"] = event_excerpt
    elif result_ref is not None:
        data["result_ref"] = result_ref
    else:
        data["result"] = result
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"ocrflow/{function}",
        "type": kind,
    }
    if ref is not None and ref.key:
        # CloudEvents: a subject, when present, is a non-empty string
        event["subject"] = ref.key
    event.update(time=_now(), datacontenttype="application/json", data=data)
    return event


def serialise(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def outgoing(event: dict[str, Any], body: bytes | None = None) -> OutgoingMessage:
    data = event["data"]
    attributes = {"type": event["type"]}
    if data.get("api"):
        attributes["api"] = data["api"]
    if data.get("ocr_region"):
        attributes["region"] = data["ocr_region"]
    if "error" in data:
        attributes["error_code"] = data["error"]["code"]
    return OutgoingMessage(id=event["id"], type=event["type"],
                           body=body if body is not None else serialise(event),
                           key=event.get("subject", ""), attributes=attributes)


def schema(kind: str) -> dict[str, Any]:
    text = (Path(__file__).parent / "data" / "schemas" / SCHEMA_FILES[kind]).read_text("utf-8")
    return json.loads(text)
