"""URL scheme → adapter. Each adapter module is imported only when its scheme is used,
so a cold start pays only for the backends it talks to."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.errors import ConfigError, UnknownSchemeError
from .ports import ObjectStore, Queue

if TYPE_CHECKING:
    from .idempotency.policy import IdempotencyStore

# scheme -> "module:factory"; a factory takes the URL (and for stores the variable name).
_STORES = {
    "file": "ocrflow.adapters.stores.file:open_store",
    "s3": "ocrflow.adapters.stores.s3:open_store",
    "obs": "ocrflow.adapters.stores.obs:open_store",
}
_QUEUES = {
    "sqlite": "ocrflow.adapters.queues.sqlite:open_queue",
    "https": "ocrflow.adapters.queues.sqs:open_queue",
    "http": "ocrflow.adapters.queues.sqs:open_queue",  # a local SQS endpoint (moto, ElasticMQ)
    "sqs": "ocrflow.adapters.queues.sqs:open_queue",
    "amqp": "ocrflow.adapters.queues.amqp:open_queue",
    "amqps": "ocrflow.adapters.queues.amqp:open_queue",
    "redis": "ocrflow.adapters.queues.redis_streams:open_queue",
    "rediss": "ocrflow.adapters.queues.redis_streams:open_queue",
    "kafka": "ocrflow.adapters.queues.kafka:open_queue",
    "arn": "ocrflow.adapters.queues.sns:open_queue",  # an SNS topic ARN, as !Ref gives it
}
# scheme -> "module:function" giving the largest body a queue takes, read from its URL
# alone; schemes not listed have no practical limit.
_QUEUE_LIMITS = {
    "https": "ocrflow.adapters.queues.sqs:max_message_bytes",
    "http": "ocrflow.adapters.queues.sqs:max_message_bytes",
    "sqs": "ocrflow.adapters.queues.sqs:max_message_bytes",
    "kafka": "ocrflow.adapters.queues.kafka:max_message_bytes",
    "arn": "ocrflow.adapters.queues.sns:max_message_bytes",
}
_IDEMPOTENCY = {
    "sqlite": "ocrflow.adapters.idempotency.sqlite:open_store",
    "redis": "ocrflow.adapters.idempotency.redis:open_store",
    "rediss": "ocrflow.adapters.idempotency.redis:open_store",
    "dynamodb": "ocrflow.adapters.idempotency.dynamodb:open_store",
}


# scheme -> (the package its adapter imports, the extra that installs it)
_EXTRAS = {
    "s3": ("boto3", "aws"), "dynamodb": ("boto3", "aws"),
    "https": ("boto3", "aws"), "http": ("boto3", "aws"), "sqs": ("boto3", "aws"),
    "amqp": ("pika", "amqp"), "amqps": ("pika", "amqp"),
    "redis": ("redis", "redis"), "rediss": ("redis", "redis"),
    "kafka": ("confluent_kafka", "kafka"),
    "arn": ("boto3", "aws"),
}


def known_forms(schemes: Iterable[str]) -> str:
    """How each scheme is written in a URL: ``sqs://``, and an SNS topic by its ARN."""
    return ", ".join(sorted("arn:aws:sns:…" if s == "arn" else f"{s}://" for s in schemes))


def check_installed(url: str, variable: str) -> None:
    """Raises ConfigError, naming ``variable`` and the extra to install, when the backend of
    ``url`` needs a package that is not installed. Looks the package up without importing
    it, so a start pays nothing for the check."""
    scheme = urlsplit(url).scheme.lower()
    need = _EXTRAS.get(scheme)
    if need is not None and importlib.util.find_spec(need[0]) is None:
        package, extra = need
        raise ConfigError(variable, f"{scheme}:// needs the {package} package, which is not "
                                    f"installed: pip install 'ocrflow[{extra}]'")


def _load(table: dict[str, str], url: str, variable: str) -> object:
    scheme = urlsplit(url).scheme.lower()
    target = table.get(scheme)
    if target is None:
        raise UnknownSchemeError(variable, f"unsupported scheme in {url!r}; expected one of "
                                           f"{known_forms(table)}")
    check_installed(url, variable)
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _open(table: dict[str, str], url: str, variable: str) -> Any:
    factory = _load(table, url, variable)
    try:
        return factory(url)  # type: ignore[operator]
    except ConfigError as exc:
        # adapters name a default variable; say the one the user actually set
        if exc.variable != variable:
            raise ConfigError(variable, exc.problem) from None
        raise


def check_backends(urls: dict[str, str]) -> None:
    """Checks, at start, that every configured URL ({variable: url}) names a known scheme
    whose backend is installed."""
    tables = {"OBJECT_STORE_URL": _STORES, "IDEMPOTENCY_STORE_URL": _IDEMPOTENCY}
    for variable, url in urls.items():
        table = tables.get(variable, _QUEUES)
        scheme = urlsplit(url).scheme.lower()
        if scheme not in table:
            raise UnknownSchemeError(variable, f"unsupported scheme in {url!r}; expected one of "
                                               f"{known_forms(table)}")
        check_installed(url, variable)


def open_object_store(url: str, variable: str = "OBJECT_STORE_URL") -> ObjectStore:
    return _open(_STORES, url, variable)


def open_queue(url: str, variable: str = "RESULT_QUEUE_URL") -> Queue:
    return _open(_QUEUES, url, variable)


def open_idempotency_store(url: str, variable: str = "IDEMPOTENCY_STORE_URL") -> IdempotencyStore:
    return _open(_IDEMPOTENCY, url, variable)


def queue_max_message_bytes(url: str, variable: str = "RESULT_QUEUE_URL") -> int | None:
    """The largest message body the queue at ``url`` takes (None: no practical limit),
    known without connecting: results above it go through the claim check."""
    _load(_QUEUES, url, variable)  # an unknown scheme is reported as for opening
    if urlsplit(url).scheme.lower() not in _QUEUE_LIMITS:
        return None
    limit = _load(_QUEUE_LIMITS, url, variable)
    return limit(url, variable)  # type: ignore[operator]


def queue_schemes() -> list[str]:
    return sorted(_QUEUES)


def store_schemes() -> list[str]:
    return sorted(_STORES)


def idempotency_schemes() -> list[str]:
    return sorted(_IDEMPOTENCY)
