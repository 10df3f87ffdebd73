"""The chaos runs: many uploads against the local emulator with injected faults, checking
the product's guarantees end to end. Used by the test suite and by ``scripts/chaos.py``.

:func:`run_chaos` — one process, batches of SQS records, redelivered as the platform would.
Guarantees checked:
* one message per object — results plus failures equal the uploads, every object has one;
* a second delivery of every event calls nothing and publishes nothing;
* billed calls (2xx answers) ≤ answers kept in messages (a result, a document's page) + calls
  whose answer never arrived (timeouts);
* ocrflow's call metrics (total / success / failed) equal the emulator's counts, except
  that an answer which arrived after the client gave up is a success for the service and
  a failure for us (the run reports how many);
* ``data.usage`` summed over the published messages equals the metrics (``OcrCallsTotal``,
  ``OcrBilledUnits``) and the emulator's own count of calls and billed units (less the
  answers that arrived after the client gave up, which the provider bills and nobody saw);
  a document's pages add up to its ``data.usage``.

:func:`run_fleet_chaos` — several ``ocrflow run`` processes on the same uploads, sharing
Redis and RabbitMQ, with faults, a fleet-wide rate limit, one process killed (SIGKILL), the
result queue cut, then every upload redelivered. It reports messages per upload, uploads
without a message, and every billed answer that no published message carries (matched by
the provider's request id): a call paid twice. :func:`crash_cost` and :func:`outage_cost`
measure one crash window each (a kill, an idempotency store outage, with calls in flight).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..config.settings import load_settings
from ..contract import events as events_mod
from ..flow.pipeline import Pipeline
from ..handler import credentials_for
from ..observability.log import configure
from ..runtime import build_runtime

if TYPE_CHECKING:
    from ..emulator.server import RunningEmulator


@dataclass
class ChaosReport:
    uploads: int
    results: int
    failures: int
    objects_with_message: int
    objects_with_two_messages: int
    unpublished: int
    #: deliveries that gave their record back unpublished (throttled, pages pending)
    redelivered: int
    billed: int
    unanswered: int
    redelivery_new_calls: int
    redelivery_new_messages: int
    ours: dict[str, int] = field(default_factory=dict)
    emulator: dict[str, int] = field(default_factory=dict)
    failure_codes: dict[str, int] = field(default_factory=dict)
    #: provider answers the messages keep: one per result, one per answered page
    answers: int = 0
    #: ``data.usage`` summed over every published message
    usage: dict[str, int] = field(default_factory=dict)
    #: messages without ``data.usage``, and documents whose pages do not add up to it
    usage_missing: int = 0
    pages_not_summing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _png(i: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64 + i % 50, 32 + i % 20), 255).save(buf, "PNG")
    return buf.getvalue()


def _pdf(i: int, pages: int) -> bytes:
    from PIL import Image

    images = [Image.new("L", (64 + i % 50, 32 + p), 255) for p in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:])
    return buf.getvalue()


def run_chaos(uploads: int = 200, fault_rate: float = 0.3, seed: int = 7,
              faults: tuple[str, ...] = ("429", "4401", "500", "503", "504", "reset"),
              batch: int = 10, workdir: Path | None = None, read_timeout_s: float = 2.0,
              slow_ms: int = 3000, documents: int = 0, pages: int = 3) -> ChaosReport:
    """``documents`` of the uploads are PDFs of ``pages`` pages (one call per page)."""
    from ..emulator.server import start_emulator

    tmp = Path(workdir or tempfile.mkdtemp(prefix="ocrflow-chaos-"))
    keys = write_uploads(tmp / "buckets" / "chaos", uploads, documents, pages)
    with start_emulator(fault_rate=fault_rate, faults=list(faults), seed=seed, recognition=False,
                        slow_ms=slow_ms, credentials={"CHAOSAK": "CHAOSSK"}) as emulator:
        settings = load_settings({
            "OBJECT_STORE_URL": (tmp / "buckets").as_uri(), "OCRFLOW_STATE_DIR": str(tmp / "state"),
            "OCR_ENDPOINT": emulator.url + "/{region}", "OCR_PROJECT_ID": "chaos-project",
            "HUAWEICLOUD_SDK_AK": "CHAOSAK", "HUAWEICLOUD_SDK_SK": "CHAOSSK",
            "OCR_READ_TIMEOUT_S": str(read_timeout_s), "OCR_MAX_ATTEMPTS": "4",
            "OCR_MAX_CONCURRENCY": "8", "POWERTOOLS_LOG_LEVEL": "ERROR",
        })
        configure(settings.service_name, settings.log_level, io.StringIO())
        rt = build_runtime(settings)
        emf = io.StringIO()
        rt.metrics.stream = emf
        credentials = credentials_for(settings, None)
        events = [_sqs_batch(keys, start, min(start + batch, uploads))
                  for start in range(0, uploads, batch)]
        unanswered = redelivered = 0

        def deliver(event: dict[str, Any]) -> set[str]:
            """One invocation; returns the SQS message ids to redeliver."""
            nonlocal unanswered, redelivered
            outcomes = Pipeline(rt).process(events_mod.parse_event(event), credentials,
                                            time.monotonic() + 120.0)
            rt.metrics.flush()
            unanswered += sum(o.billed_unknown for o in outcomes)
            again = {o.delivery_id or "" for o in outcomes if not o.done}
            redelivered += len(again)
            return again

        pending = events
        for _ in range(5):  # the platform redelivers what was not published
            retry = []
            for event in pending:
                failed = deliver(event)
                if failed:
                    retry.append({"Records": [r for r in event["Records"] if r["messageId"] in failed]})
            pending = retry
            if not pending:
                break
        unpublished = sum(len(e["Records"]) for e in pending)
        emulator.wait_idle()  # answers that arrive after the client gave up still count
        stats_before = emulator.stats()
        ours = _emf_totals(emf.getvalue())
        results = list(rt.queue("result").dump())
        failures = list(rt.queue("failure").dump())
        for event in events:  # at-least-once: every event arrives a second time
            deliver(event)
        emulator.wait_idle()
        stats_after = emulator.stats()
        results2, failures2 = list(rt.queue("result").dump()), list(rt.queue("failure").dump())
        rt.close()
    subjects = [m["subject"] for m in results + failures]
    codes: dict[str, int] = {}
    for m in failures:
        codes[m["data"]["error"]["code"]] = codes.get(m["data"]["error"]["code"], 0) + 1
    spent, missing, not_summing = _usage(results, failures)
    return ChaosReport(
        uploads=uploads, results=len(results), failures=len(failures),
        objects_with_message=len(set(subjects) & set(keys)),
        objects_with_two_messages=len(subjects) - len(set(subjects)),
        unpublished=unpublished, redelivered=redelivered, billed=stats_before["billed"],
        unanswered=unanswered,
        redelivery_new_calls=stats_after["total"] - stats_before["total"],
        redelivery_new_messages=len(results2) + len(failures2) - len(results) - len(failures),
        ours=ours,
        emulator={k: stats_before[k] for k in ("total", "success", "failed", "billed")},
        failure_codes=codes, usage=spent, usage_missing=missing, pages_not_summing=not_summing,
        answers=sum(len(m["data"].get("pages") or []) or ("result" in m["data"]) for m in results)
        + sum(len(m["data"].get("pages") or []) for m in failures))


def _usage(results: list[dict[str, Any]], failures: list[dict[str, Any]]
           ) -> tuple[dict[str, int], int, int]:
    """``data.usage`` summed; messages without it; documents whose pages do not add up to it
    (a result's pages exactly, a failure's at most: the page that failed is in no entry)."""
    spent = {"billed_units": 0, "calls": 0}
    missing = not_summing = 0
    for m in results + failures:
        usage = m["data"].get("usage")
        if not isinstance(usage, dict):
            missing += 1
            continue
        for k in spent:
            spent[k] += usage[k]
        entries = m["data"].get("pages") or []
        paged = {k: sum(p["usage"][k] for p in entries) for k in spent}
        if entries and (paged != {k: usage[k] for k in spent} if m in results
                        else any(paged[k] > usage[k] for k in spent)):
            not_summing += 1
    return spent, missing, not_summing


# --- several processes on the same uploads ------------------------------------------------
def write_uploads(folder: Path, uploads: int, documents: int = 0, pages: int = 3) -> list[str]:
    """Writes ``uploads`` small files into ``folder`` — the first ``documents`` of them PDFs of
    ``pages`` pages, the others PNG images; their keys, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [f"upload {i:04d}.pdf" if i < documents else f"upload {i:04d}.png"
            for i in range(uploads)]
    for i, key in enumerate(keys):
        (folder / key).write_bytes(_pdf(i, pages) if i < documents else _png(i))
    return keys


#: ``ocrflow run`` with the claim grace shortened to ``argv[1]`` seconds: a record a killed
#: process claimed is taken over seconds after its deadline instead of a minute, so a chaos
#: run takes seconds. Which calls are re-paid does not depend on the wait. (A saved message
#: stays held for the minute of ``delivery.PUBLISH_HOLD_S``: a publish to a broker that was
#: cut can take tens of seconds, and a shorter hold would let it be taken over meanwhile.)
_RUN_TAKING_OVER_SOONER = (
    "import sys\n"
    "from ocrflow.flow import pipeline\n"
    "pipeline.CLAIM_GRACE_S = float(sys.argv[1])\n"
    "from ocrflow.cli import main\n"
    "sys.exit(main(['run', sys.argv[2]]))\n")


def start_run(folder: Path, env: Mapping[str, str], state_dir: Path,
              claim_grace_s: float | None = None) -> subprocess.Popen[str]:
    """One ``ocrflow run`` over ``folder`` — a function instance given every upload — with
    ``env`` as its whole environment and a state folder of its own. ``claim_grace_s``: how
    long after its deadline a record a crashed process claimed is taken over (default: a
    minute)."""
    if claim_grace_s is None:
        cmd = [sys.executable, "-m", "ocrflow.cli", "run", str(folder)]
    else:
        cmd = [sys.executable, "-c", _RUN_TAKING_OVER_SOONER, str(claim_grace_s), str(folder)]
    return subprocess.Popen(cmd, env={**env, "OCRFLOW_STATE_DIR": str(state_dir)},
                            cwd=state_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@dataclass(frozen=True)
class RunCounts:
    """The counts on ``ocrflow run``'s summary line."""

    results: int
    failures: int
    duplicates: int
    unpublished: int

    @classmethod
    def parse(cls, stdout: str) -> RunCounts:
        m = re.search(r"(\d+) results, (\d+) failures, (\d+) already processed, "
                      r"(\d+) not published", stdout)
        if m is None:
            raise ValueError(f"no ocrflow run summary in: {stdout[-500:]!r}")
        return cls(*map(int, m.groups()))


@dataclass(frozen=True)
class MessageCount:
    """What reached the queues, per upload."""

    uploads: int
    messages: int
    #: uploads with at least one result message
    results: int
    most_per_upload: int
    #: uploads with more than one message (the same CloudEvent id republished counts)
    uploads_with_copies: int
    #: uploads with messages of more than one id: two different outcomes
    uploads_with_distinct_messages: int
    uploads_without_message: int


def count_messages(keys: list[str], results: list[dict[str, Any]],
                   failures: list[dict[str, Any]]) -> MessageCount:
    per_upload: dict[str, list[str]] = {key: [] for key in keys}
    for message in results + failures:
        per_upload.setdefault(message["subject"], []).append(message["id"])
    ids = list(per_upload.values())
    return MessageCount(
        uploads=len(keys), messages=len(results) + len(failures),
        results=len({m["subject"] for m in results}),
        most_per_upload=max((len(i) for i in ids), default=0),
        uploads_with_copies=sum(len(i) > 1 for i in ids),
        uploads_with_distinct_messages=sum(len(set(i)) > 1 for i in ids),
        uploads_without_message=sum(not i for i in ids))


class TcpProxy:
    """A local TCP proxy that can be cut and restored, to put a real server "down" and back
    (the idempotency store, a broker) while processes use it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drops every open connection and refuses new ones."""
        self.up = False
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._stopped = True
        self.cut()
        self.listener.close()


@dataclass(frozen=True)
class Services:
    """The real servers a fleet shares: Redis for idempotency (and the rate limit), a
    RabbitMQ broker for the queues."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _via(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo
                                     else f"127.0.0.1:{proxy.port}"))


class Fleet:
    """``ocrflow run`` processes over the same uploads — function instances given the same
    events — sharing an emulator, the idempotency store in Redis and the queues on RabbitMQ.
    The store and the result queue are reached through a :class:`TcpProxy` each, to cut."""

    def __init__(self, workdir: Path, uploads: int, emulator: RunningEmulator,
                 services: Services, env: Mapping[str, str], claim_grace_s: float) -> None:
        self.workdir, self.emulator, self.services = workdir, emulator, services
        self.claim_grace_s = claim_grace_s
        self.tag = f"ocrflow-chaos-{uuid.uuid4().hex[:8]}"
        self.folder = workdir / "uploads"
        self.keys = write_uploads(self.folder, uploads)
        redis, amqp = urlsplit(services.redis_url), urlsplit(services.amqp_url)
        self.store_proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379)
        self.queue_proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
        self.result_url = f"{services.amqp_url}?queue={self.tag}-results"
        self.failure_url = f"{services.amqp_url}?queue={self.tag}-failures"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "OCR_ENDPOINT": emulator.url + "/{region}", "OCR_PROJECT_ID": "chaos-project",
            "HUAWEICLOUD_SDK_AK": "CHAOSAK", "HUAWEICLOUD_SDK_SK": "CHAOSSK",
            # each record's outcome: who published what, which publish failed
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "IDEMPOTENCY_STORE_URL": f"{_via(services.redis_url, self.store_proxy)}?prefix={self.tag}:",
            "RESULT_QUEUE_URL": _via(self.result_url, self.queue_proxy),
            "FAILURE_QUEUE_URL": self.failure_url, **env}
        self._runs = 0
        #: uploads a process failed to publish (the queue was cut): the broker may have taken
        #: the message without its confirmation reaching the process
        self.publish_failed: set[str] = set()
        #: how many deliveries reported publishing each upload's message
        self.published: dict[str, int] = {}

    def start(self) -> subprocess.Popen[str]:
        self._runs += 1
        return start_run(self.folder, self.env, self.workdir / f"state{self._runs}",
                         self.claim_grace_s)

    def finish(self, procs: list[subprocess.Popen[str]], timeout_s: float = 600) -> list[RunCounts]:
        """Waits for ``procs``; the summary of each that was not killed."""
        counts = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout_s)
            (self.workdir / f"run-{proc.pid}.log").write_text(stderr)  # kept for a post-mortem
            for line in stderr.splitlines():
                with contextlib.suppress(ValueError, AttributeError, KeyError):
                    record = json.loads(line)
                    if record.get("code") == "OCRFLOW.PUBLISH_FAILED":
                        self.publish_failed.add(record["key"])
                    elif record.get("status") in ("result", "failure"):
                        self.published[record["key"]] = self.published.get(record["key"], 0) + 1
            if proc.returncode >= 0:
                counts.append(RunCounts.parse(stdout + stderr))
        return counts

    def redeliver(self, within_s: float = 120) -> int:
        """Every upload again, one process, until a run publishes everything it was given
        (records a killed process held are given back until taken over: its claims after
        their grace, a message it saved after its hold) or ``within_s`` passed; the rounds."""
        until = time.monotonic() + within_s
        rounds = 0
        while True:
            rounds += 1
            [counts] = self.finish([self.start()])
            if counts.unpublished == 0 or time.monotonic() > until:
                return rounds
            time.sleep(max(1.0, self.claim_grace_s / 2))

    def messages(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from ..adapters.registry import open_queue

        out = []
        for url in (self.result_url, self.failure_url):
            queue = open_queue(url, "QUEUE_URL")
            try:
                out.append(list(queue.dump()))
            finally:
                queue.close()
        return out[0], out[1]

    def paid_answers_lost(self, messages: list[dict[str, Any]]) -> int:
        """Billed answers whose request id no published message carries: each of them was
        paid for again (the upload has a message, from another call)."""
        published = {m["data"].get("request_id") for m in messages}
        return len(set(self.emulator.billed_request_ids()) - published)

    def close(self) -> None:
        import pika
        import redis

        self.store_proxy.close()
        self.queue_proxy.close()
        client = redis.Redis.from_url(self.services.redis_url)
        for key in client.scan_iter(f"{self.tag}:*"):
            client.delete(key)
        client.close()
        conn = pika.BlockingConnection(pika.URLParameters(self.services.amqp_url))
        try:
            channel = conn.channel()
            for url in (self.result_url, self.failure_url):
                channel.queue_delete(url.rpartition("queue=")[2])
        finally:
            conn.close()


def _wait_for_calls(emulator: RunningEmulator, calls: int, total: bool = False,
                    timeout_s: float = 120) -> int:
    """Waits until ``calls`` calls are in flight (or, ``total``, were received in all)."""
    def seen() -> int:
        return int(emulator.stats()["total"]) + emulator.in_flight if total else emulator.in_flight

    deadline = time.monotonic() + timeout_s
    while seen() < calls and time.monotonic() < deadline:
        time.sleep(0.01)
    return emulator.in_flight


@dataclass
class FleetChaosReport:
    processes: int
    uploads: int
    fault_rate: float
    calls_per_second: int
    #: when one process was killed (SIGKILL): after this many calls (None: none killed)
    killed_after_calls: int | None
    #: requests the emulator was answering, fleet-wide, when one process was killed
    calls_in_flight_at_kill: int
    #: how long the result queue was cut (0: not cut)
    result_queue_cut_s: float
    messages: MessageCount
    billed: int
    #: uploads with copies whose publish failed once (the queue was cut): the broker had taken
    #: the message, its confirmation was lost
    copies_after_a_failed_publish: int
    #: the uploads with copies, for a post-mortem with the processes' logs (run-PID.log)
    uploads_copied: list[str]
    #: uploads whose message two live deliveries each reported publishing (a process killed
    #: between its queue's confirmation and marking the record complete reports nothing)
    uploads_published_by_two_deliveries: int
    #: billed answers never published: calls paid twice (the upload's message is another's)
    paid_answers_lost: int
    redelivery_rounds: int
    final_redelivery_new_calls: int
    final_redelivery_new_messages: int
    emulator: dict[str, int] = field(default_factory=dict)
    failure_codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        out["messages"] = self.messages.__dict__.copy()
        return out


def run_fleet_chaos(processes: int = 4, uploads: int = 300, fault_rate: float = 0.25,
                    qps: int = 20, seed: int = 7,
                    faults: tuple[str, ...] = ("429", "4401", "500", "503", "504", "reset"),
                    kill_after_calls: int | None = 60, cut_after_calls: int | None = 120,
                    cut_for_s: float = 5.0,
                    services: Services | None = None, workdir: Path | None = None,
                    claim_grace_s: float = 5.0, latency_ms: int = 100) -> FleetChaosReport:
    """``processes`` × ``ocrflow run`` on the same ``uploads``, against an emulator that fails
    ``fault_rate`` of the calls and throttles above ``qps`` calls/s in any one-second window,
    with ``OCR_MAX_CALLS_PER_SECOND`` = ``qps``; one process killed (SIGKILL) once the
    emulator has seen ``kill_after_calls`` calls; the result queue cut for ``cut_for_s`` once
    it has seen ``cut_after_calls``; then every upload redelivered until all are published,
    and once more. Records the killed process claimed are taken over ``claim_grace_s`` after
    their deadline (10 s), not a minute."""
    from ..emulator.server import start_emulator

    tmp = Path(workdir or tempfile.mkdtemp(prefix="ocrflow-chaos-"))
    with start_emulator(fault_rate=fault_rate, faults=list(faults), seed=seed, recognition=False,
                        latency_ms=latency_ms, qps=qps, qps_window="sliding",
                        keep_billed_ids=True, credentials={"CHAOSAK": "CHAOSSK"}) as emulator:
        fleet = Fleet(tmp, uploads, emulator, services or Services(),
                      {"OCR_MAX_CALLS_PER_SECOND": str(qps), "OCR_MAX_ATTEMPTS": "4",
                       "OCR_MAX_CONCURRENCY": "8", "OCR_DEADLINE_S": "10"}, claim_grace_s)
        try:
            procs = [fleet.start() for _ in range(processes)]
            in_flight = 0
            if kill_after_calls is not None:
                _wait_for_calls(emulator, kill_after_calls, total=True)
                in_flight = emulator.in_flight
                procs[0].kill()
                fleet.finish(procs[:1])
                procs = procs[1:]
            if cut_after_calls is not None:
                _wait_for_calls(emulator, cut_after_calls, total=True)
                fleet.queue_proxy.cut()
                time.sleep(cut_for_s)
                fleet.queue_proxy.restore()
            fleet.finish(procs)
            rounds = fleet.redeliver()
            emulator.wait_idle()
            before = emulator.stats()
            results, failures = fleet.messages()
            lost = fleet.paid_answers_lost(results + failures)
            fleet.redeliver(0)  # at least once: every upload arrives once more
            emulator.wait_idle()
            after = emulator.stats()
            again = sum(map(len, fleet.messages()))
        finally:
            fleet.close()
    codes: dict[str, int] = {}
    for m in failures:
        codes[m["data"]["error"]["code"]] = codes.get(m["data"]["error"]["code"], 0) + 1
    copied = _with_copies(results + failures)
    return FleetChaosReport(
        processes=processes, uploads=uploads, fault_rate=fault_rate, calls_per_second=qps,
        killed_after_calls=kill_after_calls, calls_in_flight_at_kill=in_flight,
        result_queue_cut_s=cut_for_s if cut_after_calls is not None else 0.0,
        messages=count_messages(fleet.keys, results, failures),
        copies_after_a_failed_publish=len(copied & fleet.publish_failed),
        uploads_copied=sorted(copied),
        uploads_published_by_two_deliveries=sum(n > 1 for n in fleet.published.values()),
        billed=before["billed"], paid_answers_lost=lost, redelivery_rounds=rounds,
        final_redelivery_new_calls=after["total"] - before["total"],
        final_redelivery_new_messages=again - len(results) - len(failures),
        emulator={k: before[k] for k in ("total", "success", "failed", "billed")},
        failure_codes=codes)


def _with_copies(messages: list[dict[str, Any]]) -> set[str]:
    seen: set[str] = set()
    copies: set[str] = set()
    for m in messages:
        (copies if m["subject"] in seen else seen).add(m["subject"])
    return copies


@dataclass
class WindowCost:
    """What one crash window cost: calls in flight when it opened, calls paid twice."""

    calls_in_flight: int
    uploads: int
    billed: int
    paid_answers_lost: int
    messages: MessageCount

    def as_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        out["messages"] = self.messages.__dict__.copy()
        return out


def crash_cost(calls: int = 8, latency_ms: int = 1500, services: Services | None = None,
               workdir: Path | None = None, claim_grace_s: float = 3.0) -> WindowCost:
    """One process killed (SIGKILL) with ``calls`` OCR calls in flight, then every upload
    redelivered: how many calls were paid twice."""
    return _window_cost("kill", calls, latency_ms, 0.0, 10.0, services, workdir, claim_grace_s)


def outage_cost(outage_s: float, deadline_s: float = 4.0, calls: int = 8, latency_ms: int = 1000,
                services: Services | None = None, workdir: Path | None = None,
                claim_grace_s: float = 3.0) -> WindowCost:
    """The idempotency store cut for ``outage_s`` while ``calls`` OCR calls are in flight
    (records with ``deadline_s`` each), then every upload redelivered: how many calls were
    paid twice."""
    return _window_cost("store", calls, latency_ms, outage_s, deadline_s, services, workdir,
                        claim_grace_s)


def _window_cost(window: str, calls: int, latency_ms: int, outage_s: float, deadline_s: float,
                 services: Services | None, workdir: Path | None,
                 claim_grace_s: float) -> WindowCost:
    from ..emulator.server import start_emulator

    tmp = Path(workdir or tempfile.mkdtemp(prefix="ocrflow-chaos-"))
    uploads = 2 * calls  # half in flight at the cut, half still to come
    with start_emulator(recognition=False, latency_ms=latency_ms, keep_billed_ids=True,
                        credentials={"CHAOSAK": "CHAOSSK"}) as emulator:
        fleet = Fleet(tmp, uploads, emulator, services or Services(),
                      {"OCR_MAX_CONCURRENCY": str(calls), "OCR_DEADLINE_S": str(deadline_s)},
                      claim_grace_s)
        try:
            proc = fleet.start()
            in_flight = _wait_for_calls(emulator, calls)
            if window == "kill":
                proc.kill()
                proc.wait()
            else:
                fleet.store_proxy.cut()
                time.sleep(outage_s)
                fleet.store_proxy.restore()
                fleet.finish([proc])
            emulator.wait_idle()
            fleet.redeliver()
            emulator.wait_idle()
            results, failures = fleet.messages()
            lost = fleet.paid_answers_lost(results + failures)
            billed = emulator.stats()["billed"]
        finally:
            fleet.close()
    return WindowCost(calls_in_flight=in_flight, uploads=uploads, billed=billed,
                      paid_answers_lost=lost,
                      messages=count_messages(fleet.keys, results, failures))


def _sqs_batch(keys: list[str], start: int, stop: int) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{i}", "eventSource": "aws:sqs", "body": json.dumps({
        "Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "chaos"}, "object": {"key": keys[i].replace(" ", "+")}}}]})}
        for i in range(start, stop)]}


def _emf_totals(text: str) -> dict[str, int]:
    totals = {"total": 0, "success": 0, "failed": 0, "billed": 0}
    for line in text.splitlines():
        doc = json.loads(line)
        totals["total"] += doc.get("OcrCallsTotal", 0)
        totals["success"] += doc.get("OcrCallsSuccess", 0)
        totals["failed"] += doc.get("OcrCallsFailed", 0)
        totals["billed"] += doc.get("OcrBilledUnits", 0)
    return totals
