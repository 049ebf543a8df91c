"""The Celery app: one `conf.update` from Settings, queues feeds / pages / store, the beat tick.

`celery -A worker.app ...` imports this module; it reads the settings once and stops with one
line naming the bad variable when a setting is wrong. The broker is NEWS_BROKER_URL when set
(RabbitMQ: amqp://...), else the Redis that holds the state; the visibility timeout is a Redis
transport option only (RabbitMQ hands a dead consumer's unacked messages back at once).
"""

from __future__ import annotations

import gc
import sys
import time

from celery import Celery, signals
from kombu import Queue

from config.settings import DEFAULT_REDIS_URL, Settings, SettingsError, load_settings
from tasks.rediskeys import Keys
from worker import lifetime, logs

QUEUES = ("feeds", "pages", "store")
ROUTES = {
    "news.poll_due_feeds": {"queue": "feeds"},
    "news.poll_feed": {"queue": "feeds"},
    "news.recrawl": {"queue": "feeds"},
    "news.ingest_entry": {"queue": "pages"},
    "news.store_article": {"queue": "store"},
}

app = Celery("newsworker", include=["tasks.jobs"])


def beat_schedule(settings: Settings) -> dict:
    """One entry: the tick that claims due feeds; it expires before the next tick is sent."""
    return {
        "poll-due-feeds": {
            "task": "news.poll_due_feeds",
            "schedule": settings.beat_tick,
            "options": {"expires": settings.beat_tick * 0.9},
        }
    }


def transport_options(settings: Settings) -> dict:
    """Redis transport: messages of a dead worker come back after the visibility timeout; the
    scan for them runs every eighth of it (at most 5 s), not kombu's default ~100 s. So an
    entry held by a worker that died is delivered again within vt + 2 scan intervals
    (docs/engine.md)."""
    vt = settings.visibility_timeout
    return {
        "visibility_timeout": vt,
        "unacked_restore_interval": restore_interval(settings),
        "unacked_restore_throttle": 1,
        # The scan runs under a Redis mutex; a worker killed inside the scan leaves it held
        # for its expiry (kombu: 300 s), and no one restores anything meanwhile. Seen in the
        # kill tests under load. A scan takes milliseconds.
        "unacked_mutex_expire": restore_mutex_expire(settings),
    }


def broker_url(settings: Settings) -> str:
    """NEWS_BROKER_URL, else the state Redis (NEWS_REDIS_URL), else Celery's local default."""
    return settings.broker_url or settings.redis_url or DEFAULT_REDIS_URL


def is_redis(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("redis", "rediss", "unix")


def restore_mutex_expire(settings: Settings) -> int:
    """Seconds the restore scan's mutex outlives a worker killed while holding it."""
    return max(2, restore_interval(settings))


def restore_interval(settings: Settings) -> int:
    """Seconds between two scans for the messages of dead workers."""
    return max(1, min(5, settings.visibility_timeout // 8))


def configure(settings: Settings) -> Celery:
    """Apply the settings to the app (all Celery configuration is here)."""
    broker = broker_url(settings)
    app.conf.update(
        broker_url=broker,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # every task is idempotent: a killed worker loses nothing
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a task may fetch robots.txt and a page, each cut at the fetch deadline (enforced by
        # the HTTP client in every pool; these limits only bind prefork). A task that outruns
        # the visibility timeout is delivered twice: the second waits on the entry's lease.
        task_soft_time_limit=3 * settings.fetch_deadline + 60,
        task_time_limit=3 * settings.fetch_deadline + 120,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="feeds",
        task_routes=ROUTES,
        # No task-sent events: each one is a PUBLISH by the sender (0.27 ms a task measured,
        # two tasks an article); Flower shows a task from its task-received event on.
        task_send_sent_event=False,
        # Task events on (~6.5 % of the workers' CPU in the pipeline bench). Off, a worker
        # that loses Redis died in kombu's close path instead of reconnecting
        # (tests/test_ops.py, the Redis stop test): docs/engine.md, round 3.
        worker_send_task_events=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(settings) if is_redis(broker) else {},
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
        enable_utc=True,
    )
    app.newsworker_settings = settings
    app.newsworker_keys = Keys(settings.redis_prefix)
    return app


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        sys.exit(f"newsworker: {exc}")


@signals.setup_logging.connect
def _setup_logging(**_kwargs) -> None:
    """Worker and beat log through worker.logs (our format, Celery's chatter at debug only)."""
    settings = app.newsworker_settings
    logs.configure(settings.log_level, settings.log_format)


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _freeze_startup_heap(**_kwargs) -> None:
    """The objects of a started worker (Celery, kombu, the imported modules: ~100,000) are
    moved out of the cyclic collector's sight: they live as long as the process, and each
    full collection walked all of them again (docs/engine.md, round 4)."""
    gc.collect()
    gc.freeze()


@signals.before_task_publish.connect
def _stamp_sent_at(headers: dict | None = None, **_kwargs) -> None:
    """Every message carries when it was sent: `status` shows the age of a queue's oldest."""
    if headers is not None:
        headers.setdefault("sent_at", time.time())


configure(_settings_or_exit())
logs.quiet_noise(app.newsworker_settings.log_level)  # Flower configures its own handlers
lifetime.install()
