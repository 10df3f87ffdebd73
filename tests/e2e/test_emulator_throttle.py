"""``--qps``: the emulator throttles like the gateway (a count per API and region in each
one-second period, or with ``--qps-window sliding`` in any one-second window; 429
``APIG.0308`` above it, never billed)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ocrflow.emulator.server import start_emulator
from ocrflow.emulator.throttle import Throttle
from tests.e2e.test_emulator import call, code


def test_a_period_admits_the_limit_then_refuses_until_the_next_second() -> None:
    now = [100.2]
    gate = Throttle(3, clock=lambda: now[0])
    assert [gate.admit("general-text", "cn-north-4") for _ in range(5)] == [True] * 3 + [False] * 2
    assert gate.admit("id-card", "cn-north-4")  # each API has its own count
    assert gate.admit("general-text", "cn-east-3")  # and each region's gateway its own
    now[0] = 100.99
    assert not gate.admit("general-text", "cn-north-4")  # refusals did not use up the period
    now[0] = 101.0
    assert [gate.admit("general-text", "cn-north-4") for _ in range(4)] == [True] * 3 + [False]


def test_a_sliding_window_counts_the_second_before_each_call_across_periods() -> None:
    now = [100.5]
    sliding = Throttle(3, clock=lambda: now[0], window="sliding")
    periods = Throttle(3, clock=lambda: now[0])
    for t in (100.5, 100.6, 100.7):
        now[0] = t
        assert sliding.admit("general-text", "cn-north-4") and periods.admit("general-text", "cn-north-4")
    now[0] = 101.1  # a new period of the clock, but three calls within the last second
    assert periods.admit("general-text", "cn-north-4")
    assert not sliding.admit("general-text", "cn-north-4")
    assert sliding.admit("id-card", "cn-north-4")  # each API has its own window
    now[0] = 101.5  # the call of 100.5 has left the window (refusals never entered it)
    assert sliding.admit("general-text", "cn-north-4")
    assert not sliding.admit("general-text", "cn-north-4")


def test_an_unknown_window_is_refused() -> None:
    with pytest.raises(ValueError, match="second, sliding"):
        Throttle(3, window="minute")


def test_calls_above_the_rate_get_the_gateway_answer_and_are_not_billed() -> None:
    with start_emulator(recognition=False, qps=3) as emu:
        while time.monotonic() % 1.0 > 0.2:  # start early in a period (the emulator's clock)
            time.sleep(0.01)
        answers = [call(emu) for _ in range(5)]
        other = call(emu, api="web-image")
        assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
        assert code(answers[3]) == (429, "APIG.0308")
        assert "limit:3,time:1 second" in answers[3].json()["error_msg"]
        assert other.status_code == 200
        stats = emu.stats()
        assert (stats["total"], stats["success"], stats["failed"], stats["billed"]) == (6, 4, 2, 4)
        time.sleep(1.0 - time.monotonic() % 1.0 + 0.01)
        assert call(emu).status_code == 200  # the next period admits again


@pytest.mark.parametrize("window", [None, "sliding"])
def test_the_command_line_takes_qps_and_its_window(window: str | None) -> None:
    extra = ["--qps-window", window] if window else []
    proc = subprocess.Popen([sys.executable, "-m", "ocrflow.cli", "emulator", "--port", "0", "--qps", "7",
                             *extra], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"7 calls/s per API ({window or 'second'} window)" in line
    finally:
        proc.terminate()
        proc.wait(10)
