"""Politeness toward the hosts we fetch from, shared by every worker on every machine.

This module owns the per-host request budget (:class:`HostBudget`: a token bucket in one Lua
script, one Redis round trip, on Redis's own clock), host pauses asked for by Retry-After, and
the robots.txt cache (fetched once per origin through tasks.fetch.http, parsed by
tasks.fetch.robots, kept in Redis for NEWS_ROBOTS_TTL). It never sleeps: a host without a
token, or whose robots.txt another worker is fetching right now, gives the caller a wait
(HostBusy), and the caller re-queues the task. (The one wait is the HTTP client's, for the
token of a redirect hop: see tasks.fetch.http.)

The HTTP client takes a token from the budget before every request it sends, each redirect
hop and every robots.txt included, so no caller can forget one. The bucket holds at most
NEWS_HOST_BURST tokens and refills at the host's rate; a request is sent only with a token in
hand at that instant, so any 1-s window holds at most rate + burst requests to one host, however
many workers, threads and deferred tasks there are. Nothing is booked ahead: a deferred task
is told when to come back (waiters are spread one 1/rate step apart so they do not all wake at
the same token) and takes a fresh token then, so a task that comes back late cannot burst.
Robots rules are for article pages; the feeds an operator configured are polled regardless.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

import redis
from redis.typing import EncodableT, FieldT

from config.settings import Settings
from tasks.errors import HostBusy, IngestError
from tasks.fetch.http import HttpClient
from tasks.fetch.robots import ALLOW_ALL, DISALLOW_ALL, RobotsRules, agent_token, parse_robots
from tasks.formats import host_of
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

MAX_PAUSE = 6 * 3600  # seconds: the longest a Retry-After may pause one host
MAX_WAIT = 600  # seconds: the furthest ahead a waiter is told to come back
UNREACHABLE_TTL = 600  # seconds: a robots.txt we could not fetch is tried again this soon
ROBOTS_BUSY = 1.0  # seconds a page waits while another worker fetches its robots.txt

# KEYS: bucket hash, pause key, robots hash. ARGV: now ('' = Redis's clock), rate (tokens/s),
# burst, max wait (s), '1' for a redirect hop (told when the next token is due, cursor untouched:
# it waits for it in its fetch). Returns '0' after taking a token, else the seconds to wait. (1e-6: the
# float error of summing refills, so a token due at t is there at t.)
# A Crawl-delay in the cached robots.txt lowers the rate to 1/delay with a burst of 1.
# The clock never runs backwards for a bucket (ts = max), so a caller whose clock lags cannot
# refill tokens another already spent. Without a token nothing is taken: the caller is given
# 'wake', the bucket's cursor for waiters (at least when the next token is due and the pause
# is over), and the cursor moves one 1/rate step on, so n waiters come back spread over n/rate s.
TAKE_TOKEN = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local rate, burst, horizon = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local delay = tonumber(redis.call('HGET', KEYS[3], 'delay'))
if delay and delay > 0 then rate = math.min(rate, 1 / delay); burst = 1 end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'wake')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
ts = math.max(ts, now)
local pause = tonumber(redis.call('GET', KEYS[2])) or 0
local wait = 0
if pause <= now and tokens >= 1 - 1e-6 then
  tokens = tokens - 1
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
else
  local due = math.max(pause, ts + math.max(0, 1 - tokens) / rate)
  if ARGV[5] == '1' then
    wait = math.min(due - now, horizon)
    redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
  else
    local wake = math.max(tonumber(state[3]) or 0, due)
    wait = math.min(wake - now, horizon)
    if wake - now < horizon then wake = wake + 1 / rate end
    redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts), 'wake', tostring(wake))
  end
end
redis.call('EXPIRE', KEYS[1], math.ceil(math.max((burst - tokens) / rate, wait)) + 60)
return tostring(wait)
"""

# KEYS: pause key. ARGV: until (unix s), ttl (s). Keeps the later of two pauses.
PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class HostBudget:
    """The per-host token bucket and Retry-After pauses, state in Redis (see the module doc)."""

    def __init__(self, redis: redis.Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self._take = redis.register_script(TAKE_TOKEN)
        self._pause = redis.register_script(PAUSE)

    def take(self, url: str, now: float | None = None, *, hop: bool = False) -> float:
        """0.0 after taking a token for url's host, else the seconds until this caller should
        ask again: for a redirect hop (``hop``), when the next token is due; for anyone else,
        their place among the waiters. ``now`` (unix s) is for tests; by default Redis's clock
        is used, one clock for every machine."""
        host, origin = host_of(url), origin_of(url)
        keys = [self.keys.rate(host), self.keys.host_pause(host), self.keys.robots(origin)]
        clock = "" if now is None else repr(now)
        args: list[EncodableT] = [clock, repr(self.rate_for(host)), self.settings.host_burst]
        args += [MAX_WAIT, int(hop)]
        return float(self._take(keys=keys, args=args))

    def check(self, url: str, *, hop: bool = False) -> float:
        """The HTTP client's gate: 0.0 after taking a token for url's host. Else HostBusy with
        the wait, or for a redirect hop the wait itself (the client waits for that token)."""
        wait = self.take(url, hop=hop)
        if wait > 0 and not hop:
            raise HostBusy(
                f"host over its rate budget, ask again in {wait:.1f}s", url=url, retry_after=wait
            )
        return wait

    def rate_for(self, host: str) -> float:
        """Requests/s for host: the NEWS_HOST_RATES entry for it or a parent domain, else NEWS_HOST_RATE."""
        for name, rate in self.settings.host_rates:
            if host == name or host.endswith("." + name):
                return rate
        return self.settings.host_rate

    def pause(self, url: str, seconds: float, now: float) -> None:
        """Keep every worker off url's host for seconds (Retry-After), at most MAX_PAUSE."""
        seconds = min(max(seconds, 0.0), MAX_PAUSE)
        if seconds <= 0:
            return
        host = host_of(url)
        ttl = math.ceil(seconds) + 1
        self._pause(keys=[self.keys.host_pause(host)], args=[repr(now + seconds), ttl])
        log.info("host paused url=%s host=%s seconds=%.0f", url, host, seconds)


class Politeness:
    """Robots.txt for every origin and Retry-After pauses, state in Redis. The request budget
    itself is enforced by the HTTP client (HttpClient(budget=HostBudget(...)))."""

    def __init__(
        self, redis: redis.Redis, keys: Keys, settings: Settings, http: HttpClient
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.http = http
        self.token = agent_token(settings.user_agent)
        self.budget = HostBudget(redis, keys, settings)

    def pause(self, url: str, seconds: float, now: float) -> None:
        """Keep every worker off url's host for seconds (Retry-After), at most MAX_PAUSE."""
        self.budget.pause(url, seconds, now)

    def allowed(self, url: str, now: float) -> bool:
        """Whether robots.txt of url's origin lets our User-Agent fetch url; HostBusy when
        robots.txt must be fetched and the host has no token, or another worker fetches it."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self.rules(origin_of(url)).allows(path)

    def rules(self, origin: str) -> RobotsRules:
        """The cached robots rules of origin, fetched and cached when missing."""
        cached = self._cached(origin)
        if cached is not None:
            return cached
        lock = self.keys.robots_lock(origin)
        if not self.redis.set(lock, "1", nx=True, ex=math.ceil(self.settings.fetch_deadline + 1)):
            raise HostBusy(
                "another worker is fetching robots.txt", url=origin, retry_after=ROBOTS_BUSY
            )
        try:
            rules, ttl = self._fetch_rules(origin)
            self._cache(origin, rules, ttl)
        finally:
            self.redis.delete(lock)
        return rules

    def _cached(self, origin: str) -> RobotsRules | None:
        cached = self.redis.hget(self.keys.robots(origin), "rules")
        return None if cached is None else RobotsRules.from_json(cached)

    def _fetch_rules(self, origin: str) -> tuple[RobotsRules, int]:
        """RFC 9309 §2.3.1: 2xx parse; 401/403 disallow all; 404, 5xx, unreachable allow.
        HostBusy (no token for robots.txt now) is no answer: it goes to the caller."""
        ttl = self.settings.robots_ttl
        try:
            page = self.http.get(origin + "/robots.txt", kind="robots")
        except HostBusy:
            raise
        except IngestError as exc:
            log.info("robots.txt not read url=%s/robots.txt kind=%s", origin, exc.kind)
            if exc.status in (401, 403):
                return DISALLOW_ALL, ttl
            return ALLOW_ALL, ttl if exc.status and exc.status < 500 else min(ttl, UNREACHABLE_TTL)
        return parse_robots(page.body.decode("utf-8", "replace"), self.token), ttl

    def _cache(self, origin: str, rules: RobotsRules, ttl: int) -> None:
        key = self.keys.robots(origin)
        mapping: dict[FieldT, EncodableT] = {"rules": rules.to_json()}
        if rules.crawl_delay:
            mapping["delay"] = repr(rules.crawl_delay)
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, ttl)
        pipe.execute()


def origin_of(url: str) -> str:
    """scheme://host[:port] of url: what a robots.txt applies to (RFC 9309 §2.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    host = host_of(url)
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}"
