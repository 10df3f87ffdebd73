"""Every record ends, even one that kills the function: a record whose deliveries all end
without a word — the process killed out of memory, a decoder's crash, the function's
timeout — is not tried for ever. After ``OCR_MAX_DELIVERIES`` such deliveries the next one
publishes an ``OCRFLOW.INTERNAL_ERROR`` failure without trying again. Each delivery here is a
fresh process, killed with SIGKILL while it recognizes the record, as the platform would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ocrflow.adapters.registry import open_queue
from tests.conftest import ROOT
from tests.support.harness import run_env
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_pipeline import png_bytes

#: one delivery in a fresh process; with CRASH set, the process is killed (SIGKILL) as it
#: starts recognizing the record. Claims are taken over 0.5 s after their deadline.
DELIVERY = r"""
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
from ocrflow.flow import pipeline, recognize
pipeline.CLAIM_GRACE_S = 0.5
if os.environ.get("CRASH"):
    def killed(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    recognize.Recognizer._recognize = killed
import handler
event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "uploads"},
         "object": {"key": sys.argv[2]}}}]}
try:
    out = handler.handler(event, None)
except Exception as exc:
    out = {"raised": type(exc).__name__}
print(json.dumps(out))
"""

LEASE_S = 1.0 + 0.5  # OCR_DEADLINE_S and the grace above
THROTTLED = Answer(429, {"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached"})


def deliver(env: dict[str, str], key: str, crash: bool) -> subprocess.CompletedProcess[str]:
    run_env_ = {**env, **({"CRASH": "1"} if crash else {})}
    return subprocess.run([sys.executable, "-c", DELIVERY, str(ROOT / "functions" / "recognize"), key],
                          env=run_env_, capture_output=True, text=True, timeout=120)


def queued(env: dict[str, str], which: str) -> list[dict[str, Any]]:
    queue = open_queue(env["RESULT_QUEUE_URL" if which == "result" else "FAILURE_QUEUE_URL"])
    try:
        return list(queue.dump())
    finally:
        queue.close()


def test_a_record_that_kills_every_delivery_ends_in_a_published_failure(tmp_path: Path) -> None:
    server = ReplayServer()
    try:
        env = run_env(tmp_path, server.url + "/{region}", OCR_MAX_DELIVERIES="3",
                      OCR_DEADLINE_S="1", POWERTOOLS_LOG_LEVEL="ERROR",
                      RESULT_QUEUE_URL=f"sqlite:///{tmp_path}/q.db?queue=results",
                      FAILURE_QUEUE_URL=f"sqlite:///{tmp_path}/q.db?queue=failures",
                      PYTHONPATH=str(ROOT / "shared"))
        (tmp_path / "buckets" / "uploads").mkdir(parents=True)
        (tmp_path / "buckets" / "uploads" / "a.png").write_bytes(png_bytes())
        for _ in range(3):  # OCR_MAX_DELIVERIES deliveries killed
            done = deliver(env, "a.png", crash=True)
            assert done.returncode == -9, done.stderr[-1500:]
            assert not queued(env, "result") and not queued(env, "failure")
            time.sleep(LEASE_S + 0.2)  # the platform redelivers once the claim has lapsed
        done = deliver(env, "a.png", crash=True)  # would be killed again if it tried
        assert done.returncode == 0, done.stderr[-1500:]
        assert json.loads(done.stdout.strip().splitlines()[-1])["counts"]["failures"] == 1
        failures = queued(env, "failure")
        assert len(failures) == 1 and not queued(env, "result")
        error = failures[0]["data"]["error"]
        assert error["code"] == "OCRFLOW.INTERNAL_ERROR"
        assert "each of its last 3 deliveries" in error["message"]
        assert not server.received  # nothing was paid
        # published: a later redelivery is a duplicate, nothing more
        again = deliver(env, "a.png", crash=False)
        assert json.loads(again.stdout.strip().splitlines()[-1])["counts"]["duplicates"] == 1
    finally:
        server.stop()


def test_deliveries_given_back_on_purpose_are_not_taken_for_crashes(tmp_path: Path) -> None:
    """Two deliveries killed, then two the provider throttles (given back on purpose, counted
    on their own), then one it answers: the record ends in its result. Counted together, the
    four would have passed OCR_MAX_DELIVERIES (3) and ended it in a failure."""
    server = ReplayServer()
    try:
        env = run_env(tmp_path, server.url + "/{region}", OCR_MAX_DELIVERIES="3",
                      OCR_MAX_ATTEMPTS="1", OCR_DEADLINE_S="1", POWERTOOLS_LOG_LEVEL="ERROR",
                      RESULT_QUEUE_URL=f"sqlite:///{tmp_path}/q.db?queue=results",
                      FAILURE_QUEUE_URL=f"sqlite:///{tmp_path}/q.db?queue=failures",
                      PYTHONPATH=str(ROOT / "shared"))
        (tmp_path / "buckets" / "uploads").mkdir(parents=True)
        (tmp_path / "buckets" / "uploads" / "a.png").write_bytes(png_bytes())
        for _ in range(2):
            assert deliver(env, "a.png", crash=True).returncode == -9
            time.sleep(LEASE_S + 0.2)
        server.answers.extend([THROTTLED, THROTTLED])
        for _ in range(2):
            given_back = deliver(env, "a.png", crash=False)
            assert json.loads(given_back.stdout.strip().splitlines()[-1]) == {
                "raised": "RecordsNotPublished"}, given_back.stderr[-1500:]
        done = deliver(env, "a.png", crash=False)
        assert done.returncode == 0, done.stderr[-1500:]
        assert json.loads(done.stdout.strip().splitlines()[-1])["counts"]["results"] == 1
        assert len(queued(env, "result")) == 1 and not queued(env, "failure")
        assert len(server.received) == 3
    finally:
        server.stop()
