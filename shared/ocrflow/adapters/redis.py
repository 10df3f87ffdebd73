"""Redis (also Huawei DCS for Redis, ElastiCache): one reading of a ``redis://`` or
``rediss://`` URL for every backend on it — the stream queue, the idempotency store and the
rate store beside it — and one client per server for the two stores that share it.

``redis://[user:password@]host:port/db[?stream=NAME&maxlen=N&prefix=P&...]``: ``stream`` and
``maxlen`` are the queue's (:mod:`.queues.redis_streams`), ``prefix`` the stores' key prefix
(default ``ocrflow:``); every other option is redis-py's own.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from .urls import port_and_host, query_of, refusal

#: The package a Redis backend needs, and the extra that installs it.
REQUIRES = ("redis", "redis")
#: ocrflow's own options, taken out of the URL before redis-py reads it.
OWN_OPTIONS = ("stream", "maxlen", "prefix")
DEFAULT_PREFIX = "ocrflow:"
_STREAM = re.compile(r"[^\s]{1,512}")


@dataclass(frozen=True)
class RedisUrl:
    #: the URL as redis-py takes it: ocrflow's own options removed
    client_url: str
    stream: str | None = None
    maxlen: int | None = None
    prefix: str = DEFAULT_PREFIX


def parse(url: str) -> RedisUrl:
    """The URL's parts (checked at start by :func:`check_url`)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    own = {k: query.pop(k) for k in OWN_OPTIONS if k in query}
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    maxlen = own.get("maxlen")
    return RedisUrl(urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
                    own.get("stream") or None, int(maxlen) if maxlen else None,
                    own.get("prefix", DEFAULT_PREFIX))


def check_url(url: str, variable: str, stream: bool) -> None:
    """The URL as redis-py will read it; ``stream``: a queue's URL, which names its stream."""
    from redis.connection import parse_url

    port_and_host(url, variable)
    query = query_of(url, variable)
    if stream:
        if not _STREAM.fullmatch(query.get("stream", "")):
            raise refusal(variable, url, "a Redis URL needs ?stream=NAME")
        maxlen = query.get("maxlen")
        if maxlen is not None and not (maxlen.isascii() and maxlen.isdigit()
                                       and 0 < int(maxlen) <= 10**12):
            raise refusal(variable, url, "maxlen must be a whole number above 0")
    path = urlsplit(url).path.strip("/")
    if path and not (path.isascii() and path.isdigit()):
        raise refusal(variable, url, "the path is the database number, /0 to /15")
    rest = {k: v for k, v in query.items() if k not in OWN_OPTIONS}
    parts = urlsplit(url)
    try:
        parse_url(parts._replace(query="&".join(f"{k}={v}" for k, v in rest.items())).geturl())
    except (ValueError, TypeError):
        raise refusal(variable, url, "redis-py cannot read this URL (check the port and options; "
                                     "percent-encode '/', '#', '?', '@' and '%' in the password)"
                      ) from None


_shared: dict[str, tuple[Any, int]] = {}
_shared_lock = threading.Lock()


def shared_client(client_url: str) -> Any:
    """The client of ``client_url``, one per process: the idempotency store and the rate
    store beside it use one connection pool. Each user gives it back with :func:`release`."""
    import redis

    with _shared_lock:
        client, users = _shared.get(client_url, (None, 0))
        if client is None:
            client = redis.Redis.from_url(client_url, socket_timeout=5, socket_connect_timeout=3)
        _shared[client_url] = (client, users + 1)
        return client


def release(client_url: str) -> None:
    """One user is done with the shared client; the last one closes it."""
    with _shared_lock:
        client, users = _shared.get(client_url, (None, 0))
        if client is None:
            return
        if users > 1:
            _shared[client_url] = (client, users - 1)
            return
        del _shared[client_url]
    client.close()
