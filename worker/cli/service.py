"""Service commands: run, export, show, clean, settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from config.settings import describe
from worker.cli.common import date_arg


def register(sub) -> None:
    p = sub.add_parser("run", help="run the whole service here: worker, beat, Flower (+ Redis)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("export", help="stored articles to stdout (JSON Lines or text)")
    p.add_argument("--format", choices=("jsonl", "text"), default="jsonl")
    p.add_argument("--feed", help="only this feed (name or id)")
    p.add_argument(
        "--since", type=date_arg, help="only articles published (or fetched) on or after DATE"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("show", help="one stored article's text rendering")
    p.add_argument("id", help="article id (or a unique prefix of it)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("clean", help="run the cleaner on a saved page")
    p.add_argument("file", help="an HTML file (- for stdin)")
    p.add_argument("--url", required=True, help="the URL the page was fetched from")
    p.add_argument("--format", choices=("json", "text"), default="text")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("settings", help="every NEWS_* setting with its value here")
    p.set_defaults(func=cmd_settings)


def cmd_run(args) -> int:
    from worker.logs import configure
    from worker.service import ServiceError, run_service

    settings = args.settings
    configure(settings.log_level, settings.log_format)
    try:
        return run_service(settings)
    except ServiceError as exc:
        print(f"newsworker: {exc}", file=sys.stderr)
        return 2


def feed_filter(value: str | None) -> str | None:
    """A feed given by name or id -> its id."""
    from config.feeds import feed_id_for

    return feed_id_for(value) if value else None


def cmd_export(args) -> int:
    from tasks.store import open_store

    store = open_store(args.settings.store_url)
    try:
        for article in store.iter_articles(feed_id=feed_filter(args.feed), since=args.since):
            if args.format == "jsonl":
                sys.stdout.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(article.render_text() + "\n\f\n")
    finally:
        store.close()
    return 0


def cmd_show(args) -> int:
    from tasks.store import open_store

    store = open_store(args.settings.store_url)
    try:
        article = store.get(args.id) or find_by_prefix(store, args.id)
    finally:
        store.close()
    if article is None:
        print(f"newsworker: no article with id {args.id}", file=sys.stderr)
        return 1
    sys.stdout.write(article.render_text())
    return 0


def find_by_prefix(store, prefix: str):
    if len(prefix) < 6:
        return None
    matches = [a for a in store.iter_articles() if a.id.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def cmd_clean(args) -> int:
    from tasks.clean import clean_html
    from tasks.clean.sites import load_sites
    from worker.cli.common import CliError

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    settings = args.settings
    sites = load_sites(settings.sites_file) if settings.sites_file else None
    article = clean_html(data, args.url, sites=sites)
    if args.format == "json":
        print(json.dumps(article.to_dict(), ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(article.render_text())
    return 0


def cmd_settings(args) -> int:
    settings = args.settings
    for name, default, doc in describe():
        value = getattr(settings, name[len("NEWS_") :].lower())
        if isinstance(value, tuple):
            value = ",".join(map(str, value))
        print(f"{name}={'' if value is None else value}    # {doc} (default: {default or 'unset'})")
    return 0
