"""Wiring: the one place where adapters (object store, queues, idempotency store, the
fleet-wide rate limiter), the OCR client, metrics and the worker pool are built.

The handler, the ``ocrflow`` commands, redrive, the chaos run, the benchmarks and the tests
all get a :class:`Runtime` from here: :func:`runtime` for the process-wide one (built once
per cold start from the environment), :func:`build_runtime` for one of their own.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .adapters.queues import Queue
from .adapters.registry import (
    check_backends,
    open_idempotency_store,
    open_object_store,
    open_queue,
    open_rate_store,
    queue_max_message_bytes,
)
from .adapters.stores import ObjectStore
from .config.settings import Settings, catalogue_warnings, load_settings
from .core.errors import ConfigError, PublishError
from .core.memory import MemoryGate
from .documents import records_memory
from .observability.log import configure, get_logger
from .observability.metrics import CloudEye, Metrics
from .provider import catalogue as catalogue_mod

if TYPE_CHECKING:
    from .adapters.idempotency.policy import IdempotencyStore
    from .adapters.ratelimit.limiter import RateLimiter
    from .core.signer import Credentials
    from .provider.client import OcrClient

QUEUE_VARIABLES = {"result": "RESULT_QUEUE_URL", "failure": "FAILURE_QUEUE_URL"}


class Runtime:
    """Everything built once per process (per cold start) and reused by invocations:
    settings, the HTTP session, adapters. Adapters open lazily on first use."""

    def __init__(self, settings: Settings) -> None:
        from .provider.client import OcrClient

        # a backend whose extra is missing stops the start, not a record in the middle
        check_backends({
            "OBJECT_STORE_URL": settings.object_store_url,
            "RESULT_QUEUE_URL": settings.queue_url("result"),
            "FAILURE_QUEUE_URL": settings.queue_url("failure"),
            "IDEMPOTENCY_STORE_URL": settings.idempotency_url,
        })
        self.settings = settings
        self.catalogue = catalogue_mod.load()
        self.metrics = Metrics(settings.metrics_namespace, settings.service_name,
                               mode=settings.metrics)
        self.client: OcrClient = OcrClient(settings, self.metrics, limiter=rate_limiter(settings))
        if settings.metrics == "ces":
            self.metrics.cloud_eye = CloudEye(
                settings.ces_endpoint.replace("{region}", settings.region), settings.ces_namespace,
                session=lambda: self.client.session, proxies=self.client.proxies_for,
                iam_token=settings.iam_token)
        self._object_store: ObjectStore | None = None
        self._queues: dict[str, Queue | None] = {"result": None, "failure": None}
        #: Largest body each destination takes (None: no practical limit), read from the
        #: queue URL without connecting, so a result is sized before anything is opened.
        self.message_limits: dict[str, int | None] = {}
        self._idempotency: IdempotencyStore | None = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        #: OCR calls in flight in this invocation, records and document pages alike
        self.call_slots = threading.BoundedSemaphore(settings.max_concurrency)
        #: bytes the records in flight hold (files, request bodies), within the function's
        #: memory (OCR_MEMORY_MB, else the platform's own figure)
        self.memory = MemoryGate(records_memory(settings.memory_mb))

    @property
    def object_store(self) -> ObjectStore:
        if self._object_store is None:
            with self._lock:
                if self._object_store is None:
                    self._object_store = open_object_store(self.settings.object_store_url)
        return self._object_store

    def object_store_for(self, credentials: Credentials | None, region: str | None) -> ObjectStore:
        """The object store with one invocation's credentials and its event's region."""
        return self.object_store.scoped(credentials, region)

    def max_message_bytes(self, which: str) -> int | None:
        if which not in self.message_limits:
            self.message_limits[which] = queue_max_message_bytes(
                self.settings.queue_url(which), QUEUE_VARIABLES[which])
        return self.message_limits[which]

    def queue(self, which: str) -> Queue:
        """The result or failure queue. Raises ConfigError for a bad URL and PublishError
        when the queue cannot be opened now (the record is redelivered later)."""
        queue = self._queues.get(which)
        if queue is None:
            with self._lock:
                queue = self._queues.get(which)
                if queue is None:
                    url = self.settings.queue_url(which)
                    other = "failure" if which == "result" else "result"
                    if url == self.settings.queue_url(other) and self._queues.get(other):
                        queue = self._queues[other]
                    else:
                        queue = self._open_queue(url, QUEUE_VARIABLES[which])
                    self._queues[which] = queue
        return queue  # type: ignore[return-value]

    def queue_at(self, url: str, variable: str) -> tuple[Queue, bool]:
        """The queue at ``url``: this runtime's own when it is the result or failure queue,
        else a new one. The flag says whether the caller opened it (and must close it)."""
        for which in ("failure", "result"):
            if url == self.settings.queue_url(which):
                return self.queue(which), False
        return self._open_queue(url, variable), True

    @staticmethod
    def _open_queue(url: str, variable: str) -> Queue:
        try:
            return open_queue(url, variable)
        except (ConfigError, PublishError):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever stops the opening, the queue is
            # unavailable for now; the record's stored message is published on redelivery
            raise PublishError(f"{variable}: the queue could not be opened "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from exc

    def open_queues(self) -> None:
        """Opens both queues before records are processed, so a broker connection (Kafka's
        producer id, an AMQP channel) is made while the first OCR call runs. A bad URL
        raises ConfigError here, naming its variable; a broker that is down does not stop
        the invocation (its records fail at publish and are redelivered)."""
        for which in ("result", "failure"):
            self.max_message_bytes(which)
            try:
                self.queue(which)
            except PublishError as exc:
                get_logger().warning("queue not reachable yet", queue=which, error=str(exc)[:200])

    @property
    def idempotency(self) -> IdempotencyStore:
        if self._idempotency is None:
            with self._lock:
                if self._idempotency is None:
                    store = open_idempotency_store(self.settings.idempotency_url)
                    store.retention_s = self.settings.idempotency_ttl_s
                    self._idempotency = store
        return self._idempotency

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self.settings.max_concurrency, thread_name_prefix="ocrflow")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.client.close()
        seen: set[int] = set()
        for part in (self._object_store, *self._queues.values(), self._idempotency):
            if part is not None and id(part) not in seen:
                seen.add(id(part))
                part.close()


def rate_limiter(settings: Settings) -> RateLimiter | None:
    """The fleet-wide limiter of ``OCR_MAX_CALLS_PER_SECOND``, sharing the idempotency
    store's place (opened on the first limited call)."""
    if settings.max_calls_per_second is None:
        return None
    from .adapters.ratelimit.limiter import Limits, RateLimiter

    url = settings.idempotency_url
    if url.startswith("sqlite:") and (os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
                                      or os.environ.get("RUNTIME_CODE_ROOT")):
        get_logger().warning("OCR_MAX_CALLS_PER_SECOND with a sqlite idempotency store limits "
                             "each function instance on its own, not the fleet; use redis:// or "
                             "dynamodb:// in IDEMPOTENCY_STORE_URL")
    said = [0.0]

    def store_down(exc: Exception) -> None:
        if time.monotonic() - said[0] > 60:  # once a minute, not once a call
            said[0] = time.monotonic()
            get_logger().warning("rate store unreachable: calling without the fleet-wide limit",
                                 error=str(exc)[:200])

    return RateLimiter(Limits.of(settings.max_calls_per_second),
                       lambda: open_rate_store(url), on_store_error=store_down)


def build_runtime(settings: Settings | None = None) -> Runtime:
    """A runtime of its own (an ``ocrflow`` command, a benchmark, a test), from ``settings``
    or the environment; the caller closes it."""
    return Runtime(settings or load_settings())


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime(settings: Settings | None = None) -> Runtime:
    """The process-wide runtime, built on first use (the cold start) from the environment."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                settings = settings or load_settings()
                if settings.credentials_secret:
                    from .config.secrets import with_secret_credentials

                    settings = with_secret_credentials(settings)
                configure(settings.service_name, settings.log_level)
                for warning in catalogue_warnings(settings):
                    get_logger().warning("calling where the endpoint tables do not list the API",
                                         detail=warning)
                _runtime = Runtime(settings)
    return _runtime


def reset_runtime() -> None:
    """Drops the process-wide runtime (tests, ``ocrflow`` commands that change the
    environment)."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None
