"""Settings: every tunable of the service, read once from ``NEWS_*`` environment variables.

This module owns the names, defaults, units and validation of settings. It must not read the
environment anywhere but in :func:`load_settings`; the rest of the code receives a
:class:`Settings` and passes what it needs down.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class SettingsError(ValueError):
    """A setting has a wrong value; the message names the variable and what is wrong."""


def _number(kind: Callable[[str], Any], lo: float, hi: float, what: str) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"expected {what}, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _int(lo: int, hi: int) -> Callable[[str], int]:
    return _number(int, lo, hi, "a whole number")


def _float(lo: float, hi: float) -> Callable[[str], float]:
    return _number(float, lo, hi, "a number")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected one of 1/0, true/false, yes/no, on/off, got {raw!r}")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in schemes:
            raise ValueError(f"expected a URL starting with {' or '.join(schemes)}://, got {raw!r}")
        return value

    return parse


def _optional_url(*schemes: str) -> Callable[[str], str | None]:
    inner = _url(*schemes)
    return lambda raw: inner(raw) if raw.strip() else None


def _networks(raw: str) -> tuple[str, ...]:
    out = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP network (like 10.1.0.0/16)") from None
    return tuple(out)


def _words(raw: str) -> tuple[str, ...]:
    return tuple(filter(None, (p.strip() for p in raw.split(","))))


def _host_rates(raw: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in _words(raw):
        host, sep, rate = part.partition("=")
        if not sep or not host.strip():
            raise ValueError(f"expected host=rate pairs separated by commas, got {part!r}")
        out.append((host.strip().lower(), _float(0.001, 1000.0)(rate)))
    return tuple(out)


def _text(raw: str) -> str:
    return raw.strip()


def _optional_text(raw: str) -> str | None:
    return raw.strip() or None


def _setting(default: Any, parse: Callable[[str], Any], doc: str) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc})


DAY = 86_400
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # where Celery looks when NEWS_REDIS_URL is unset


@dataclass(frozen=True)
class Settings:
    """All settings. Field ``foo_bar`` is read from ``NEWS_FOO_BAR``; units are in the doc."""

    # Services
    redis_url: str | None = _setting(
        None,
        _optional_url("redis", "rediss", "unix"),
        "Redis for the broker and all state. Unset: `newsworker run` starts an embedded Redis.",
    )
    store_url: str = _setting(
        "sqlite:///./data/articles.db",
        _url("sqlite", "postgresql", "postgres"),
        "Where articles are stored: sqlite:///PATH or postgresql://USER@HOST/DB.",
    )
    feeds_file: str = _setting("config/feeds.toml", _text, "The feed list (TOML).")
    sites_file: str | None = _setting(
        None,
        _optional_text,
        "Per-site body selector overrides for the cleaner (TOML); unset: none.",
    )
    data_dir: str = _setting(
        "./data", _text, "Local data (embedded Redis, SQLite) for `newsworker run`."
    )
    redis_prefix: str = _setting("news", _text, "Prefix of every Redis key of the service.")
    # Fetching
    user_agent: str = _setting(
        "newsworker/0.1 (+https://github.com/newsworker/newsworker)",
        _text,
        "User-Agent sent with every request; it should name a contact URL.",
    )
    fetch_allow_private: bool = _setting(
        False,
        _bool,
        "Allow fetching from private, loopback and link-local addresses (SSRF guard off).",
    )
    fetch_allow_networks: tuple[str, ...] = _setting(
        (), _networks, "Comma-separated networks opened despite the SSRF guard (CIDR)."
    )
    fetch_connect_timeout: float = _setting(10.0, _float(0.1, 300), "Connect timeout, seconds.")
    fetch_read_timeout: float = _setting(
        20.0, _float(0.1, 600), "Read timeout between bytes, seconds."
    )
    fetch_deadline: float = _setting(
        30.0, _float(0.5, 3600), "Total time for one request, seconds."
    )
    fetch_max_bytes: int = _setting(
        10 * 1024 * 1024, _int(1024, 1 << 31), "Byte cap on a decoded page body, bytes."
    )
    feed_max_bytes: int = _setting(
        10 * 1024 * 1024, _int(1024, 1 << 31), "Byte cap on a decoded feed body, bytes."
    )
    feed_max_entries: int = _setting(
        1000, _int(1, 1_000_000), "Entries taken from one feed poll at most (the newest)."
    )
    fetch_max_redirects: int = _setting(5, _int(0, 20), "Redirect hops followed at most.")
    fetch_retries: int = _setting(
        5, _int(0, 50), "Retries of a transient failure (timeouts, 5xx) before giving up."
    )
    fetch_retry_backoff: float = _setting(
        30.0, _float(0.1, 3600), "First back-off after a transient failure, doubled per retry, s."
    )
    ca_bundle: str | None = _setting(
        None, _optional_text, "Extra CA bundle file for TLS (verification is always on)."
    )
    host_rate: float = _setting(
        1.0, _float(0.001, 1000), "Requests per second per host, across all workers."
    )
    host_burst: int = _setting(2, _int(1, 1000), "Burst size of the per-host token bucket.")
    host_rates: tuple[tuple[str, float], ...] = _setting(
        (), _host_rates, "Per-host rate overrides: host=rate,host=rate (requests/s)."
    )
    robots_ttl: int = _setting(DAY, _int(60, 30 * DAY), "How long robots.txt is cached, seconds.")
    # Scheduling
    poll_min_interval: int = _setting(300, _int(10, 30 * DAY), "Shortest feed poll interval, s.")
    poll_max_interval: int = _setting(DAY, _int(60, 30 * DAY), "Longest feed poll interval, s.")
    poll_default_interval: int = _setting(
        1800, _int(10, 30 * DAY), "Interval of a new feed, seconds."
    )
    poll_error_max_interval: int = _setting(
        DAY, _int(60, 30 * DAY), "Cap of the error back-off, seconds."
    )
    poll_jitter: float = _setting(0.25, _float(0.0, 1.0), "Random extra share of each interval.")
    beat_tick: float = _setting(5.0, _float(0.5, 3600), "How often beat looks for due feeds, s.")
    # Dedupe
    seen_ttl: int = _setting(90 * DAY, _int(60, 3650 * DAY), "How long an entry stays seen, s.")
    lease_ttl: int = _setting(
        15,
        _int(5, DAY),
        "Lease on an entry in flight, s; renewed every quarter of it while its holder lives.",
    )
    neardup_ttl: int = _setting(
        30 * DAY, _int(60, 3650 * DAY), "How long near-duplicate fingerprints are kept, s."
    )
    neardup_distance: int = _setting(3, _int(0, 16), "SimHash Hamming distance for a near-dup.")
    duplicates: str = _setting(
        "keep", _choice("keep", "drop"), "keep: store duplicates with duplicate_of; drop: skip."
    )
    tracking_params: tuple[str, ...] = _setting(
        (), _words, "Extra query parameters stripped from URLs (comma-separated)."
    )
    # Service
    visibility_timeout: int = _setting(
        30,
        _int(5, 7 * DAY),
        "Seconds before a task taken by a worker that died is handed to another (Redis broker).",
    )
    worker_concurrency: int = _setting(
        2, _int(1, 512), "Worker processes started by `newsworker run` (one per core)."
    )
    worker_pool: str = _setting(
        "threads",
        _choice("threads", "prefork"),
        "threads: each worker process runs NEWS_WORKER_THREADS tasks at once; prefork: one.",
    )
    worker_threads: int = _setting(
        16, _int(1, 1024), "Tasks in flight per worker process with NEWS_WORKER_POOL=threads."
    )
    flower_address: str = _setting("127.0.0.1", _text, "Flower listens here.")
    flower_port: int = _setting(5555, _int(0, 65535), "Flower's port; 0 turns Flower off.")
    flower_basic_auth: str | None = _setting(
        None, _optional_text, "user:password for Flower (docker compose sets it)."
    )
    log_level: str = _setting(
        "info", _choice("debug", "info", "warning", "error"), "Log level of the service."
    )


def env_name(field_name: str) -> str:
    return "NEWS_" + field_name.upper()


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read and validate all ``NEWS_*`` variables; raise SettingsError naming the bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = env_name(f.name)
        if name in environ:
            try:
                values[f.name] = f.metadata["parse"](environ[name])
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from None
    values.update(overrides)
    settings = Settings(**values)
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    if s.poll_min_interval > s.poll_max_interval:
        raise SettingsError(
            f"NEWS_POLL_MIN_INTERVAL ({s.poll_min_interval}) is above "
            f"NEWS_POLL_MAX_INTERVAL ({s.poll_max_interval})"
        )


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, doc) for every setting, for the README and `newsworker settings`."""
    rows = []
    for f in fields(Settings):
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(map(str, default))
        rows.append((env_name(f.name), "" if default is None else str(default), f.metadata["doc"]))
    return rows
