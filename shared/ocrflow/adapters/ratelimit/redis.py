"""The shared rate in Redis / Huawei DCS: each step is one Lua script on one hash per API
and region, timed by the server's clock (``TIME``), so instances need no synchronised
clocks. The script spells out the steps of :mod:`.policy`."""

from __future__ import annotations

from typing import Any

from .. import redis as redis_url
from .policy import Reservation
from .port import RateStore, RateStoreError

# replicate_commands: on Redis 4 (DCS still offers it) a script may write after TIME only
# with effects replication, the default from Redis 5 on (where the call is a no-op)
_NOW_AND_RATE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tat', 'base', 'cut_at', 'armed_at')
local ceiling, increase = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate = ceiling
if s[2] and s[3] then
  rate = math.min(ceiling, tonumber(s[2]) + increase * ceiling * math.max(0, now - tonumber(s[3])))
end
local function f(x) return string.format('%.6f', x) end
"""
# ARGV: ceiling, increase, idle ttl (ms), max wait (s)
RESERVE = _NOW_AND_RATE + """
local slot = now
if s[1] and tonumber(s[1]) > now then slot = tonumber(s[1]) end
if slot - now > tonumber(ARGV[4]) then return false end
redis.call('HSET', KEYS[1], 'tat', f(slot + 1 / rate))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {f(slot - now), f(slot), f(now)}
"""
# ARGV: ceiling, increase, idle ttl (ms), decrease, floor, hold (s), reserved at, slot
DECREASE = _NOW_AND_RATE + """
local cut_at = tonumber(s[3])
if cut_at and (tonumber(ARGV[7]) < cut_at or tonumber(ARGV[8]) < cut_at + tonumber(ARGV[6])) then
  return false
end
local armed_at = tonumber(s[4])
if not armed_at or now - armed_at > math.max(tonumber(ARGV[6]), 2 / rate) then
  redis.call('HSET', KEYS[1], 'armed_at', f(now))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return false
end
rate = math.max(tonumber(ARGV[5]) * ceiling, tonumber(ARGV[4]) * rate)
redis.call('HSET', KEYS[1], 'base', f(rate), 'cut_at', f(now))
redis.call('HDEL', KEYS[1], 'armed_at')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return f(rate)
"""


class RedisRateStore(RateStore):
    def __init__(self, url: str, prefix: str = redis_url.DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self._url = url
        self.client = redis_url.shared_client(url)
        self._reserve = self.client.register_script(RESERVE)
        self._decrease = self.client.register_script(DECREASE)

    def _run(self, script: Any, key: str, *args: object) -> Any:
        import redis

        a = self.aimd
        try:
            return script(keys=[self.prefix + key],
                          args=[args[0], a.increase, int(a.idle_ttl_s * 1000), *args[1:]])
        except redis.RedisError as exc:
            raise RateStoreError(f"redis rate store: {type(exc).__name__}") from None

    def reserve(self, key: str, ceiling: float, max_wait_s: float) -> Reservation | None:
        out = self._run(self._reserve, key, ceiling, max_wait_s)
        return None if out is None else Reservation(*(float(x) for x in out))

    def decrease(self, key: str, ceiling: float, throttled: Reservation) -> float | None:
        a = self.aimd
        out = self._run(self._decrease, key, ceiling, a.decrease, a.floor, a.hold_s,
                        f"{throttled.now:.6f}", f"{throttled.slot:.6f}")
        return None if out is None else float(out)

    def close(self) -> None:
        redis_url.release(self._url)


REQUIRES = redis_url.REQUIRES


def open_store(url: str) -> RedisRateStore:
    """The idempotency store's ``redis://…[?prefix=]`` URL: the same server, client and prefix."""
    parsed = redis_url.parse(url)
    return RedisRateStore(parsed.client_url, parsed.prefix)
