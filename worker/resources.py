"""Per-process clients (Redis, HTTP session, store, indexes), built once on first use.

Celery's prefork pool forks workers: the clients are made lazily in each child, never shared
across a fork. Tasks get them from :func:`resources`; stage functions receive them as
arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import redis

from config.settings import DEFAULT_REDIS_URL, Settings, load_settings
from tasks.clean_sites import SiteRules, load_sites
from tasks.http import HttpClient
from tasks.keys import Keys
from tasks.politeness import Politeness
from tasks.registry import FeedRegistry
from tasks.seen import DuplicateIndex, SeenIndex
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
        return HttpClient(self.settings)

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
    def duplicates(self) -> DuplicateIndex:
        s = self.settings
        return DuplicateIndex(self.redis, self.keys, ttl=s.neardup_ttl, distance=s.neardup_distance)

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


_current: tuple[int, Resources] | None = None


def resources() -> Resources:
    """The clients of this process (rebuilt after a fork)."""
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), Resources(load_settings()))
    return _current[1]


def reset(settings: Settings | None = None) -> Resources:
    """Drop this process's clients (tests, settings changes); the next call builds them anew."""
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].close()
    _current = (os.getpid(), Resources(settings or load_settings()))
    return _current[1]
