"""``redis://host:port/db[?prefix=ocrflow:]``: the idempotency store for several function
instances. Claims and counters are atomic (Lua scripts); an in-progress claim is a key with
a TTL, so a crashed attempt's claim simply expires and the next delivery takes over."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..errors import IdempotencyError
from ..ports import Claim, ClaimState, IdempotencyStore

CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'in_progress')
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {'claimed'}
end
if state == 'in_progress' then return {'in_progress'} end
return {state, redis.call('HGET', KEYS[1], 'destination') or '',
        redis.call('HGET', KEYS[1], 'message_id') or '', redis.call('HGET', KEYS[1], 'message') or ''}
"""
RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'in_progress' then return redis.call('DEL', KEYS[1]) end
return 0
"""
INCREMENT = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[3])
if ARGV[1] ~= '' and v + n > tonumber(ARGV[1]) then return false end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
v = redis.call('INCRBY', KEYS[1], n)
if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
"""


class RedisIdempotencyStore(IdempotencyStore):
    def __init__(self, url: str, prefix: str = "ocrflow:") -> None:
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self._claim = self.client.register_script(CLAIM)
        self._release = self.client.register_script(RELEASE)
        self._increment = self.client.register_script(INCREMENT)

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise IdempotencyError(f"redis idempotency store: {type(exc).__name__}") from None

    def claim(self, key: str, expires_in_s: float) -> Claim:
        out = self._run(self._claim, keys=[self.prefix + key], args=[max(1, int(expires_in_s * 1000))])
        state = out[0].decode() if isinstance(out[0], bytes) else out[0]
        if state == "claimed":
            return Claim(ClaimState.CLAIMED)
        if state == "in_progress":
            return Claim(ClaimState.IN_PROGRESS)
        return Claim(ClaimState(state), message=out[3] or None, destination=out[1].decode() or None,
                     message_id=out[2].decode() or None)

    def save_outcome(self, key: str, destination: str, message_id: str, message: bytes) -> None:
        k = self.prefix + key
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(k, mapping={"state": ClaimState.OUTCOME_STORED.value, "destination": destination,
                              "message_id": message_id, "message": message})
        pipe.pexpire(k, int(self.retention_s * 1000))
        self._run(pipe.execute)

    def complete(self, key: str) -> None:
        k = self.prefix + key
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(k, "state", ClaimState.COMPLETED.value)
        pipe.pexpire(k, int(self.retention_s * 1000))
        self._run(pipe.execute)

    def release(self, key: str) -> None:
        self._run(self._release, keys=[self.prefix + key])

    def increment(self, counter: str, limit: int | None, expires_in_s: float,
                  amount: int = 1) -> int | None:
        out = self._run(self._increment, keys=[self.prefix + "counter:" + counter],
                        args=["" if limit is None else limit, max(1, int(expires_in_s * 1000)),
                              amount])
        return None if out is None else int(out)

    def close(self) -> None:
        self.client.close()


def open_store(url: str) -> RedisIdempotencyStore:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = query.pop("prefix", "ocrflow:")
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    return RedisIdempotencyStore(urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), prefix)
