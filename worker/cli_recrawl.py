"""Operator commands that start work: recrawl, poll, retry-failed."""

from __future__ import annotations

import json
import sys
import time
import uuid

from config.feeds import feed_id_for, load_feeds
from config.settings import load_settings
from worker.cli import CliError
from worker.connect import celery_app, connect_redis


def register(sub) -> None:
    p = sub.add_parser("recrawl", help="fetch pages again, ignoring seen marks and validators")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--feed", help="every entry of this feed (name or id)")
    what.add_argument("--url", help="one page")
    what.add_argument("--since", help="every stored article published since DATE (YYYY-MM-DD)")
    what.add_argument("--all", action="store_true", help="every entry of every enabled feed")
    p.add_argument("--no-wait", action="store_true", help="start it and return")
    p.add_argument("--timeout", type=float, default=3600.0, help="stop watching after S seconds")
    p.set_defaults(func=cmd_recrawl)

    p = sub.add_parser("poll", help="poll feeds now (all enabled feeds, or the named ones)")
    p.add_argument("feeds", nargs="*", help="feed names or ids")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("retry-failed", help="send the failed entries through the pipeline again")
    p.set_defaults(func=cmd_retry_failed)


def enabled_feed_ids(settings, names: list[str]) -> list[str]:
    if names:
        return [feed_id_for(n) for n in names]
    return [f.id for f in load_feeds(settings.feeds_file) if f.enabled]


def cmd_recrawl(args) -> int:
    from tasks.progress import RecrawlProgress

    settings = load_settings()
    client = connect_redis(settings)
    app = celery_app(settings)
    if args.feed and feed_id_for(args.feed) not in enabled_feed_ids(settings, []):
        raise CliError(f"no enabled feed named {args.feed!r} in {settings.feeds_file}")
    run_id = uuid.uuid4().hex[:12]
    progress = RecrawlProgress(client, app.newsworker_keys, run_id)
    progress.start(0, polls=1)  # the news.recrawl task's planning step counts itself off
    app.send_task("news.recrawl", kwargs={"feed": args.feed, "url": args.url, "since": args.since,
                                          "all": args.all, "run_id": run_id})  # fmt: skip
    print(f"newsworker: re-crawl {run_id} started", file=sys.stderr)
    if args.no_wait:
        return 0
    return watch(progress, args.timeout)


def watch(progress, timeout: float) -> int:
    from tasks.progress import render_progress

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
    settings = load_settings()
    connect_redis(settings)
    app = celery_app(settings)
    ids = enabled_feed_ids(settings, args.feeds)
    for feed_id in ids:
        app.send_task("news.poll_feed", args=[feed_id])
    print(f"newsworker: {len(ids)} poll(s) sent", file=sys.stderr)
    return 0


def cmd_retry_failed(args) -> int:
    settings = load_settings()
    client = connect_redis(settings)
    app = celery_app(settings)
    key = app.newsworker_keys.failed
    sent = 0
    for raw in client.lrange(key, 0, -1):  # removed only once sent: nothing lost on a crash
        entry = {**json.loads(raw)["entry"], "recrawl": True}
        app.send_task("news.ingest_entry", args=[entry, None])
        client.lpop(key)
        sent += 1
    print(
        f"newsworker: {sent} failed entr{'y' if sent == 1 else 'ies'} sent again", file=sys.stderr
    )
    return 0
