"""End to end through a real worker: copies of a story that partner sites edited the ways of
issue 13 (lead replaced + credit, trimmed + "Read the full story", new headline + editor's
note + "Related:", dateline + straight quotes + merged paragraphs) arrive from another host
and are stored with `duplicate_of` the original; an other story on the original's template
is not; with NEWS_DUPLICATES=drop the copies are fetched, counted and not stored."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import redis

from config.feeds import feed_id_for
from tasks.rediskeys import Keys
from tests.celeryproc import CeleryProcs, flush_db, wait_until
from tests.conftest import E2E_REDIS_URL as REDIS_URL
from tests.conftest import read_articles
from tests.httpserver import Reply
from tests.newssite import Conditional, Story, page_html, rss
from tests.samples_dedupe import SAME_TEMPLATE_OTHER, WIRE
from worker.bench import dupcorpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HTML = {"Content-Type": "text/html; charset=utf-8"}
EDITS = ("lead replaced + credit line", "trimmed + Read the full story")
EDITS += ("new headline + note + Related:", "dateline + quotes + merged")
WHEN = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def story(slug: str, title: str, body: str) -> Story:
    return Story(slug, title, tuple(p for p in body.split("\n\n") if p.strip()), WHEN, "Staff")


def partner_copies(original: Story, other: Story) -> list[Story]:
    """The four edits of the issue, made by worker.bench.dupcorpus (as in the benchmark)."""
    source = dupcorpus.Story(original.slug, original.title, original.paragraphs)
    others = [dupcorpus.Story(other.slug, other.title, other.paragraphs)] * 2
    out = []
    for n, kind in enumerate(EDITS):
        copy = dupcorpus.EDITS[kind](source, random.Random(n), others)
        out.append(Story(f"copy-{n}", copy.title, copy.units, WHEN, "Partner desk"))
    return out


@pytest.fixture
def site(http_server, tmp_path):
    base = http_server.url("").rstrip("/")
    partner = base.replace("127.0.0.1", "localhost")  # another host, another site
    original = story("rates", "Central bank holds rates", WIRE)
    other = story("cut", "Central bank cuts rates", SAME_TEMPLATE_OTHER)
    copies = partner_copies(original, other)
    for s in (original, other):
        http_server.route(f"/news/{s.slug}.html", Reply(200, HTML, page_html(s)))
    for s in copies:
        page = page_html(s).replace("The Test Times", "The Other Gazette")
        http_server.route(f"/partner/{s.slug}.html", Reply(200, HTML, page))
    first = rss([original, other], base)
    second = rss(copies, partner).replace(f"{partner}/news/", f"{partner}/partner/")
    http_server.route("/first.xml", Conditional(first, "application/rss+xml"))
    http_server.route("/second.xml", Conditional(second, "application/rss+xml"))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "First"\nurl = "{base}/first.xml"\n')
    return {"original": original, "copies": copies, "feeds": feeds, "second": f"{base}/second.xml"}


@pytest.mark.parametrize("mode", ["keep", "drop"])
def test_partner_copies_are_linked_or_dropped(site, http_server, tmp_path, mode):
    store_url = f"sqlite:///{tmp_path}/articles.db"
    env = {
        "NEWS_REDIS_URL": REDIS_URL,
        "NEWS_STORE_URL": store_url,
        "NEWS_FEEDS_FILE": str(site["feeds"]),
        "NEWS_DATA_DIR": str(tmp_path / "data"),
        "NEWS_FETCH_ALLOW_PRIVATE": "1",
        "NEWS_HOST_RATE": "40",
        "NEWS_HOST_BURST": "10",
        "NEWS_BEAT_TICK": "1",
        "NEWS_DUPLICATES": mode,
    }
    flush_db(REDIS_URL)
    procs = CeleryProcs(env, tmp_path)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        procs.start_worker()
        procs.start_beat()
        wait_until(lambda: len(read_articles(store_url)) == 2, 60, "the first feed", procs)
        by_title = {a.title: a for a in read_articles(store_url)}
        original = by_title[site["original"].title]
        assert all(a.duplicate_of is None for a in by_title.values())  # the other story too

        with site["feeds"].open("a") as f:
            f.write(f'\n[[feeds]]\nname = "Second"\nurl = "{site["second"]}"\n')
        stats = Keys().feed_stats(feed_id_for("Second"))
        label = "duplicate" if mode == "keep" else "dropped_duplicate"
        wait_until(
            lambda: int(client.hget(stats, label) or 0) == len(site["copies"]),
            90,
            f"{len(site['copies'])} copies counted {label}",
            procs,
        )
        for copy in site["copies"]:
            assert len(http_server.hits(f"/partner/{copy.slug}.html")) == 1
        articles = read_articles(store_url)
        copies = [a for a in articles if a.source == "The Other Gazette"]
        if mode == "keep":
            assert len(articles) == 2 + len(site["copies"])
            assert sorted(a.url.rsplit("/", 1)[1] for a in copies) == [
                f"{c.slug}.html" for c in site["copies"]
            ]
            assert all(a.duplicate_of == original.id for a in copies)
        else:
            assert copies == [] and len(articles) == 2
    finally:
        procs.stop_all()
        client.close()
        flush_db(REDIS_URL)
