"""The counters that bound what one record, one invoice or one day may cost, kept in the
idempotency store so that every function instance counts against the same number:

* the day's budget of calls (``OCR_MAX_CALLS_PER_DAY``, UTC days): taken before a call — all
  the pages of a document at once, or none of them — and given back for calls not made;
* an invoice's verifications today (the service's own limit, :mod:`ocrflow.provider.invoices`);
* a record's deliveries that ended without a message, each kind on its own counter —
  throttled (nothing billed, the record goes back to the queue) or ended in an unexpected
  error — both bounded by ``OCR_MAX_DELIVERIES``: the delivery that reaches it publishes the
  failure instead, so a record that cannot succeed still ends in a message before the
  platform's own redelivery limit (the SQS queue's ``maxReceiveCount``, 5 in the template)
  moves it to a dead-letter queue. ``OCR_MAX_ATTEMPTS`` is a different bound: the HTTP
  attempts of one call within one delivery (:mod:`ocrflow.provider.retry`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..core.errors import FailureError, IdempotencyError
from ..provider import invoices
from . import keys

if TYPE_CHECKING:
    from ..adapters.idempotency.policy import IdempotencyStore


def spend_budget(store: IdempotencyStore, limit: int | None, calls: int = 1) -> Callable[[int], None]:
    """Takes ``calls`` from the day's budget at once, or refuses them all
    (``OCRFLOW.BUDGET_EXCEEDED``). Returns how to give back calls that were not made (pages
    not called after a failure)."""
    if limit is None or calls <= 0:
        return lambda unused: None
    day = datetime.now(timezone.utc)
    counter = keys.budget_key(day)
    left = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
            - day).total_seconds() + 3600
    if store.increment(counter, limit, left, calls) is None:
        what = f"{calls} pages do not fit" if calls > 1 else "reached"
        raise FailureError.of("OCRFLOW.BUDGET_EXCEEDED",
                              f"OCR_MAX_CALLS_PER_DAY={limit} {what} for {day:%Y-%m-%d} (UTC)")

    def refund(unused: int) -> None:
        if unused > 0:
            try:
                store.increment(counter, None, left, -unused)
            except IdempotencyError:
                pass  # the budget only stays a little stricter today

    return refund


def spend_invoice_verification(store: IdempotencyStore, fields: dict[str, Any]) -> None:
    """One of the invoice's verifications today, or ``OCRFLOW.INVOICE_DAILY_LIMIT``."""
    counter, lifetime = invoices.daily_counter(fields)
    if store.increment(counter, invoices.DAILY_LIMIT, lifetime) is None:
        raise FailureError.of("OCRFLOW.INVOICE_DAILY_LIMIT",
                              f"invoice {fields['number']} was verified {invoices.DAILY_LIMIT} "
                              "times today (Beijing time)")


def count_delivery(store: IdempotencyStore, counter: str, retention_s: float,
                   amount: int = 1) -> int | None:
    """Counts, durably, one more delivery on ``counter`` (:func:`.keys.throttled_deliveries_key`,
    :func:`.keys.failed_deliveries_key`, :func:`.keys.unended_deliveries_key`; ``amount=-1``
    takes one back); the count so far. Raises IdempotencyError when the store cannot count it."""
    return store.increment(counter, None, retention_s, amount)


def last_delivery(count: int | None, max_deliveries: int) -> bool:
    """Whether the delivery counted ``count`` is the one that publishes the failure."""
    return count is not None and count >= max_deliveries
