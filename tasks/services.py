"""The services a task works with (Redis, HTTP session, store, indexes), each built on first use.

Tasks get them from :func:`current`; stage functions receive them as arguments. How long they
live is the worker's decision (worker.lifetime installs one set per process, never shared
across a fork); a test can hand in its own with :func:`provide`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import redis

from config.settings import DEFAULT_REDIS_URL, Settings
from tasks.clean.sites import SiteRules, load_sites
from tasks.dedupe.duplicates import DuplicateIndex
from tasks.dedupe.seen import Leases, SeenIndex
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import HostBudget, Politeness
from tasks.ingest.inflight import InFlight, grace_for
from tasks.metrics import CountingHttpClient
from tasks.poll.registry import FeedRegistry
from tasks.rediskeys import Keys
from tasks.store import ArticleStore, open_store


@dataclass
class Resources:
    settings: Settings

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url or DEFAULT_REDIS_URL)

    @cached_property
    def http(self) -> HttpClient:
        # counts every fetch
        return CountingHttpClient(self.settings, self.redis, self.keys, budget=self.budget)

    @cached_property
    def budget(self) -> HostBudget:
        return HostBudget(self.redis, self.keys, self.settings)

    @cached_property
    def politeness(self) -> Politeness:
        return Politeness(self.redis, self.keys, self.settings, self.http)

    @cached_property
    def registry(self) -> FeedRegistry:
        return FeedRegistry(self.redis, self.keys, self.settings)

    @cached_property
    def seen(self) -> SeenIndex:
        return SeenIndex(self.redis, self.keys, self.settings.seen_ttl)

    @cached_property
    def leases(self) -> Leases:
        return Leases(self.redis, self.keys, self.settings.lease_ttl)

    @cached_property
    def inflight(self) -> InFlight:
        grace = grace_for(self.settings.visibility_timeout)
        return InFlight(self.redis, self.keys, grace)

    @cached_property
    def duplicates(self) -> DuplicateIndex:
        s = self.settings
        return DuplicateIndex(
            self.redis, self.keys, ttl=s.neardup_ttl, threshold=s.neardup_threshold
        )

    @cached_property
    def sites(self) -> SiteRules | None:
        return load_sites(self.settings.sites_file) if self.settings.sites_file else None

    @cached_property
    def store(self) -> ArticleStore:
        return open_store(self.settings.store_url)

    def close(self) -> None:
        for name in ("http", "store", "redis"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()


_provider: Callable[[], Resources] | None = None


def provide(provider: Callable[[], Resources] | None) -> None:
    """Install what :func:`current` returns: the worker side decides how long clients live
    (worker.lifetime: one set per process, rebuilt after a fork); a test may hand in its own."""
    global _provider
    _provider = provider


def current() -> Resources:
    """The services of the running task."""
    if _provider is None:
        raise RuntimeError("no services installed (worker.lifetime.install() does it)")
    return _provider()
