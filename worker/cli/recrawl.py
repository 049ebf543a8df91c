"""Operator commands that start work: recrawl, poll, retry-failed."""

from __future__ import annotations

import json
import sys
import time
import uuid

import redis
from celery import Celery

from config.feeds import feed_id_for
from config.settings import Settings
from tasks.rediskeys import Keys
from worker.cli.common import CliError, date_arg
from worker.connect import celery_app, connect_redis


def register(sub) -> None:
    p = sub.add_parser("recrawl", help="fetch pages again, ignoring seen marks and validators")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--feed", help="every entry of this feed (name or id)")
    what.add_argument("--url", help="one page")
    what.add_argument(
        "--since", type=date_arg, help="every stored article published since DATE (YYYY-MM-DD)"
    )
    what.add_argument("--all", action="store_true", help="every entry of every enabled feed")
    p.add_argument("--no-wait", action="store_true", help="start it and return")
    p.add_argument("--timeout", type=float, default=3600.0, help="stop watching after S seconds")
    p.set_defaults(func=cmd_recrawl)

    p = sub.add_parser("poll", help="poll feeds now (all enabled feeds, or the named ones)")
    p.add_argument("feeds", nargs="*", help="feed names or ids")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("retry-failed", help="send the failed entries through the pipeline again")
    p.set_defaults(func=cmd_retry_failed)


def service_handles(settings: Settings) -> tuple[Settings, redis.Redis, Celery]:
    """What every command here starts with: the settings the running service uses, a pinged
    Redis client and a Celery app to send tasks with."""
    return settings, connect_redis(settings), celery_app(settings)


def service_feed_ids(settings, client, names: list[str]) -> list[str]:
    """Ids of the named feeds (or of every enabled one) in the running service's registry,
    the feed list it synced from its own feeds file; CliError for a name it does not know."""
    from tasks.poll.registry import FeedRegistry

    feeds = FeedRegistry(client, Keys(settings.redis_prefix), settings).feeds()
    if not names:
        return [f.id for f in feeds if f.enabled]
    by_name = {f.name.lower(): f.id for f in feeds} | {f.id: f.id for f in feeds}
    unknown = [n for n in names if n.lower() not in by_name and feed_id_for(n) not in by_name]
    if unknown:
        raise CliError(f"the service has no feed named {', '.join(map(repr, unknown))}")
    return [by_name.get(n.lower()) or by_name[feed_id_for(n)] for n in names]


def cmd_recrawl(args) -> int:
    from tasks.ingest.progress import RecrawlProgress

    settings, client, app = service_handles(args.settings)
    feed = service_feed_ids(settings, client, [args.feed])[0] if args.feed else None
    run_id = uuid.uuid4().hex[:12]
    progress = RecrawlProgress(client, app.newsworker_keys, run_id)
    progress.start(0, polls=1)  # the news.recrawl task's planning step counts itself off
    app.send_task(
        "news.recrawl",
        kwargs={
            "feed": feed,
            "url": args.url,
            "since": args.since,
            "all": args.all,
            "run_id": run_id,
        },
    )
    print(f"newsworker: re-crawl {run_id} started", file=sys.stderr)
    if args.no_wait:
        return 0
    return watch(progress, args.timeout)


def watch(progress, timeout: float) -> int:
    from tasks.ingest.progress import render_progress

    tty = sys.stderr.isatty()
    deadline = time.monotonic() + timeout
    while True:
        snap = progress.snapshot()
        finished = snap["polls"] <= 0 and snap["remaining"] <= 0
        if tty:
            print("\r" + render_progress(snap, tty=True), end="", file=sys.stderr, flush=True)
        if finished or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(("\n" if tty else "") + render_progress(snap, tty=False), file=sys.stderr)
    return 0 if finished else 1


def cmd_poll(args) -> int:
    settings, client, app = service_handles(args.settings)
    ids = service_feed_ids(settings, client, args.feeds)
    for feed_id in ids:
        app.send_task("news.poll_feed", args=[feed_id])
    print(f"newsworker: {len(ids)} poll(s) sent", file=sys.stderr)
    return 0


def send_again(app, record: dict) -> None:
    """One failed-list record back into the pipeline: a page to fetch, or an article to store."""
    if "article" in record:
        app.send_task("news.store_article", args=[record["article"], record.get("entry_key")])
    else:
        app.send_task("news.ingest_entry", args=[{**record["entry"], "recrawl": True}, None])


def cmd_retry_failed(args) -> int:
    settings, client, app = service_handles(args.settings)
    key = app.newsworker_keys.failed
    pipe = client.pipeline(transaction=True)  # take the whole list at once: two runs never
    pipe.lrange(key, 0, -1)  # both send (or both drop) the same entry
    pipe.delete(key)
    records = pipe.execute()[0]
    sent = 0
    try:
        for raw in records:
            send_again(app, json.loads(raw))
            sent += 1
    finally:
        if sent < len(records):  # the broker failed part way: keep what was not sent
            client.rpush(key, *records[sent:])
    print(
        f"newsworker: {sent} failed entr{'y' if sent == 1 else 'ies'} sent again", file=sys.stderr
    )
    return 0
