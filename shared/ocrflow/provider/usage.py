"""What one upload cost (``data.usage``): the units the provider billed and the calls that
reached it, across every delivery of the record; and what the provider bills for one answer
(:func:`billed_units`).

Both figures are counted by the OCR client at the very place it feeds the usage metrics
(:class:`~ocrflow.provider.client.CallResult`: ``calls`` where ``OcrCallsTotal`` is counted,
``billed_units`` where ``OcrBilledUnits`` is), so the sum of ``data.usage`` over the messages
equals what the metrics count. What a delivery spent without publishing a message waits in
the record's ledger (:mod:`ocrflow.flow.ledger`) for the message that is published in the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalogue import load


@dataclass(frozen=True)
class Usage:
    """Billed units and calls (attempts that reached the provider)."""

    billed_units: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.billed_units + other.billed_units, self.calls + other.calls)

    def __bool__(self) -> bool:
        return bool(self.billed_units or self.calls)

    def as_dict(self) -> dict[str, int]:
        return {"billed_units": self.billed_units, "calls": self.calls}

    @classmethod
    def of(cls, value: Any) -> Usage:
        """A ``usage`` object as messages and saved answers carry it (zero when absent)."""
        if not isinstance(value, Mapping):
            return cls()
        return cls(_count(value.get("billed_units")), _count(value.get("calls")))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def total(usages: Iterable[Usage]) -> Usage:
    out = Usage()
    for usage in usages:
        out = out + usage
    return out


#: Far above any price per call; a larger number is a typo, not a price.
MAX_PRICE_PER_UNIT = 1_000_000


def price_problem(value: Any, apis: set[str] | None = None) -> str | None:
    """What is wrong with an ``OCR_PRICE_PER_UNIT`` value (already JSON-decoded), or None: an
    object of prices (numbers from 0) keyed by API name."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return 'expected a JSON object of prices per billed unit, such as {"general-text": 0.0035}'
    for api, price in value.items():
        if isinstance(price, bool) or not isinstance(price, (int, float)) \
                or not 0 <= price <= MAX_PRICE_PER_UNIT:  # NaN fails both
            return f"expected a price from 0 to {MAX_PRICE_PER_UNIT:,} for {api!r}, got {price!r}"
        if apis is not None and api not in apis:
            return f"unknown API {api!r}"
    return None


#: per-document statuses that mean "recognized" (the item's own status code)
_RECOGNISED = frozenset({"", "0", "AIS.0000"})


def billed_units(api: str, result: Any) -> int:
    """Units the provider bills for one 2xx answer of ``api``.

    auto-classification answers a list with a status per document and bills each document
    it recognized; every other API bills the answer once."""
    limits = load().apis.get(api)
    if limits is None or limits.billing != "per_document":
        return 1
    if not isinstance(result, list):
        return 1
    units = 0
    for item in result:
        if not isinstance(item, dict):
            continue
        status = item.get("status")
        code = status.get("error_code") if isinstance(status, dict) else None
        if (code is None or str(code) in _RECOGNISED) and item.get("content") is not None:
            units += 1
    return units
