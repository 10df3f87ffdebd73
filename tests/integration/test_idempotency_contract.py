"""One contract for every idempotency backend, on its real server: a sqlite file, Redis on
127.0.0.1:6379 and DynamoDB on moto server. The same scenarios run against each, through the
policy (``ocrflow.adapters.idempotency.policy``) over that backend's storage primitives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.adapters.idempotency import ClaimState
from ocrflow.adapters.idempotency.policy import IdempotencyStore
from ocrflow.adapters.registry import open_idempotency_store
from tests.support.races import claims_at_once
from tests.support.stores import BACKENDS, store_url

Factory = Callable[[], IdempotencyStore]
#: Short enough for a quick test, long enough for a loaded machine to act within it.
LEASE = 1.0


@pytest.fixture(params=BACKENDS)
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens stores on one backend: each call is a new client (another function instance)
    on the same shared state."""
    url = store_url(request, tmp_path, request.param)
    opened: list[IdempotencyStore] = []

    def factory() -> IdempotencyStore:
        store = open_idempotency_store(url)
        opened.append(store)
        store.storage.get("warm-up", time.time())  # connected before any lease starts
        return store

    yield factory
    for store in opened:
        store.close()


def test_crash_after_the_call_is_held_for_its_lease_then_taken_over(new_store: Factory) -> None:
    first, second = new_store(), new_store()
    assert first.claim("k", LEASE).state is ClaimState.CLAIMED
    # the first attempt paid for a call and died before saving anything
    assert second.claim("k", 30).state is ClaimState.IN_PROGRESS
    time.sleep(LEASE + 0.2)
    assert second.claim("k", 30).state is ClaimState.CLAIMED
    assert first.claim("k", 30).state is ClaimState.IN_PROGRESS


def test_crash_after_saving_publishes_the_saved_message_even_after_the_lease(
        new_store: Factory) -> None:
    first, second = new_store(), new_store()
    assert first.claim("k", LEASE).state is ClaimState.CLAIMED
    stored = first.save_outcome("k", "result", "m-1", b'{"id": "m-1"}')
    assert (stored.state, stored.message_id) == (ClaimState.OUTCOME_STORED, "m-1")
    time.sleep(LEASE + 0.2)  # the claim's lease passed: a saved answer is never taken over
    c = second.claim("k", 30)
    assert (c.state, c.destination, c.message_id, c.message) == (
        ClaimState.OUTCOME_STORED, "result", "m-1", b'{"id": "m-1"}')
    second.complete("k")
    assert first.claim("k", 30).state is ClaimState.COMPLETED


def test_a_saved_message_is_published_only_by_its_holder_until_its_claim_ends(
        new_store: Factory) -> None:
    owner, other = new_store(), new_store()
    claim = owner.claim("k", LEASE)
    held = owner.save_outcome("k", "result", "m-1", b"one", claim, hold_s=0.1)
    assert held.state is ClaimState.OUTCOME_STORED and held.message_id == "m-1"
    # a redelivery while the owner publishes: given back, nothing to publish
    assert other.claim("k", 30).state is ClaimState.IN_PROGRESS
    time.sleep(LEASE + 0.2)  # the owner crashed before marking it complete: taken over
    taken = other.claim("k", 30)
    assert (taken.state, taken.message_id, taken.message) == (ClaimState.OUTCOME_STORED, "m-1", b"one")
    assert new_store().claim("k", 30).state is ClaimState.IN_PROGRESS  # now held by the other
    other.complete("k", taken)
    assert new_store().claim("k", 30).state is ClaimState.COMPLETED


def test_a_hold_given_back_is_taken_over_at_once(new_store: Factory) -> None:
    owner, other = new_store(), new_store()
    held = owner.save_outcome("k", "failure", "m-2", b"two", owner.claim("k", 30), hold_s=30)
    owner.release("k", held)  # the queue was down: the next delivery publishes it
    taken = other.claim("k", 30)
    assert (taken.state, taken.destination, taken.message) == (ClaimState.OUTCOME_STORED, "failure", b"two")
    owner.release("k", held)  # a late second release no longer holds anything
    assert new_store().claim("k", 30).state is ClaimState.IN_PROGRESS


def test_concurrent_takeovers_of_a_saved_message_grant_one_publisher(new_store: Factory) -> None:
    new_store().save_outcome("race", "result", "m-3", b"three")  # held by nobody
    stores = [new_store() for _ in range(12)]
    states = claims_at_once(stores, "race")
    assert states.count(ClaimState.OUTCOME_STORED) == 1
    assert states.count(ClaimState.IN_PROGRESS) == len(stores) - 1


def test_saving_again_after_a_write_that_seemed_to_fail_returns_the_own_message(
        new_store: Factory) -> None:
    store = new_store()
    claim = store.claim("k", 30)
    store.save_outcome("k", "result", "m-4", b"four", claim, hold_s=30)
    # the answer to that write was lost: the retry finds its own message, still to publish
    again = store.save_outcome("k", "result", "m-4", b"four", claim, hold_s=30)
    assert (again.state, again.message_id) == (ClaimState.OUTCOME_STORED, "m-4")
    store.complete("k", again)
    assert new_store().claim("k", 30).state is ClaimState.COMPLETED


def test_a_kept_answer_is_read_by_every_later_claim_without_taking_it(new_store: Factory) -> None:
    first, second = new_store(), new_store()
    assert first.claim("doc#page:1", 30).state is ClaimState.CLAIMED
    first.keep("doc#page:1", "page", "page:1", b"answer")
    for store in (second, first, new_store()):
        c = store.claim("doc#page:1", 30)
        assert (c.state, c.message) == (ClaimState.COMPLETED, b"answer")


def test_an_expired_claim_taken_over_keeps_one_message(new_store: Factory) -> None:
    slow, other = new_store(), new_store()
    slow_claim = slow.claim("k", LEASE)
    assert slow_claim.state is ClaimState.CLAIMED
    time.sleep(LEASE + 0.2)
    other_claim = other.claim("k", 30)
    assert other_claim.state is ClaimState.CLAIMED
    # the slow attempt answers late and saves first (its claim's version is stale, the
    # answer is kept all the same); the other's save returns that message
    saved = slow.save_outcome("k", "result", "late", b"late", slow_claim)
    assert (saved.state, saved.message_id) == (ClaimState.OUTCOME_STORED, "late")
    kept = other.save_outcome("k", "failure", "second", b"second", other_claim)
    assert (kept.state, kept.destination, kept.message_id, kept.message) == (
        ClaimState.OUTCOME_STORED, "result", "late", b"late")
    other.complete("k", kept)
    assert new_store().claim("k", 30).state is ClaimState.COMPLETED


def test_a_late_release_never_drops_a_claim_taken_over(new_store: Factory) -> None:
    crashed, other = new_store(), new_store()
    old = crashed.claim("k", LEASE)
    time.sleep(LEASE + 0.2)
    assert other.claim("k", 30).state is ClaimState.CLAIMED
    crashed.release("k", old)
    assert new_store().claim("k", 30).state is ClaimState.IN_PROGRESS


def test_concurrent_claims_from_separate_clients_grant_exactly_one(new_store: Factory) -> None:
    stores = [new_store() for _ in range(12)]
    states = claims_at_once(stores, "race")
    assert states.count(ClaimState.CLAIMED) == 1
    assert states.count(ClaimState.IN_PROGRESS) == len(stores) - 1


def test_redelivery_after_completion_is_a_duplicate_with_its_message(new_store: Factory) -> None:
    store = new_store()
    assert store.claim("k", 30).state is ClaimState.CLAIMED
    store.save_outcome("k", "failure", "m-9", b'{"id": "m-9"}')
    store.complete("k")
    store.complete("k")  # a second completion changes nothing
    store.release("k")  # nor does a late release: only an in-progress claim is released
    c = new_store().claim("k", 30)
    assert (c.state, c.destination, c.message_id, c.message) == (
        ClaimState.COMPLETED, "failure", "m-9", b'{"id": "m-9"}')


def test_a_released_claim_is_claimed_afresh(new_store: Factory) -> None:
    store = new_store()
    claim = store.claim("k", 30)
    assert claim.state is ClaimState.CLAIMED
    store.release("k", claim)
    assert new_store().claim("k", 30).state is ClaimState.CLAIMED


@pytest.mark.parametrize("complete", [True, False], ids=["completed", "stored"])
def test_records_are_forgotten_after_their_retention(new_store: Factory, complete: bool) -> None:
    store = new_store()
    store.retention_s = LEASE
    assert store.claim("k", 30).state is ClaimState.CLAIMED
    store.save_outcome("k", "result", "m-1", b"{}")
    if complete:
        store.complete("k")
    assert store.claim("k", 30).state is not ClaimState.CLAIMED
    time.sleep(LEASE + 0.2)
    assert new_store().claim("k", 30).state is ClaimState.CLAIMED


def test_counters_stop_at_their_limit_under_races_and_expire(new_store: Factory) -> None:
    stores = [new_store() for _ in range(5)]
    got: list[Any] = []
    lock = threading.Lock()

    def add(store: IdempotencyStore) -> None:
        for _ in range(4):
            value = store.increment("day", 10, 60)
            with lock:
                got.append(value)

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for v in got if v is not None) == list(range(1, 11))
    assert got.count(None) == 10
    assert stores[0].increment("day", 0, 60) is None
    assert stores[0].increment("other", None, 60) == 1
    assert [stores[1].increment("short", 2, LEASE) for _ in range(3)] == [1, 2, None]
    time.sleep(LEASE + 0.2)
    assert stores[2].increment("short", 2, 60) == 1  # a new period starts from zero


def test_counters_take_an_amount_at_once_or_not_at_all_and_give_back(new_store: Factory) -> None:
    store = new_store()
    assert store.increment("pages", 10, 60, 4) == 4
    assert store.increment("pages", 10, 60, 7) is None  # 11 would pass the limit: none taken
    assert store.increment("pages", 10, 60, 6) == 10
    assert store.increment("pages", None, 60, -3) == 7  # calls reserved and not made
    assert new_store().increment("pages", 10, 60, 3) == 10
