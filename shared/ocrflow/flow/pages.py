"""The pages of a multi-page document: one call per page, run concurrently, each answer
saved as it arrives.

Rules, decided here once:

* pages already answered by an earlier delivery (saved in the idempotency store) are not
  called again; the others run concurrently, at most ``OCR_MAX_CONCURRENCY`` calls at once
  in the whole invocation;
* the first page that fails stops the document: pages already in flight finish (and are
  kept), pages not started are not called. The document then ends in a failure that names
  that page and carries the pages answered so far. Stopping bounds what a document that
  cannot succeed costs — a refused credential or package fails every page alike;
* when the record's time runs out before every page was called, nothing is published: the
  record is redelivered (:class:`PagesPending`) and the next delivery calls only the pages
  still missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..adapters.idempotency import ClaimState
from ..core.errors import Failure, FailureError, IdempotencyError, PagesPending
from ..documents import Document, Part
from ..observability.log import get_logger
from ..provider.client import CallResult
from ..provider.usage import Usage
from . import keys

if TYPE_CHECKING:
    from ..adapters.idempotency.policy import IdempotencyStore

#: A page is started only with at least this much of the record's time left.
MIN_PAGE_S = 2.0


@dataclass(frozen=True)
class PageAnswer:
    page: int
    result: Any
    request_id: str | None = None
    input: dict[str, Any] | None = None
    #: what this page cost, its earlier deliveries included
    usage: Usage = Usage()
    #: the record whose message reports that cost (a redrive reuses the page at no cost)
    record: str | None = None

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page": self.page, "result": self.result,
                               "request_id": self.request_id}
        if self.input is not None:
            out["input"] = self.input
        out["usage"] = self.usage.as_dict()
        return out

    def saved(self) -> bytes:
        doc = {**self.entry(), "record": self.record}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def load(cls, page: int, saved: bytes) -> PageAnswer:
        doc = json.loads(saved)
        return cls(page, doc.get("result"), doc.get("request_id"), doc.get("input"),
                   Usage.of(doc.get("usage")), doc.get("record"))

    def for_record(self, record: str) -> PageAnswer:
        """The answer as ``record``'s message reports it: paid by an earlier record's message
        (a redrive of a failed document), it costs this one nothing."""
        if self.record is None or self.record == record:
            return self
        return replace(self, usage=Usage(), record=record)


@dataclass
class PagesOutcome:
    """What the pages came to: every answer (earlier deliveries' included), in page order;
    the failure that stopped the document, if one did; and the calls this delivery made."""

    answers: list[PageAnswer]
    failure: Failure | None = None
    failed_page: int | None = None
    attempts: int = 0
    unanswered: int = 0
    calls: int = 0
    #: what this delivery spent on pages that got no answer, per page
    unkept: dict[int, Usage] = field(default_factory=lambda: {})


def run_pages(document: Document, pending: list[int], saved: dict[int, PageAnswer],
              call: Callable[[Part], CallResult], save: Callable[[PageAnswer], None],
              slots: threading.Semaphore, max_concurrency: int, deadline: float,
              earlier: Mapping[int, Usage] | None = None) -> PagesOutcome:
    """Calls ``pending`` pages (``call`` sends one part) and saves each answer with
    ``save``; an answer's usage adds what ``earlier`` deliveries spent on its page. Raises
    :class:`~ocrflow.core.errors.PagesPending` when time ran out before every page was called."""
    lock = threading.Lock()
    stop = threading.Event()
    answers: dict[int, PageAnswer] = dict(saved)
    failures: dict[int, Failure] = {}
    unkept: dict[int, Usage] = {}
    earlier = earlier or {}
    late: list[int] = []
    totals = {"attempts": 0, "unanswered": 0, "calls": 0}

    def one(page: int) -> None:
        if stop.is_set():
            return
        try:
            part = document.part(page)
        except FailureError as exc:  # a split page the API would still refuse
            with lock:
                failures[page] = exc.failure
            stop.set()
            return
        with slots:
            if stop.is_set():
                return
            if deadline - time.monotonic() < MIN_PAGE_S:
                with lock:
                    late.append(page)
                return
            result = call(part)
        with lock:
            totals["attempts"] += result.attempts
            totals["unanswered"] += result.unanswered
            totals["calls"] += 1
        if result.failure is not None:
            with lock:
                failures[page] = result.failure
                unkept[page] = result.usage
            stop.set()
            return
        answer = PageAnswer(page, result.result, result.request_id, part.input,
                            earlier.get(page, Usage()) + result.usage)
        with lock:
            answers[page] = answer
        save(answer)

    workers = max(1, min(max_concurrency, len(pending)))
    if workers == 1:
        for page in pending:
            one(page)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocrflow-page") as pool:
            for future in [pool.submit(one, page) for page in pending]:
                future.result()
    ordered = [answers[p] for p in sorted(answers)]
    outcome = PagesOutcome(ordered, attempts=totals["attempts"], unanswered=totals["unanswered"],
                           calls=totals["calls"], unkept=unkept)
    total = document.pages_total or 1
    if failures:
        page = min(failures)
        first = failures[page]
        outcome.failure = replace(first, message=f"page {page} of {total}: {first.message}")
        outcome.failed_page = page
        return outcome
    if late:
        raise PagesPending(f"{len(answers)} of {total} pages answered and saved; "
                           f"{total - len(answers)} left for the next delivery (time ran out)",
                           totals["calls"])
    return outcome


# A page's answer is kept in the idempotency store under its own key, through the store's
# own lifecycle (claim → kept answer), so every backend keeps it as it keeps a record's
# message: written as soon as the page is answered, retained for IDEMPOTENCY_TTL_S.
def saved_pages(store: IdempotencyStore, document: str, pages: int,
                lease_s: float) -> dict[int, PageAnswer]:
    """The answers saved for ``document``'s pages 1…``pages``. A page without one is
    claimed for ``lease_s`` on the way (the record's own claim already makes this delivery
    the only one at work on the document)."""
    found: dict[int, PageAnswer] = {}
    for page in range(1, pages + 1):
        claim = store.claim(keys.page_key(document, page), lease_s)
        if claim.state in (ClaimState.OUTCOME_STORED, ClaimState.COMPLETED) and claim.message:
            found[page] = PageAnswer.load(page, claim.message)
    return found


def saver(store: IdempotencyStore, document: str,
          record: str | None = None) -> Callable[[PageAnswer], None]:
    """Saves each page's answer as it arrives, with the ``record`` whose message reports its
    cost; a store that fails costs only the saving (the answer is still in this delivery's
    message)."""
    def save(answer: PageAnswer) -> None:
        try:
            store.keep(keys.page_key(document, answer.page), "page", f"page:{answer.page}",
                       replace(answer, record=record).saved())
        except IdempotencyError as exc:
            get_logger().warning("page answer not saved", page=answer.page, error=str(exc)[:200])
    return save
