"""Sending rate limits: this process's own, or one set shared by every process in Redis.

A limit hands out slots: `async with limit.slot(amount, urgent=...)` holds the send
inside it, and the provider sees at most the limit's rate in any one-second window.

Without `REDIS_URL` each process keeps its own limits (`Pacer`, `LocalPerKey`), and the
gateway and the scheduler split each provider's limit by `CAMPAIGN_RATE_SHARE`.

With it, every gateway and scheduler draws on one limit per provider key
(`SharedLimits`), kept in Redis by an atomic Lua script on Redis's clock:

- a send counts from the moment it is allowed until one window after it finished (in
  flight it counts until a lease ends, so a process that died mid-send frees its units
  by itself). Whenever the provider saw it, it falls in that span, so counting the span
  keeps the provider's own count within the limit, however the network bunches requests.
- replies go first: outreach may take a slot only when the room left after the replies
  waiting now, and as many again as replies took in the last window, still holds it; and
  outreach is spaced evenly, so that a slot frees every 1/rate seconds for a reply. With
  no reply about, outreach gets the whole limit.

Each process lets one send per limit and urgency ask Redis at a time (the rest queue in
order behind it), so a campaign batch of hundreds does not poll Redis hundreds of times.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from aiolimiter import AsyncLimiter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A send still in flight after this long counts as finished then: longer than any
# request takes to reach the provider, short enough that a killed process's units
# come back soon.
IN_FLIGHT_LEASE_SECONDS = 15.0
# An urgent send waiting for a slot holds outreach back while it renews this claim.
WAITING_CLAIM_SECONDS = 2.0
# The longest one waiting send sleeps before asking Redis again.
MAX_POLL_SECONDS = 0.05

MICROSECONDS = 1_000_000


class RateLimit(Protocol):
    def slot(self, amount: int = 1, *, urgent: bool = False) -> AbstractAsyncContextManager[None]:
        """Wait until `amount` units may go; the send happens inside the block.

        `urgent`: a customer is waiting for this message (a reply), so it goes before
        outreach where the limit is shared.
        """
        ...


class KeyedRateLimits(Protocol):
    """One limit per key (a chat)."""

    def __getitem__(self, key: str) -> RateLimit: ...


class RateLimiterUnavailable(Exception):
    """The shared limiter cannot be reached: nothing may be sent until it can."""


class Pacer:
    """This process's limit: within `rate` units in any one-second window, evenly spaced.

    Sends are spaced at a little under the rate, and a send waits while the units
    finished in the last second plus those still in flight would reach the rate. A
    provider counting arrivals in any one-second window therefore never sees more
    than the rate, however the network or a busy thread bunches requests up. Sends
    take turns in order: replies get their own share of the limit, not precedence.
    """

    HEADROOM = 0.01

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._interval = 1 / (rate * (1 - self.HEADROOM))
        self._next = 0.0
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self, amount: int = 1, *, urgent: bool = False) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                while self._finished and self._finished[0] <= now - 1.0:
                    self._finished.popleft()
                busy = len(self._finished) + self._in_flight
                if busy + amount <= max(self._rate, amount):
                    break
                wait = self._finished[0] + 1.0 - now if self._finished else 0.005
                await asyncio.sleep(max(wait, 0.001))
            start = max(now, self._next)
            self._next = start + amount * self._interval
            self._in_flight += amount
        try:
            if start > now:
                await asyncio.sleep(start - now)
            yield
        finally:
            self._in_flight -= amount
            self._finished.extend([loop.time()] * amount)


class _LeakyBucket:
    def __init__(self, limiter: AsyncLimiter) -> None:
        self._limiter = limiter

    @asynccontextmanager
    async def slot(self, amount: int = 1, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._limiter.acquire(amount)
        yield


class LocalPerKey:
    """This process's limit per key (a leaky bucket each), forgetting the least recently
    used beyond `keep`."""

    def __init__(self, rate: float, period: float, keep: int = 10_000) -> None:
        self._rate, self._period, self._keep = rate, period, keep
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __getitem__(self, key: str) -> RateLimit:
        limiter = self._limiters.pop(key, None) or AsyncLimiter(self._rate, self._period)
        self._limiters[key] = limiter
        if len(self._limiters) > self._keep:
            self._limiters.popitem(last=False)
        return _LeakyBucket(limiter)


# KEYS: the window's sends (score: when each finished, or its lease's end while in
# flight); the window's urgent sends (score: start); the urgent sends waiting (score: end
# of their claim); when outreach may next start. One member per unit.
# ARGV: token, amount, limit, window, lease, waiting claim, urgent ('1'/'0'); times in µs.
# Returns 0 when the units are taken, else the µs to wait before asking again.
_TAKE = """
local sends, urgent_sends, waiting, next_start = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, amount, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local window, lease, claim = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local urgent = ARGV[7] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

redis.call('ZREMRANGEBYSCORE', sends, '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', urgent_sends, '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)
local room = limit - redis.call('ZCARD', sends)
local paced = 0
if not urgent then
  room = room - redis.call('ZCARD', urgent_sends) - redis.call('ZCARD', waiting)
  paced = math.max(tonumber(redis.call('GET', next_start) or now) - now, 0)
end

-- A send bigger than the whole limit goes alone.
local fits = amount <= room or room == limit
if paced == 0 and fits then
  for unit = 1, amount do
    local member = token .. ':' .. unit
    redis.call('ZADD', sends, now + lease, member)
    if urgent then
      redis.call('ZADD', urgent_sends, now, member)
      redis.call('ZREM', waiting, member)
    end
  end
  redis.call('PEXPIRE', sends, math.ceil((lease + window) / 1000))
  if urgent then
    redis.call('PEXPIRE', urgent_sends, math.ceil(window / 1000))
  else
    local next_at = now + amount * window / limit
    redis.call('SET', next_start, string.format('%.0f', next_at),
               'PX', math.ceil(amount * window / limit / 1000) + 1)
  end
  return 0
end

if urgent then
  for unit = 1, amount do
    redis.call('ZADD', waiting, now + claim, token .. ':' .. unit)
  end
  redis.call('PEXPIRE', waiting, math.ceil(claim / 1000))
end
-- Short of room: until the oldest finished send leaves the window (in flight: poll).
local wait = 0
if not fits then
  wait = window
  local oldest = redis.call('ZRANGE', sends, 0, 0, 'WITHSCORES')
  if oldest[2] and tonumber(oldest[2]) <= now then
    wait = tonumber(oldest[2]) + window - now
  end
end
return math.max(paced, wait, 1000)
"""

# KEYS: the window's sends, the urgent sends waiting. ARGV: token, amount.
# The send is over (or never started): its units count from now until they leave.
_FINISH = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
for unit = 1, tonumber(ARGV[2]) do
  local member = ARGV[1] .. ':' .. unit
  redis.call('ZADD', KEYS[1], 'XX', now, member)
  redis.call('ZREM', KEYS[2], member)
end
return 0
"""


def units_per_window(rate: float, window: float) -> tuple[int, float]:
    """`rate` a second as whole units in a window of at least `window` seconds."""
    units = math.floor(rate * window + 1e-9)
    return (units, window) if units >= 1 else (1, 1 / rate)


class SharedLimits:
    """The limits every process using the same Redis and key prefix shares."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)
        self._finish = self._redis.register_script(_FINISH)

    def limit(self, name: str, rate: float, *, window: float = 1.0) -> SharedLimit:
        """`rate` units a second of `name` (at most `rate × window` in any `window`)."""
        return SharedLimit(self, name, rate, window=window)

    def per_key(self, name: str, rate: float, *, window: float) -> SharedPerKey:
        return SharedPerKey(self, name, rate, window=window)

    async def close(self) -> None:
        await self._redis.aclose()

    def _keys(self, name: str) -> list[str]:
        # One hash tag per limit keeps its keys together on a Redis cluster.
        base = f"{self._prefix}:rate:{{{name}}}"
        return [f"{base}:sends", f"{base}:urgent", f"{base}:waiting", f"{base}:next"]

    async def take(
        self, name: str, token: str, amount: int, *, units: int, window: float, urgent: bool
    ) -> float:
        """Take `amount` units now (0.0), or the seconds to wait before asking again."""
        arguments: list[str | int] = [
            token,
            amount,
            units,
            round(window * MICROSECONDS),
            round(IN_FLIGHT_LEASE_SECONDS * MICROSECONDS),
            round(WAITING_CLAIM_SECONDS * MICROSECONDS),
            int(urgent),
        ]
        try:
            wait = await self._take(keys=self._keys(name), args=arguments)
        except RedisError as error:
            raise RateLimiterUnavailable(f"rate limiter in Redis unreachable: {error}") from error
        return float(wait) / MICROSECONDS

    async def finish(self, name: str, token: str, amount: int) -> None:
        sends, _, waiting, _ = self._keys(name)
        try:
            await self._finish(keys=[sends, waiting], args=[token, amount])
        except RedisError as error:  # the lease frees the units by itself
            log.warning("could not mark a send finished in Redis: %s", error)


class SharedLimit:
    """One limit in Redis; see the module docstring for how it counts."""

    def __init__(self, limits: SharedLimits, name: str, rate: float, *, window: float) -> None:
        self._limits, self._name = limits, name
        self._units, self._window = units_per_window(rate, window)
        self._turns = {True: asyncio.Lock(), False: asyncio.Lock()}

    @asynccontextmanager
    async def slot(self, amount: int = 1, *, urgent: bool = False) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        try:
            async with self._turns[urgent]:
                await self._wait_for_units(token, amount, urgent=urgent)
            yield
        finally:
            await self._limits.finish(self._name, token, amount)

    async def _wait_for_units(self, token: str, amount: int, *, urgent: bool) -> None:
        while wait := await self._limits.take(
            self._name, token, amount, units=self._units, window=self._window, urgent=urgent
        ):
            await asyncio.sleep(min(wait, MAX_POLL_SECONDS))


class SharedPerKey:
    """One shared limit per key, made on demand (Redis forgets idle ones by itself)."""

    def __init__(self, limits: SharedLimits, name: str, rate: float, *, window: float) -> None:
        self._limits, self._name, self._rate, self._window = limits, name, rate, window

    def __getitem__(self, key: str) -> RateLimit:
        return self._limits.limit(f"{self._name}:{key}", self._rate, window=self._window)
