"""The chaos runs with several processes, on the real Redis and RabbitMQ: everything at
once (faults, a rate limit, a killed process, the result queue cut, every upload
redelivered), and the cost of each crash window on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.chaos.run import Services, crash_cost, outage_cost, run_fleet_chaos

CONCURRENCY = 8  # OCR_MAX_CONCURRENCY of the fleet's processes


@pytest.fixture
def services(redis_url: str, rabbitmq: str) -> Services:
    return Services(redis_url=redis_url, amqp_url=rabbitmq)


def test_four_processes_faults_a_limit_a_kill_and_a_queue_cut(
        tmp_path: Path, services: Services) -> None:
    r = run_fleet_chaos(processes=4, uploads=200, fault_rate=0.25, qps=20, seed=7,
                        services=services, workdir=tmp_path)
    print(r.as_dict())
    m = r.messages
    assert m.uploads_without_message == 0
    assert m.uploads_with_distinct_messages == 0  # a copy is the same CloudEvent id, never another
    # one publisher per record: no two live deliveries published the same upload; copies
    # come from the two documented windows only: a publish whose confirmation the cut lost,
    # and the killed process's records published but not yet marked complete
    assert r.uploads_published_by_two_deliveries == 0
    assert m.uploads_with_copies - r.copies_after_a_failed_publish <= CONCURRENCY
    assert r.emulator["failed"] > 0  # the faults and throttles really happened
    # every billed answer is published, except those the killed process had in flight: each
    # of those uploads was paid once more
    assert r.billed == m.results + r.paid_answers_lost
    assert r.paid_answers_lost <= CONCURRENCY
    assert r.final_redelivery_new_calls == 0 and r.final_redelivery_new_messages == 0


def test_a_kill_with_calls_in_flight_repays_each_of_them_once(tmp_path: Path, services: Services) -> None:
    cost = crash_cost(calls=CONCURRENCY, services=services, workdir=tmp_path)
    print(cost.as_dict())
    assert cost.calls_in_flight == CONCURRENCY
    assert cost.paid_answers_lost == cost.calls_in_flight
    assert cost.billed == cost.uploads + cost.paid_answers_lost
    assert cost.messages.messages == cost.uploads and cost.messages.uploads_without_message == 0


@pytest.mark.parametrize(("outage_s", "repaid"), [(2.0, 0), (6.0, CONCURRENCY)],
                         ids=["shorter-than-the-deadline", "longer"])
def test_a_store_outage_during_calls_repays_only_past_the_deadline(
        tmp_path: Path, services: Services, outage_s: float, repaid: int) -> None:
    cost = outage_cost(outage_s, deadline_s=4.0, calls=CONCURRENCY, services=services,
                       workdir=tmp_path)
    print(cost.as_dict())
    assert cost.calls_in_flight == CONCURRENCY
    assert cost.paid_answers_lost == repaid
    assert cost.billed == cost.uploads + repaid
    assert cost.messages.messages == cost.uploads and cost.messages.uploads_without_message == 0
