"""Politeness toward the hosts we fetch from, shared by every worker on every machine.

This module owns the per-host token bucket (one Lua script, one Redis round trip), host
pauses asked for by Retry-After, and the robots.txt cache (fetched once per origin through
tasks.fetch.http, parsed by tasks.fetch.robots, kept in Redis for NEWS_ROBOTS_TTL). It never sleeps:
a host without a token gives the caller a wait time, and the caller re-queues the task.
Robots rules are for article pages; the feeds an operator configured are polled regardless.
"""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import urlsplit

import redis

from config.settings import Settings
from tasks.errors import IngestError
from tasks.fetch.http import HttpClient
from tasks.fetch.robots import ALLOW_ALL, DISALLOW_ALL, RobotsRules, agent_token, parse_robots
from tasks.formats import host_of
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

MAX_PAUSE = 6 * 3600  # seconds: the longest a Retry-After may pause one host
MAX_RESERVE = 600  # seconds: how far ahead a deferred task may book a host's next free slot
UNREACHABLE_TTL = 600  # seconds: a robots.txt we could not fetch is tried again this soon
LOCK_POLL = 0.05  # seconds between looks at the cache while another worker fetches robots.txt

# KEYS: bucket hash, pause key, robots hash. ARGV: now, rate (tokens/s), burst, reserve (s).
# A Crawl-delay in the cached robots.txt lowers the rate to 1/delay with a burst of 1.
# The clock never runs backwards for a bucket (ts = max), so a worker whose clock lags
# cannot refill tokens another worker already spent.
# Reserve > 0: with no token now, the next free slot (at most that far ahead) is taken anyway
# and the bucket goes into debt, so deferred tasks queue up at the host's rate instead of all
# waking at the next token and competing again. Returns {wait, 1 if the slot is ours}.
TAKE_TOKEN = """
local now = tonumber(ARGV[1])
local pause = tonumber(redis.call('GET', KEYS[2]))
if pause and pause > now then return {tostring(pause - now), 0} end
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local delay = tonumber(redis.call('HGET', KEYS[3], 'delay'))
if delay and delay > 0 then rate = math.min(rate, 1 / delay); burst = 1 end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
ts = math.max(ts, now)
local wait, ours = 0, 1
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
  if wait <= (tonumber(ARGV[4]) or 0) then tokens = tokens - 1 else ours = 0 end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 60)
return {tostring(wait), ours}
"""

# KEYS: pause key. ARGV: until (unix s), ttl (s). Keeps the later of two pauses.
PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class Politeness:
    """Rate limit, pauses and robots.txt for every host, state in Redis."""

    def __init__(
        self, redis: redis.Redis, keys: Keys, settings: Settings, http: HttpClient
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.http = http
        self.token = agent_token(settings.user_agent)
        self._take = redis.register_script(TAKE_TOKEN)
        self._pause = redis.register_script(PAUSE)

    def wait_time(self, url: str, now: float) -> float:
        """0.0 after taking a token for url's host, else seconds until one is due."""
        return self._bucket(url, now, 0.0)[0]

    def reserve(self, url: str, now: float) -> tuple[float, bool]:
        """(wait, ours): 0.0 after taking a token now; else the seconds until the host's next
        free slot and whether that slot is now ours (it is, up to MAX_RESERVE ahead, unless
        the host is paused). A task holding a slot comes back then and fetches at once."""
        return self._bucket(url, now, MAX_RESERVE)

    def paused_for(self, url: str, now: float) -> float:
        """Seconds url's host stays paused by a Retry-After (0.0 when it is not)."""
        until = self.redis.get(self.keys.host_pause(host_of(url)))
        return max(0.0, float(until) - now) if until else 0.0

    def _bucket(self, url: str, now: float, reserve: float) -> tuple[float, bool]:
        host, origin = host_of(url), origin_of(url)
        keys = [self.keys.rate(host), self.keys.host_pause(host), self.keys.robots(origin)]
        args = [repr(now), repr(self.rate_for(host)), self.settings.host_burst, repr(reserve)]
        wait, ours = self._take(keys=keys, args=args)
        return float(wait), bool(int(ours))

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

    def allowed(self, url: str, now: float) -> bool:
        """Whether robots.txt of url's origin lets our User-Agent fetch url."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self.rules(origin_of(url)).allows(path)

    def rules(self, origin: str) -> RobotsRules:
        """The cached robots rules of origin, fetched and cached when missing."""
        cached = self._cached(origin)
        if cached is not None:
            return cached
        lock = self.keys.robots_lock(origin)
        wait = self.settings.fetch_deadline + 1
        if not self.redis.set(lock, "1", nx=True, ex=math.ceil(wait)):
            cached = self._await_other_worker(origin, wait)
            if cached is not None:
                return cached
        rules, ttl = self._fetch_rules(origin)
        self._cache(origin, rules, ttl)
        self.redis.delete(lock)
        return rules

    def _cached(self, origin: str) -> RobotsRules | None:
        cached = self.redis.hget(self.keys.robots(origin), "rules")
        return None if cached is None else RobotsRules.from_json(cached)

    def _await_other_worker(self, origin: str, seconds: float) -> RobotsRules | None:
        """Another worker is fetching this robots.txt: wait for its result, at most seconds."""
        give_up = time.monotonic() + seconds
        while time.monotonic() < give_up:
            time.sleep(LOCK_POLL)
            cached = self._cached(origin)
            if cached is not None:
                return cached
        return None

    def _fetch_rules(self, origin: str) -> tuple[RobotsRules, int]:
        """RFC 9309 §2.3.1: 2xx parse; 401/403 disallow all; 404, 5xx, unreachable allow."""
        ttl = self.settings.robots_ttl
        try:
            page = self.http.get(origin + "/robots.txt", kind="robots")
        except IngestError as exc:
            log.info("robots.txt not read url=%s/robots.txt kind=%s", origin, exc.kind)
            if exc.status in (401, 403):
                return DISALLOW_ALL, ttl
            return ALLOW_ALL, ttl if exc.status and exc.status < 500 else min(ttl, UNREACHABLE_TTL)
        return parse_robots(page.body.decode("utf-8", "replace"), self.token), ttl

    def _cache(self, origin: str, rules: RobotsRules, ttl: int) -> None:
        key = self.keys.robots(origin)
        mapping = {"rules": rules.to_json()}
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
