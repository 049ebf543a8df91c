"""Settings: every tunable of the service, read once from ``NEWS_*`` environment variables.

This module owns the names, defaults, units and validation of settings. It must not read the
environment anywhere but in :func:`load_settings`; the rest of the code receives a
:class:`Settings` and passes what it needs down.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit


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


def _endpoints(raw: str) -> tuple[str, ...]:
    """host:port pairs (a name, an IPv4 address or a [bracketed] IPv6 one), lower case."""
    out = []
    for part in filter(None, (p.strip().lower() for p in raw.split(","))):
        try:
            parts = urlsplit(f"//{part}")
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path or parts.username:
            raise ValueError(f"{part!r} is not host:port (like intranet.example:8080)")
        host = parts.hostname
        out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
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


def _header_value(raw: str) -> str:
    """Text sent in an HTTP header: no CR, LF or other control character (header injection;
    requests would refuse every request with it, retried as a connect error)."""
    value = raw.strip()
    bad = next((c for c in value if ord(c) < 32 and c != "\t" or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"must not contain control characters ({bad!r}), got {raw!r}")
    return value


def _optional_file(raw: str) -> str | None:
    path = raw.strip()
    if path and not os.path.isfile(path):
        raise ValueError(f"no such file {path!r}")
    return path or None


_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def store_url_problem(url: str) -> str | None:
    """Why a store URL cannot be opened (a missing path, a malformed host, a bad schema
    name), or None. Checked when settings load, so no command finds out later."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite" and sep:
        if not rest.startswith("/") or not rest.strip("/") or rest.endswith("/"):
            return f"expected sqlite:///relative/path.db or sqlite:////abs/path.db, got {url!r}"
        return None
    if scheme not in ("postgresql", "postgres") or not sep:
        return f"unknown store URL {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed lazily: a bad port raises only here
    except ValueError as exc:
        return f"malformed PostgreSQL URL ({exc}): {url!r}"
    schemas = parse_qs(parts.query).get("schema")
    schema = schemas[0] if schemas else None
    if schema is not None and not _SCHEMA_NAME.match(schema):
        return f"bad schema name {schema!r} in the store URL (letters, digits, _)"
    return None


def _store_url(raw: str) -> str:
    value = _url("sqlite", "postgresql", "postgres")(raw)
    problem = store_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


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
    broker_url: str | None = _setting(
        None,
        _optional_url("redis", "rediss", "amqp", "amqps"),
        "Celery broker when it is not NEWS_REDIS_URL, e.g. amqp://user:pass@host:5672/vhost "
        "(RabbitMQ); state stays in Redis.",
    )
    store_url: str = _setting(
        "sqlite:///./data/articles.db",
        _store_url,
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
        _header_value,
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
    fetch_allow_hosts: tuple[str, ...] = _setting(
        (),
        _endpoints,
        "Comma-separated host:port opened despite the SSRF guard (one service, not a network).",
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
        None, _optional_file, "Extra CA bundle file for TLS (verification is always on)."
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
    neardup_threshold: float = _setting(
        0.5, _float(0.2, 1.0), "Estimated Jaccard (word 3-shingles) that links a near-dup."
    )
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
        32, _int(1, 1024), "Tasks in flight per worker process with NEWS_WORKER_POOL=threads."
    )
    flower_address: str = _setting("127.0.0.1", _text, "Flower listens here.")
    flower_port: int = _setting(5555, _int(0, 65535), "Flower's port; 0 turns Flower off.")
    flower_basic_auth: str | None = _setting(
        None, _optional_text, "user:password for Flower (docker compose sets it)."
    )
    log_level: str = _setting(
        "info", _choice("debug", "info", "warning", "error"), "Log level of the service."
    )
    log_format: str = _setting(
        "text",
        _choice("text", "json"),
        "Log lines: text (readable on a terminal) or json (one JSON object per line).",
    )
    # Operations (worker.metrics, `newsworker health`)
    metrics_port: int = _setting(
        9464, _int(0, 65535), "Port of the Prometheus metrics endpoint; 0 turns it off."
    )
    metrics_address: str = _setting("127.0.0.1", _text, "The metrics endpoint listens here.")
    metrics_basic_auth: str | None = _setting(
        None, _optional_text, "user:password required by the metrics endpoint; unset: none."
    )
    health_beat_age: float = _setting(
        60.0, _float(1, DAY), "`newsworker health`: the beat tick may be this old at most, s."
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
