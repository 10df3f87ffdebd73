"""Every URL of the configuration checked at start, without connecting anywhere: read by the
backend that will use it (:func:`ocrflow.adapters.registry.check_url`: pika for AMQP,
redis-py for Redis, the Kafka adapter's own parser, urllib3 for HTTP endpoints), so that a
URL which would fail at the first record — an unknown scheme, a bad port, ``maxlen=abc``, a
password whose unencoded ``#`` or ``/`` makes the parser read part of it as a port — stops
the start instead, with one :class:`~ocrflow.core.errors.ConfigError` naming the variable.
Library messages are never quoted (they may hold a piece of the password); the URL is shown
redacted.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ..adapters import registry
from ..adapters.urls import http_endpoint, readable, refusal
from ..core.errors import ConfigError
from ..core.object_names import bucket_problem

__all__ = ["claim_check", "http_endpoint", "idempotency_store", "object_store", "queue",
           "writable_folder"]


def queue(url: str, variable: str) -> None:
    registry.check_url(registry.QUEUES, url, variable)


def idempotency_store(url: str, variable: str) -> None:
    registry.check_url(registry.IDEMPOTENCY, url, variable)


def object_store(url: str, variable: str) -> str:
    """The object store's URL (its adapter reads it and connects to nothing); returns the
    scheme."""
    return registry.check_url(registry.STORES, url, variable)


def claim_check(url: str, variable: str, store_scheme: str) -> None:
    """``s3://BUCKET/PREFIX`` (or ``obs://``, ``file://BUCKET/PREFIX``): written through the
    object store, so the bucket must be one that store can address."""
    registry.scheme_in(registry.STORES, url, variable)
    readable(url, variable)
    bucket = urlsplit(url).netloc
    problem = bucket_problem(bucket, store_scheme) if bucket else "no bucket"
    if problem is not None:
        raise refusal(variable, url, f"expected SCHEME://BUCKET/PREFIX ({problem})")


def writable_folder(folder: Path, variable: str) -> None:
    """``folder`` exists as a writable folder, or can be made under one that does."""
    here = folder if folder.is_absolute() else Path.cwd() / folder
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise ConfigError(variable, f"{here} is not a folder")
    if not os.access(here, os.W_OK | os.X_OK):
        raise ConfigError(variable, f"folder {here} is not writable")
