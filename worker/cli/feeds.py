"""Feed commands: `newsworker feeds check|discover|import-opml|export-opml|list|add|disable|enable`
and `status`.

Each command takes the parsed arguments and returns an exit code; expected failures end as
one line on stderr (`feeds check` never shows a traceback, whatever the input).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from config.feeds import (
    feed_from_table,
    load_feeds,
    read_feeds_file,
    set_enabled,
    write_feeds_file,
)
from config.opml import new_feeds, read_opml, to_opml, toml_tables
from tasks.errors import IngestError
from tasks.feed.discover import describe_feed, feed_candidates, is_feed
from tasks.feed.parse import parse_feed
from tasks.poll.stage import newest
from tasks.rediskeys import Keys
from worker.cli.common import CliError
from worker.connect import connect_redis


def register(sub) -> None:
    """Add this module's commands to the `newsworker` parser."""
    feeds = sub.add_parser("feeds", help="feed tools").add_subparsers(
        dest="feeds_command", metavar="ACTION"
    )
    p = feeds.add_parser("check", help="parse a feed (URL or file), one JSON line per entry")
    p.add_argument("source", metavar="URL_OR_FILE")
    p.set_defaults(func=cmd_check)
    p = feeds.add_parser("discover", help="find the feeds of a site")
    p.add_argument("url")
    p.set_defaults(func=cmd_discover)
    p = feeds.add_parser("import-opml", help="append the feeds of an OPML file to the feeds file")
    p.add_argument("file")
    p.set_defaults(func=cmd_import_opml)
    feeds.add_parser("export-opml", help="the feeds file as OPML on stdout").set_defaults(
        func=cmd_export_opml
    )
    feeds.add_parser("list", help="the feeds of the feeds file").set_defaults(func=cmd_list)
    p = feeds.add_parser("add", help="add a feed to the feeds file (checked first)")
    p.add_argument("name")
    p.add_argument("url")
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p.set_defaults(func=cmd_add)
    for verb, on in (("disable", False), ("enable", True)):
        p = feeds.add_parser(verb, help=f"{verb} a feed in the feeds file (by name or id)")
        p.add_argument("name")
        p.set_defaults(func=cmd_set_enabled, enabled=on)
    p = sub.add_parser("status", help="per-feed health (a table, or everything with --json)")
    p.add_argument("--json", action="store_true", help="the whole report as one JSON object")
    p.set_defaults(func=cmd_status)


# --- check / discover ----------------------------------------------------------------------


def cmd_check(args) -> int:
    """Parse a feed as a poll would: NEWS_FEED_MAX_BYTES and NEWS_FEED_MAX_ENTRIES apply to a
    file as to a URL; the entries printed are the ones a poll would take (the newest)."""
    settings = args.settings
    try:
        body, url, headers = _read_source(args.source, settings)
        feed = parse_feed(body, url=url, headers=headers, max_entries=settings.feed_max_entries)
        entries = newest(feed.entries, settings.feed_max_entries, "-")
    except (IngestError, CliError) as exc:
        print(f"newsworker: not usable: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a checker must never end in a traceback
        print(f"newsworker: not usable: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for e in entries:
        print(
            json.dumps(
                {"id": e.entry_id, "link": e.link, "title": e.title, "published": e.published},
                ensure_ascii=False,
            )
        )
    warn = f"; warning: {feed.bozo}" if feed.bozo else ""
    print(
        f"ok: {len(entries)} entries, {feed.format}, title {feed.title!r}{warn}",
        file=sys.stderr,
    )
    return 0


def _read_source(source: str, settings) -> tuple[bytes, str, dict[str, str]]:
    if "://" not in source:
        path = Path(source)
        cap = settings.feed_max_bytes
        try:
            with path.open("rb") as f:
                body = f.read(cap + 1)  # never more than the cap a poll would read
            uri = path.resolve().as_uri()
        except OSError as exc:
            raise CliError(f"cannot read {source}: {exc.strerror or exc}") from None
        if len(body) > cap:
            raise CliError(f"{source} is over NEWS_FEED_MAX_BYTES ({cap} bytes)")
        return body, uri, {}
    page = _http(settings).get(source, kind="feed")
    return page.body, page.url, page.headers


def _http(settings):
    from tasks.fetch.http import HttpClient

    return HttpClient(settings)


def cmd_discover(args) -> int:
    http = _http(args.settings)
    try:  # kind "feed" accepts HTML too: the URL may be the site or already a feed
        page = http.get(args.url, kind="feed")
    except IngestError as exc:
        raise CliError(f"cannot fetch {args.url}: {exc}") from None
    found = [describe_feed(page)] if is_feed(page) else []
    if not found:
        for url in feed_candidates(page.body, page.url):
            try:
                found.append(describe_feed(http.get(url, kind="feed")))
            except IngestError:
                continue
    for line in dict.fromkeys(found):
        print(line)
    print(f"{len(found)} feed(s) found", file=sys.stderr)
    return 0 if found else 1


# --- the feeds file --------------------------------------------------------------------------


def cmd_import_opml(args) -> int:
    """Validate every outline, then write the feeds file once (atomically) or not at all;
    each skipped outline is one line on stderr (exit 1 when any was skipped)."""
    settings = args.settings
    try:
        imported, skipped = read_opml(Path(args.file).read_bytes(), args.file)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    path = Path(settings.feeds_file)
    existing = load_feeds(path) if path.exists() else []
    added = new_feeds(existing, imported)
    if added:
        write_feeds_file(path, _appended(path, toml_tables(added)))
    for line in skipped:
        print(f"newsworker: skipped: {line}", file=sys.stderr)
    print(
        f"{len(added)} feed(s) added to {path}, {len(imported) - len(added)} already there, "
        f"{len(skipped)} skipped",
        file=sys.stderr,
    )
    return 1 if skipped else 0


def _appended(path: Path, tables: str) -> str:
    """The feeds file's text with ``tables`` appended (a missing file is empty)."""
    text = path.read_text("utf-8") if path.exists() else ""
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + tables


def cmd_export_opml(args) -> int:
    sys.stdout.write(to_opml(load_feeds(args.settings.feeds_file)))
    return 0


def cmd_add(args) -> int:
    """Append one feed; the feeds file is validated with it before it is written."""
    path = Path(args.settings.feeds_file)
    feed = feed_from_table({"name": args.name, "url": args.url, "tags": args.tag}, "new feed")
    write_feeds_file(path, _appended(path, toml_tables([feed])))  # a duplicate id is refused
    print(f"newsworker: added {feed.name!r} ({feed.id}) to {path}", file=sys.stderr)
    return 0


def cmd_set_enabled(args) -> int:
    path = Path(args.settings.feeds_file)
    write_feeds_file(path, set_enabled(path.read_text("utf-8"), args.name, args.enabled))
    state = "enabled" if args.enabled else "disabled (its articles stay)"
    print(
        f"newsworker: {args.name!r} {state}; the service picks it up at its next tick",
        file=sys.stderr,
    )
    return 0


def cmd_list(args) -> int:
    """The valid feeds on stdout; each refused entry as one line on stderr (exit 1)."""
    load = read_feeds_file(args.settings.feeds_file)
    for f in load.feeds:
        bounds = f"{f.min_interval or '-'}..{f.max_interval or '-'}"
        state = "enabled" if f.enabled else "disabled"
        print(f"{f.id}\t{state}\t{bounds}\t{','.join(f.tags)}\t{f.name}\t{f.url}")
    for line in load.refused:
        print(f"newsworker: refused: {line}", file=sys.stderr)
    return 1 if load.refused else 0


# --- status ----------------------------------------------------------------------------------


def queue_depths(settings, client) -> dict[str, int]:
    """Queue name -> messages waiting in the broker (kombu keeps a Redis list per queue; on
    RabbitMQ a passive declare counts the ready messages)."""
    from worker.app import QUEUES, broker_url, is_redis

    broker = broker_url(settings)
    if not is_redis(broker):
        return amqp_queue_depths(broker, QUEUES)
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        pipe.llen(queue)
    return dict(zip(QUEUES, pipe.execute(), strict=True))


def amqp_queue_depths(broker: str, queues: tuple[str, ...]) -> dict[str, int]:
    from kombu import Connection
    from kombu.exceptions import KombuError

    depths = {}
    with Connection(broker, connect_timeout=5) as conn:
        try:
            channel = conn.default_channel
            for queue in queues:
                try:
                    depths[queue] = channel.queue_declare(queue, passive=True).message_count
                except conn.channel_errors:  # not declared yet: no worker has started
                    depths[queue] = 0
                    channel = conn.channel()
        except (OSError, KombuError, *conn.connection_errors, *conn.channel_errors) as exc:
            raise CliError(f"broker at {conn.as_uri()} does not answer: {exc}") from None
    return depths


def cmd_status(args) -> int:
    from tasks.poll.registry import FeedRegistry

    settings = args.settings
    client = connect_redis(settings)
    if getattr(args, "json", False):
        from worker.cli.ops import status_report

        print(json.dumps(status_report(settings, client, time.time()), indent=1))
        return 0
    registry = FeedRegistry(client, Keys(settings.redis_prefix), settings)
    feeds = registry.feeds()
    states = registry.states(f.id for f in feeds)
    scheduled = registry.scheduled()
    counters = article_counters(client, registry.keys, [f.id for f in feeds])
    rows: list[tuple[str, ...]] = [
        (
            "NAME",
            "STATE",
            "LAST POLL",
            "LAST SUCCESS",
            "NEXT POLL",
            "INTERVAL",
            "SEEN",
            "STORED",
            "FAILED",
            "ERRORS SINCE",
            "LAST ERROR",
        )
    ]
    for f in feeds:
        row = status_row(f, states[f.id], scheduled.get(f.id), time.time())
        rows.append(row[:7] + counters[f.id] + row[7:])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    for line in feeds_file_lines(registry.synced_file()):
        print(line, file=sys.stderr)
    if registry.network_is_down():
        print("NETWORK DOWN: feed errors are not being counted", file=sys.stderr)
    for queue, depth in queue_depths(settings, client).items():
        print(f"queue {queue}: {depth}")
    return 0


def feeds_file_lines(synced: dict[str, str]) -> list[str]:
    """What `status` says about the feeds file as the beat last read it: not loaded and why,
    or which entries were refused."""
    if synced.get("error"):
        return [f"feeds file NOT loaded (the last good list is in force): {synced['error']}"]
    refused = [line for line in (synced.get("refused") or "").split("\n") if line]
    if not refused:
        return []
    head = f"feeds file loaded, {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} refused"
    return [f"{head} (their last good version is in force):", *(f"  {r}" for r in refused)]


STORED_OUTCOMES = ("stored", "revised", "unchanged", "duplicate")


def article_counters(client, keys: Keys, feed_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Feed id -> (articles stored, entries failed), from the counters the tasks keep."""
    pipe = client.pipeline(transaction=False)
    for feed_id in feed_ids:
        pipe.hgetall(keys.feed_stats(feed_id))
    out = {}
    for feed_id, raw in zip(feed_ids, pipe.execute(), strict=True):
        stats = {k.decode(): int(v) for k, v in raw.items()}
        stored = sum(stats.get(name, 0) for name in STORED_OUTCOMES)
        out[feed_id] = (str(stored), str(stats.get("failed", 0)))
    return out


def status_row(feed, state, next_at: float | None, now: float) -> tuple[str, ...]:
    if not feed.enabled:
        label = "disabled"
    elif state.error_count or state.last_status == "error":
        label = f"failing x{state.error_count}"
    elif state.moved_to and state.moved_from == feed.url:
        label = f"moved -> {state.moved_to}"
    else:
        label = "ok" if state.last_poll else "new"
    error = ""
    if state.error_kind:
        status = f" {state.error_status}" if state.error_status else ""
        error = f"{state.error_kind}{status}: {state.error_message or ''}"
    return (
        feed.name,
        label,
        _when(state.last_poll),
        _when(state.last_success),
        _when(next_at),
        _span(state.interval),
        str(state.entries_seen),
        _when(state.error_since),
        error,
    )


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _span(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds / 60:.0f}m"
