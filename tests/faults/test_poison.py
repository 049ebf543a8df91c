"""Poison pages: the cleaner raises on one page, another page kills its worker process. That
entry alone fails and is recorded in the failed list with the reason; an entry whose feed
item has text falls back to it; every other story of the same feeds is stored."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pytest

from tasks.rediskeys import Keys
from tests.celeryproc import ROOT, CeleryProcs, wait_until
from tests.conftest import read_articles
from tests.faults.poison_marks import KILL_MARK, POISON_MARK
from tests.faults.procs import pipeline_env
from tests.httpserver import Reply
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

INJECT = Path(__file__).parent / "inject"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def poison_html(title: str, mark: str) -> str:
    paras = "".join(f"<p>{mark}: paragraph {i} of a page like any other.</p>" for i in range(4))
    return f"<html><head><title>{escape(title)}</title></head><body><article>{paras}</article></body></html>"


def atom_with_poison(server, stories) -> str:
    """The Atom feed of the site plus two entries without a summary (no fallback text)."""
    base = server.url("").rstrip("/")
    extra = "".join(
        f'<entry><title>{kind} entry</title><link href="{base}/news/{kind}.html"/>'
        f"<id>urn:test:{kind}</id><updated>2026-11-01T09:00:00Z</updated></entry>"
        for kind in ("poison", "killer")
    )
    entries = "".join(
        f'<entry><title>{escape(s.title)}</title><link href="{base}/news/{s.slug}.html"/>'
        f"<id>urn:test:{s.slug}</id><updated>{s.published.isoformat()}</updated>"
        f"<summary>{escape(s.paragraphs[0])}</summary></entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Test Times Atom</title><id>urn:test:atom</id>"
        f"<updated>2026-11-02T00:00:00Z</updated>{entries}{extra}</feed>"
    )


def test_poison_pages_fail_alone_with_the_reason(tmp_path, http_server, own_redis, sqlite_url):
    env = pipeline_env(tmp_path, http_server, own_redis.url, sqlite_url, feeds_toml(http_server))
    stories = serve_site(http_server, rss_count=6, atom_count=4)
    atom = [s for s in stories if s.slug.startswith("atom")]
    http_server.route(
        "/atom.xml",
        Reply(200, {"Content-Type": "application/atom+xml"}, atom_with_poison(http_server, atom)),
    )
    # an RSS story whose page is poison: its item has a description, the fallback
    fallback = stories[0]
    http_server.route(
        f"/news/{fallback.slug}.html", Reply(200, HTML, poison_html(fallback.title, POISON_MARK))
    )
    http_server.route("/news/poison.html", Reply(200, HTML, poison_html("Poison", POISON_MARK)))
    http_server.route("/news/killer.html", Reply(200, HTML, poison_html("Killer", KILL_MARK)))
    procs = CeleryProcs(env, tmp_path)
    procs.env["PYTHONPATH"] = f"{INJECT}:{ROOT}"
    client = own_redis.client()
    failed_key = Keys("news").failed
    try:
        procs.start_worker()
        procs.start_beat()
        wait_until(
            lambda: len(read_articles(sqlite_url)) >= len(stories) and client.llen(failed_key) >= 2,
            120,
            "every good story stored and both poison entries recorded",
            procs,
        )
    finally:
        procs.stop_all()
    by_title = {a.title: a for a in read_articles(sqlite_url)}
    assert set(by_title) == {s.title for s in stories}
    assert by_title[fallback.title].body == fallback.paragraphs[0]  # the feed item's text
    for story in stories[1:]:
        assert by_title[story.title].body == story.body
    failed = {
        r["entry"]["title"]: r["error"] for r in map(json.loads, client.lrange(failed_key, 0, -1))
    }
    assert set(failed) == {"poison entry", "killer entry"}
    assert "could not be cleaned: RuntimeError" in failed["poison entry"]["message"]
    assert "killed its worker" in failed["killer entry"]["message"]
    assert len(http_server.hits("/news/poison.html")) == 1  # a poison page is not retried
