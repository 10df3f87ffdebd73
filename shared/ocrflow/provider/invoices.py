"""Invoice verification guards: the service verifies an invoice at most 5 times a day, only
invoices of the last 5 years, and knows new invoices only after 24 hours. Calls that would
certainly fail are not paid for: they end in coded failures that can be redriven later.

An upload routed to ``invoice-verification`` is a JSON document with the request's fields:
``code`` (empty for fully digital invoices), ``number``, ``issue_date`` (``YYYY-MM-DD``),
``check_code`` (last six digits), ``subtotal_amount``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..core.errors import FailureError

CHINA = timezone(timedelta(hours=8))  # issue dates are Beijing dates
DAILY_LIMIT = 5
FIELDS = ("code", "number", "issue_date", "check_code", "subtotal_amount")


def parse_fields(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise FailureError.of("OCRFLOW.INVOICE_FIELDS", "the upload is not JSON") from None
    if not isinstance(doc, dict):
        raise FailureError.of("OCRFLOW.INVOICE_FIELDS", "the upload is not a JSON object")
    fields = {k: doc[k] for k in FIELDS if k in doc and doc[k] is not None}
    missing = [k for k in ("number", "issue_date") if not fields.get(k)]
    if missing:
        raise FailureError.of("OCRFLOW.INVOICE_FIELDS", f"missing {', '.join(missing)}")
    if not fields.get("check_code") and not fields.get("subtotal_amount"):
        raise FailureError.of("OCRFLOW.INVOICE_FIELDS", "needs check_code or subtotal_amount")
    try:
        date.fromisoformat(str(fields["issue_date"]))
    except ValueError:
        raise FailureError.of("OCRFLOW.INVOICE_FIELDS", "issue_date is not YYYY-MM-DD") from None
    fields.setdefault("code", "")
    return {k: str(v) for k, v in fields.items()}


def check_dates(fields: dict[str, str], now: datetime | None = None) -> None:
    now = (now or datetime.now(timezone.utc)).astimezone(CHINA)
    issued = date.fromisoformat(fields["issue_date"])
    # the invoice may have been issued at the very end of its day: wait 24 h after that
    ready = datetime.combine(issued + timedelta(days=2), datetime.min.time(), CHINA)
    if now < ready:
        raise FailureError.of("OCRFLOW.INVOICE_TOO_RECENT",
                              f"issued {issued}; verify from {ready:%Y-%m-%d %H:%M} Beijing time")
    if issued < (now.date() - timedelta(days=5 * 365 + 1)):
        raise FailureError.of("OCRFLOW.INVOICE_TOO_OLD", f"issued {issued}, more than 5 years ago")


def daily_counter(fields: dict[str, str], now: datetime | None = None) -> tuple[str, float]:
    """The counter name for today's verifications of this invoice, and its lifetime."""
    now = (now or datetime.now(timezone.utc)).astimezone(CHINA)
    end_of_day = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), CHINA)
    name = f"invoice:{fields['code']}:{fields['number']}:{now:%Y-%m-%d}"
    return name, (end_of_day - now).total_seconds() + 60


def encode(fields: dict[str, str]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
