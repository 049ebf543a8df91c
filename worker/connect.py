"""How CLI commands reach the running service: its Redis (the configured one, or the embedded
one that `newsworker run` started and announced in NEWS_DATA_DIR) and its Celery app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import redis

from config.settings import Settings

EMBEDDED_URL_FILE = "embedded-redis.url"  # written by `newsworker run`, removed when it stops


class RedisUnavailable(Exception):
    """The service's Redis cannot be reached; the message says what to do."""


def embedded_url_file(settings: Settings) -> Path:
    return Path(settings.data_dir, EMBEDDED_URL_FILE)


def resolve_redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    marker = embedded_url_file(settings)
    if marker.exists():
        return marker.read_text().strip()
    raise RedisUnavailable(
        "NEWS_REDIS_URL is unset and no `newsworker run` with an embedded Redis is running "
        f"here ({marker} not found): set NEWS_REDIS_URL or start the service"
    )


def connect_redis(settings: Settings) -> redis.Redis:
    """A pinged Redis client of the service, or RedisUnavailable with one clear line."""
    url = resolve_redis_url(settings)
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"Redis at {url} does not answer: {exc}") from None
    return client


def service_settings(settings: Settings) -> Settings:
    """The settings with the Redis URL the running service uses."""
    return replace(settings, redis_url=resolve_redis_url(settings))


def celery_app(settings: Settings):
    """The Celery app configured to send to the running service's broker."""
    from worker.app import configure

    return configure(service_settings(settings))
