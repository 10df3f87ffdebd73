"""URL scheme → backend module: one table per kind of backend, and nothing else about any
backend. Each backend module owns its scheme: it names the package it needs and the extra
that installs it (``REQUIRES``), checks its URL without connecting (``check_url``), opens it
(``open_store`` / ``open_queue``) and, for a queue with a size limit, gives the largest body
it takes (``max_message_bytes``). A module is imported only when its scheme is used, so a
cold start pays only for the backends it talks to; an unknown scheme is refused here, once.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..core import redact
from ..core.errors import ConfigError, UnknownSchemeError
from .queues import Queue
from .stores import ObjectStore
from .urls import readable, refusal, scheme_of

if TYPE_CHECKING:
    from .idempotency.policy import IdempotencyStore
    from .ratelimit.port import RateStore

STORES = {
    "file": "ocrflow.adapters.stores.file",
    "s3": "ocrflow.adapters.stores.s3",
    "obs": "ocrflow.adapters.stores.obs",
}
QUEUES = {
    "sqlite": "ocrflow.adapters.queues.sqlite",
    "https": "ocrflow.adapters.queues.sqs",
    "http": "ocrflow.adapters.queues.sqs",  # a local SQS endpoint (moto, ElasticMQ)
    "sqs": "ocrflow.adapters.queues.sqs",
    "amqp": "ocrflow.adapters.queues.amqp",
    "amqps": "ocrflow.adapters.queues.amqp",
    "redis": "ocrflow.adapters.queues.redis_streams",
    "rediss": "ocrflow.adapters.queues.redis_streams",
    "kafka": "ocrflow.adapters.queues.kafka",
    "arn": "ocrflow.adapters.queues.sns",  # an SNS topic ARN, as !Ref gives it
}
IDEMPOTENCY = {
    "sqlite": "ocrflow.adapters.idempotency.sqlite",
    "redis": "ocrflow.adapters.idempotency.redis",
    "rediss": "ocrflow.adapters.idempotency.redis",
    "dynamodb": "ocrflow.adapters.idempotency.dynamodb",
}
#: The fleet-wide rate lives beside the idempotency records: same URL, same place.
RATE_STORES = {
    "sqlite": "ocrflow.adapters.ratelimit.sqlite",
    "redis": "ocrflow.adapters.ratelimit.redis",
    "rediss": "ocrflow.adapters.ratelimit.redis",
    "dynamodb": "ocrflow.adapters.ratelimit.dynamodb",
}
#: The table of each URL variable (every other variable names a queue).
TABLES = {"OBJECT_STORE_URL": STORES, "CLAIM_CHECK_URL": STORES, "IDEMPOTENCY_STORE_URL": IDEMPOTENCY}


def known_forms(schemes: Iterable[str]) -> str:
    """How each scheme is written in a URL: ``sqs://``, and an SNS topic by its ARN."""
    return ", ".join(sorted("arn:aws:sns:…" if s == "arn" else f"{s}://" for s in schemes))


def scheme_in(table: dict[str, str], url: str, variable: str) -> str:
    """The one refusal of an unsupported scheme."""
    scheme = scheme_of(url)
    if scheme not in table:
        raise UnknownSchemeError(variable, f"unsupported scheme in {redact.url(url)!r}; expected "
                                           f"one of {known_forms(table)}")
    return scheme


def _backend(table: dict[str, str], url: str, variable: str) -> ModuleType:
    """The backend module of ``url``'s scheme, once the package it needs is known to be
    installed (ConfigError naming ``variable`` and the extra to install otherwise)."""
    scheme = scheme_in(table, url, variable)
    module = importlib.import_module(table[scheme])
    need: tuple[str, str] | None = module.REQUIRES
    if need is not None and importlib.util.find_spec(need[0]) is None:
        package, extra = need
        raise ConfigError(variable, f"{scheme}:// needs the {package} package, which is not "
                                    f"installed: pip install 'ocrflow[{extra}]'")
    return module


def _open(table: dict[str, str], opener: str, url: str, variable: str) -> Any:
    factory: Callable[[str], Any] = getattr(_backend(table, url, variable), opener)
    try:
        return factory(url)
    except ConfigError as exc:
        # backends name a default variable; say the one the user actually set
        if exc.variable != variable:
            raise ConfigError(variable, exc.problem) from None
        raise


def check_url(table: dict[str, str], url: str, variable: str) -> str:
    """Checks ``url`` at start as its backend will read it, without connecting; returns its
    scheme. A library's parser refusing what the backend's checks let through is a
    ConfigError too, without its message (it may quote a piece of the password)."""
    scheme = scheme_in(table, url, variable)
    readable(url, variable)
    backend = _backend(table, url, variable)
    try:
        backend.check_url(url, variable)
    except ImportError as exc:
        raise UnknownSchemeError(variable, f"the {scheme}:// backend needs a package that is not "
                                           f"installed ({exc.name})") from None
    except ConfigError as exc:
        if exc.variable != variable:
            raise ConfigError(variable, exc.problem) from None
        raise
    except (ValueError, TypeError, KeyError, UnicodeError):
        raise refusal(variable, url, f"the {scheme}:// backend cannot read this URL") from None
    return scheme


def check_backends(urls: dict[str, str]) -> None:
    """Checks, at start, that every configured URL ({variable: url}) names a known scheme
    whose backend is installed."""
    for variable, url in urls.items():
        _backend(TABLES.get(variable, QUEUES), url, variable)


def open_object_store(url: str, variable: str = "OBJECT_STORE_URL") -> ObjectStore:
    store: ObjectStore = _open(STORES, "open_store", url, variable)
    return store


def open_queue(url: str, variable: str = "RESULT_QUEUE_URL") -> Queue:
    queue: Queue = _open(QUEUES, "open_queue", url, variable)
    return queue


def open_idempotency_store(url: str, variable: str = "IDEMPOTENCY_STORE_URL") -> IdempotencyStore:
    store: IdempotencyStore = _open(IDEMPOTENCY, "open_store", url, variable)
    return store


def open_rate_store(url: str, variable: str = "IDEMPOTENCY_STORE_URL") -> RateStore:
    """The rate store beside the idempotency store ``url`` names (same scheme, same place)."""
    store: RateStore = _open(RATE_STORES, "open_store", url, variable)
    return store


def queue_max_message_bytes(url: str, variable: str = "RESULT_QUEUE_URL") -> int | None:
    """The largest message body the queue at ``url`` takes (None: no practical limit),
    known without connecting: results above it go through the claim check."""
    limit = getattr(_backend(QUEUES, url, variable), "max_message_bytes", None)
    return None if limit is None else int(limit(url, variable))
