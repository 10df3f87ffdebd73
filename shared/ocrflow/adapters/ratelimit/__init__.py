"""A fleet-wide rate limit on OCR calls (``OCR_MAX_CALLS_PER_SECOND``).

Every instance takes a slot from shared state before each call, in the store the
idempotency URL names (Redis/DCS: one Lua script; DynamoDB: conditional writes; sqlite:
transactions on one machine), so the fleet as a whole sends at most the configured rate per
API and region, evenly spaced. A call waits for its slot rather than being sent to be
refused; when the slot lies beyond what the record's deadline allows, no slot is taken and
the caller gives the record back. A throttle answer lowers the shared rate for every
instance (AIMD, :mod:`.policy`).

This module is what configuration validation needs (imported at every start, so it holds
no classes); the limiter is :mod:`.limiter`, the policy :mod:`.policy`, the port
:mod:`.base`, and each backend loads on first use, chosen by
:func:`ocrflow.adapters.registry.open_rate_store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Far above any OCR package's rate; a larger number is a typo (1e300), not a limit.
MAX_CALLS_PER_SECOND = 100_000


def limits_problem(value: Any, apis: set[str] | None = None) -> str | None:
    """What is wrong with an ``OCR_MAX_CALLS_PER_SECOND`` value (already JSON-decoded), or
    None: a positive number, or an object of positive numbers keyed by API name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Mapping)):
        return 'expected a number of calls per second, or a JSON object such as {"general-text": 10}'
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for api, n in items:
        where = f" for {api!r}" if api else ""
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not n > 0:
            return f"expected a positive number of calls per second{where}, got {n!r}"
        if not n <= MAX_CALLS_PER_SECOND:  # also NaN and infinities handed as overrides
            return f"at most {MAX_CALLS_PER_SECOND:,} calls per second{where}, got {n!r}"
        if api and apis is not None and api not in apis:
            return f"unknown API {api!r}"
    return None
