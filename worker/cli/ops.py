"""Operator commands that watch the service: `status --json` (the report), `health`, `metrics`.

The report and the health checks read what the service keeps in Redis (registry, counters of
tasks.metrics, the failed list), the broker's queues, the workers that answer a ping through
the broker, and the store.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import redis

from config.settings import Settings
from tasks import metrics
from tasks.formats import iso_time
from tasks.rediskeys import Keys
from worker.connect import RedisUnavailable, celery_app, connect_redis

log = logging.getLogger(__name__)

CHECKS = ("redis", "store", "worker", "beat")


def register(sub) -> None:
    p = sub.add_parser("health", help="exit 0 when Redis, the store, a worker and beat are fine")
    p.add_argument(
        "--check",
        default=",".join(CHECKS),
        help=f"comma-separated checks to run (default: {','.join(CHECKS)})",
    )
    p.add_argument("--node", help="the worker that must answer (e.g. pages@HOST); default: any")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a worker")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("metrics", help="serve the Prometheus metrics (NEWS_METRICS_PORT)")
    p.set_defaults(func=cmd_metrics)


# --- status --json -------------------------------------------------------------------------


def workers_online(settings: Settings, timeout: float = 1.0) -> list[str]:
    """Names of the workers that answer a ping through the broker."""
    replies = celery_app(settings).control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


def redacted(url: str) -> str:
    """A URL without its password."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _iso(ts: float | None) -> str | None:
    return iso_time(ts) if ts else None


def feed_report(feed, state, next_at, stats, new_24h: int, status_label: str) -> dict:
    stored, failed = metrics.stored_and_failed(stats)
    error = None
    if state.error_kind:
        error = {
            "kind": state.error_kind,
            "status": state.error_status,
            "message": state.error_message,
        }
    return {
        "id": feed.id,
        "name": feed.name,
        "url": feed.url,
        "state": status_label,
        "last_poll": _iso(state.last_poll),
        "last_success": _iso(state.last_success),
        "next_poll": _iso(next_at),
        "interval": state.interval,
        "entries_seen": state.entries_seen,
        "articles_stored": stored,
        "articles_failed": failed,
        "new_24h": new_24h,
        "error_count": state.error_count,
        "errors_since": _iso(state.error_since),
        "last_error": error,
    }


def status_report(settings: Settings, client: redis.Redis, now: float) -> dict:
    """Everything `status --json` prints (see docs/ops.md for an example)."""
    from tasks.poll.registry import FeedRegistry
    from worker.app import QUEUES
    from worker.cli.feeds import status_row
    from worker.metrics import store_count

    keys = Keys(settings.redis_prefix)
    registry = FeedRegistry(client, keys, settings)
    feeds = registry.feeds()
    ids = [f.id for f in feeds]
    states, scheduled = registry.states(ids), registry.scheduled()
    stats = metrics.feed_stats(client, keys, ids)
    new = metrics.new_last_day(client, keys, ids, now)
    synced = registry.synced_file()
    tick = metrics.last_beat_tick(client, keys)
    rows = []
    for f in feeds:
        label = status_row(f, states[f.id], scheduled.get(f.id), now)[1]
        rows.append(
            feed_report(f, states[f.id], scheduled.get(f.id), stats[f.id], new[f.id], label)
        )
    return {
        "at": iso_time(now),
        "feeds_file": {
            "path": settings.feeds_file,
            "loaded": bool(synced.get("synced")) and not synced.get("error"),
            "synced_at": _iso(float(synced["synced"])) if synced.get("synced") else None,
            "error": synced.get("error") or None,
        },
        "network_down": registry.network_is_down(),
        "feeds": rows,
        "queues": metrics.queue_info(client, QUEUES, now),
        "workers": workers_online(settings),
        "beat": {"last_tick": _iso(tick), "age": round(now - tick, 1) if tick else None},
        "store": {"url": redacted(settings.store_url), "articles": store_count(settings.store_url)},
        "failed": client.llen(keys.failed),
    }


# --- health ----------------------------------------------------------------------------------


def health_problems(args, settings: Settings) -> list[str]:
    """One line per problem of the checks asked for; empty when all is well."""
    wanted = [c.strip() for c in args.check.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        return [f"unknown check {', '.join(unknown)} (known: {', '.join(CHECKS)})"]
    problems = []
    if "store" in wanted:
        count = _store_problem(settings)
        if count:
            problems.append(count)
    try:
        client = connect_redis(settings)
    except RedisUnavailable as exc:
        return [f"redis: {exc}", *problems]
    if "worker" in wanted:
        problems += _worker_problem(settings, args.node, args.timeout)
    if "beat" in wanted:
        problems += _beat_problem(settings, client, time.time())
    return problems


def _store_problem(settings: Settings) -> str | None:
    from tasks.store import open_store

    try:
        store = open_store(settings.store_url)
        try:
            store.count()
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - any store failure is the one line
        return f"store: {redacted(settings.store_url)}: {type(exc).__name__}: {exc}"
    return None


def _worker_problem(settings: Settings, node: str | None, timeout: float) -> list[str]:
    try:
        names = workers_online(settings, timeout)
    except Exception as exc:  # noqa: BLE001 - the broker failed mid-ping
        return [f"worker: the broker did not carry the ping: {exc}"]
    if node and node not in names:
        return [f"worker: {node} did not answer within {timeout:g}s (online: {names or 'none'})"]
    if not names:
        return [f"worker: no worker answered within {timeout:g}s"]
    return []


def _beat_problem(settings: Settings, client: redis.Redis, now: float) -> list[str]:
    tick = metrics.last_beat_tick(client, Keys(settings.redis_prefix))
    limit = settings.health_beat_age
    if tick is None:
        return ["beat: no beat tick has run yet"]
    if now - tick > limit:
        return [f"beat: the last tick ran {now - tick:.0f}s ago (limit {limit:g}s)"]
    return []


def cmd_health(args) -> int:
    settings = args.settings
    problems = health_problems(args, settings)
    for line in problems:
        print(f"unhealthy: {line}", file=sys.stderr)
    if not problems:
        print("healthy", file=sys.stderr)
    return 1 if problems else 0


# --- metrics ---------------------------------------------------------------------------------


def cmd_metrics(args) -> int:
    from worker.connect import resolve_redis_url
    from worker.logs import configure
    from worker.metrics import make_server

    settings = args.settings
    configure(settings.log_level, settings.log_format)
    if not settings.metrics_port:
        print("newsworker: NEWS_METRICS_PORT is 0: the metrics endpoint is off", file=sys.stderr)
        return 2
    url = resolve_redis_url(settings)
    try:
        server = make_server(settings, url)
    except OSError as exc:
        print(
            f"newsworker: metrics cannot listen on {settings.metrics_address}:"
            f"{settings.metrics_port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    auth = "basic" if settings.metrics_basic_auth else "none"
    host, port = server.server_address[:2]
    log.info("metrics endpoint listening url=http://%s:%s/metrics auth=%s", host, port, auth)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # systemd / `newsworker run` stop
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
