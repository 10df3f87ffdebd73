"""``redis://host:port/db[?prefix=ocrflow:]``: the idempotency store for several function
instances (Huawei DCS, ElastiCache). Each primitive is one Lua script, atomic on the
server; an entry is a hash that Redis also deletes at its ``expires_at`` (``PEXPIREAT``).
The policy is in :mod:`ocrflow.adapters.idempotency.policy`."""

from __future__ import annotations

import math
from typing import Any

from ...core.errors import IdempotencyError
from .. import redis as redis_url
from .policy import IdempotencyStore
from .port import ClaimState, Entry, IdempotencyStorage

# KEYS[1] the entry; ARGV: now, state, version, expires_at, destination, message_id,
# message, held_until, [expected version]. An entry whose expires_at passed counts as absent even
# before Redis removed it (the caller's clock decides, as for every backend).
_LIVE = """
local function live(now)
  local at = redis.call('HGET', KEYS[1], 'expires_at')
  return at and tonumber(at) > now
end
local function write()
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'version', ARGV[3], 'expires_at', ARGV[4],
             'destination', ARGV[5], 'message_id', ARGV[6], 'message', ARGV[7],
             'held_until', ARGV[8])
  redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(ARGV[4]) * 1000))
end
"""
PUT_NEW = _LIVE + """
if live(tonumber(ARGV[1])) then return 0 end
write()
return 1
"""
REPLACE = _LIVE + """
if not live(tonumber(ARGV[1])) or redis.call('HGET', KEYS[1], 'version') ~= ARGV[9] then
  return 0
end
write()
return 1
"""
DELETE = """
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
INCREMENT = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[3])
if ARGV[1] ~= '' and v + n > tonumber(ARGV[1]) then return false end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
v = redis.call('INCRBY', KEYS[1], n)
if fresh then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return v
"""
_FIELDS = ("state", "version", "expires_at", "destination", "message_id", "message", "held_until")


class RedisStorage(IdempotencyStorage):
    def __init__(self, url: str, prefix: str = redis_url.DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self._url = url
        self.client = redis_url.shared_client(url)
        self._put_new = self.client.register_script(PUT_NEW)
        self._replace = self.client.register_script(REPLACE)
        self._delete = self.client.register_script(DELETE)
        self._increment = self.client.register_script(INCREMENT)

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise IdempotencyError(f"redis idempotency store: {type(exc).__name__}") from None

    @staticmethod
    def _args(entry: Entry, now: float) -> list[Any]:
        return [repr(now), entry.state.value, entry.version, repr(entry.expires_at),
                entry.destination or "", entry.message_id or "", entry.message or b"",
                repr(entry.held_until)]

    def put_new(self, entry: Entry, now: float) -> bool:
        return bool(self._run(self._put_new, keys=[self.prefix + entry.key],
                              args=self._args(entry, now)))

    def replace(self, entry: Entry, expected_version: str, now: float) -> bool:
        return bool(self._run(self._replace, keys=[self.prefix + entry.key],
                              args=[*self._args(entry, now), expected_version]))

    def get(self, key: str, now: float) -> Entry | None:
        values = self._run(self.client.hmget, self.prefix + key, _FIELDS)
        state, version, expires_at, destination, message_id, message, held_until = values
        if state is None or float(expires_at) <= now:
            return None
        return Entry(key, ClaimState(state.decode()), version.decode(), float(expires_at),
                     destination.decode() or None, message_id.decode() or None, message or None,
                     float(held_until or 0))

    def delete(self, key: str, expected_version: str) -> bool:
        return bool(self._run(self._delete, keys=[self.prefix + key], args=[expected_version]))

    def increment(self, counter: str, limit: int | None, expires_in_s: float, now: float,
                  amount: int = 1) -> int | None:
        out = self._run(self._increment, keys=[self.prefix + "counter:" + counter],
                        args=["" if limit is None else limit,
                              math.ceil((now + max(expires_in_s, 0.001)) * 1000), amount])
        return None if out is None else int(out)

    def close(self) -> None:
        redis_url.release(self._url)


REQUIRES = redis_url.REQUIRES


def check_url(url: str, variable: str) -> None:
    redis_url.check_url(url, variable, stream=False)


def open_store(url: str) -> IdempotencyStore:
    parsed = redis_url.parse(url)
    return IdempotencyStore(RedisStorage(parsed.client_url, parsed.prefix))
