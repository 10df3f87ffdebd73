"""Replays failures from the failure queue (FAILURE_QUEUE_URL) after their cause is fixed.

Invoke it by hand or on a schedule with ``{"codes": ["OCRFLOW.BUDGET_EXCEEDED"]}`` (no codes:
every failure that names an object).
"""

from typing import Any

from ocrflow.handler import redrive_handle


def handler(event: Any, context: Any) -> dict[str, Any]:
    return redrive_handle(event, context)
