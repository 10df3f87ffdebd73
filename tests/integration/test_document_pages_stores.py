"""What documents need from every idempotency backend (sqlite, Redis, DynamoDB on moto
server): a document's pages taken from the day's budget at once or not at all, pages not
called given back, and each page's answer kept for the next delivery."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.registry import open_idempotency_store
from ocrflow.flow import pages
from tests.support.stores import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s = open_idempotency_store(store_url(request, tmp_path, request.param))
    yield s
    s.close()


def test_a_document_takes_its_pages_at_once_or_not_at_all(store: Any) -> None:
    assert store.increment("day", 10, 60, 4) == 4
    assert store.increment("day", 10, 60, 7) is None  # 4 + 7 would pass 10: nothing taken
    assert store.increment("day", 10, 60, 6) == 10
    assert store.increment("day", 10, 60) is None
    assert store.increment("day", None, 60, -2) == 8  # two pages not called, given back
    assert store.increment("day", 10, 60, 2) == 10
    assert store.increment("other", 3, 60, 4) is None  # a document larger than the budget


def test_page_answers_are_kept_for_the_next_delivery(store: Any) -> None:
    document = f"doc:{uuid.uuid4().hex}"
    assert pages.saved_pages(store, document, 3, 60) == {}
    save = pages.saver(store, document)
    save(pages.PageAnswer(1, {"words_block_list": []}, "req-1"))
    save(pages.PageAnswer(3, {"words_block_list": [{"words": "three"}]}, "req-3",
                          {"format": "pdf", "width": 595, "height": 842, "scale": 1.0}))
    found = pages.saved_pages(store, document, 3, 60)
    assert sorted(found) == [1, 3]
    assert found[3].result == {"words_block_list": [{"words": "three"}]}
    assert found[3].request_id == "req-3" and found[3].input == {"format": "pdf", "width": 595,
                                                                 "height": 842, "scale": 1.0}
