"""The failed list as something to act on: `failed list [--feed]`, `failed show ID`,
`failed drop ID|--all` (`retry-failed`, in worker.cli.recrawl, sends them all again).

A record's ID is the first 12 hex digits of the SHA-1 of its JSON: positions in the list move
as workers add to it, the record itself does not. Dropping removes that exact record (LREM),
so a record added meanwhile is never dropped by mistake.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import redis

from config.feeds import feed_id_for
from tasks.formats import as_text
from tasks.rediskeys import Keys
from worker.cli.common import CliError
from worker.connect import connect_redis

ID_LENGTH = 12


def register(sub) -> None:
    failed = sub.add_parser("failed", help="the failed list: list, show, drop").add_subparsers(
        dest="failed_command", metavar="ACTION", required=True
    )
    p = failed.add_parser("list", help="one line per failed record: id, when, feed, kind, url")
    p.add_argument("--feed", help="only this feed (name or id)")
    p.set_defaults(func=cmd_list)
    p = failed.add_parser("show", help="one failed record, whole, as JSON")
    p.add_argument("id", help="the record's id (or a unique prefix of at least 4 digits)")
    p.set_defaults(func=cmd_show)
    p = failed.add_parser("drop", help="remove a record (or all) from the failed list")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("id", nargs="?", help="the record's id")
    what.add_argument("--all", action="store_true", help="every record")
    p.set_defaults(func=cmd_drop)


def record_id(raw: bytes | str) -> str:
    data = raw if isinstance(raw, bytes) else raw.encode()
    return hashlib.sha1(data).hexdigest()[:ID_LENGTH]  # noqa: S324 - a name, not security


def parse(raw: bytes) -> dict:
    try:
        record = json.loads(raw)
    except ValueError:
        return {"error": {"kind": "unreadable", "message": as_text(raw)[:200]}}
    return record if isinstance(record, dict) else {"error": {"kind": "unreadable"}}


def summary(record: dict) -> dict:
    """feed, url and error of a record, whether it is an entry or an article."""
    item = record.get("entry") or record.get("article") or {}
    error = record.get("error") or {}
    return {
        "feed": item.get("feed_id") or "-",
        "url": item.get("link") or item.get("url") or "-",
        "kind": error.get("kind") or "-",
        "message": error.get("message") or "",
        "at": record.get("at") or "-",
        "what": "article" if "article" in record else "entry",
    }


def records(settings) -> tuple[redis.Redis, str, list[Any]]:  # raw bytes (no decoding)
    client = connect_redis(settings)
    key = Keys(settings.redis_prefix).failed
    return client, key, list(client.lrange(key, 0, -1))


def find(raws: list[Any], wanted: str) -> Any:
    wanted = wanted.lower()
    if len(wanted) < 4:
        raise CliError(f"give at least 4 digits of the id, got {wanted!r}")
    matches = {record_id(r): r for r in raws if record_id(r).startswith(wanted)}
    if not matches:
        raise CliError(f"no failed record with id {wanted} (see `newsworker failed list`)")
    if len(matches) > 1:
        raise CliError(f"id {wanted} is ambiguous: {', '.join(sorted(matches))}")
    return next(iter(matches.values()))


def cmd_list(args) -> int:
    _, _, raws = records(args.settings)
    feed = feed_id_for(args.feed) if args.feed else None
    shown = 0
    for raw in raws:
        s = summary(parse(raw))
        if feed and s["feed"] not in (feed, args.feed):
            continue
        shown += 1
        print(
            f"{record_id(raw)}  {s['at']}  {s['feed']}  {s['what']}  {s['kind']}  {s['url']}"
            f"  {s['message'][:120]}"
        )
    print(f"{shown} failed record(s)" + (f" of feed {args.feed}" if feed else ""), file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    _, _, raws = records(args.settings)
    raw = find(raws, args.id)
    print(json.dumps({"id": record_id(raw), **parse(raw)}, ensure_ascii=False, indent=1))
    return 0


def cmd_drop(args) -> int:
    client, key, raws = records(args.settings)
    if args.all:
        pipe = client.pipeline(transaction=True)
        pipe.llen(key)
        pipe.delete(key)
        dropped = pipe.execute()[0]
    else:
        dropped = client.lrem(key, 1, find(raws, args.id))
    print(f"newsworker: {dropped} failed record(s) dropped", file=sys.stderr)
    return 0
