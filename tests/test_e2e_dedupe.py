"""End to end through a real worker: one story reached by three URLs (a tracking parameter,
an AMP page) is one record; a syndicated copy with edits on another host is flagged
`duplicate_of`; a re-crawl touches the unchanged story and revises the changed one."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tasks.store import open_store
from tests.celeryproc import ROOT, CeleryProcs, flush_db, wait_until
from tests.conftest import E2E_REDIS_URL as REDIS_URL
from tests.conftest import read_articles
from tests.httpserver import Reply
from tests.newssite import Conditional, make_story, page_html, rss

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HTML = {"Content-Type": "text/html; charset=utf-8"}


def amp_page(html: str, canonical: str) -> str:
    return html.replace("<head>", f'<head><link rel="canonical" href="{canonical}">', 1)


def syndicated(story) -> str:
    """The wire copy on another site: a dateline added, a credit line at the end."""
    paragraphs = list(story.paragraphs)
    paragraphs[0] = "LONDON (Wire) - " + paragraphs[0]
    paragraphs.append("Reporting by Jane Doe; editing by John Roe.")
    copy = type(story)(story.slug, story.title, tuple(paragraphs), story.published, "Wire staff")
    return page_html(copy).replace("The Test Times", "The Other Gazette")


def feed_of(items: list[tuple[str, object, str]]) -> str:
    """An RSS feed whose items are (guid, story, link)."""
    body = rss([s for _, s, _ in items], "http://unused")
    for guid, story, link in items:
        body = body.replace(f"http://unused/news/{story.slug}.html", link, 1)
        body = body.replace(f"rss-{story.slug}</guid>", f"{guid}</guid>", 1)
    return body


@pytest.fixture
def site(http_server, tmp_path):
    base = http_server.url("").rstrip("/")
    other = base.replace("127.0.0.1", "localhost")  # another host, another site
    story, other_story = make_story(1, "wire"), make_story(2, "local")
    http_server.route("/news/a.html", Reply(200, HTML, page_html(story)))
    http_server.route(
        "/amp/news/a.html", Reply(200, HTML, amp_page(page_html(story), f"{base}/news/a.html"))
    )
    http_server.route("/news/b.html", Reply(200, HTML, page_html(other_story)))
    http_server.route("/wire/a.html", Reply(200, HTML, syndicated(story)))
    first = feed_of(
        [
            ("g1", story, f"{base}/news/a.html"),
            ("g2", story, f"{base}/news/a.html?utm_source=rss&amp;utm_medium=feed#top"),
            ("g3", story, f"{base}/amp/news/a.html"),
            ("g4", other_story, f"{base}/news/b.html"),
        ]
    )
    second = rss([story], other).replace(f"{other}/news/{story.slug}.html", f"{other}/wire/a.html")
    http_server.route("/first.xml", Conditional(first, "application/rss+xml"))
    http_server.route("/second.xml", Conditional(second, "application/rss+xml"))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "First"\nurl = "{base}/first.xml"\n')
    return {
        "story": story,
        "other": other_story,
        "feeds": feeds,
        "base": base,
        "second_url": f"{base}/second.xml",
    }


def test_one_record_per_story_and_recrawl(site, http_server, tmp_path):
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
    }
    flush_db(REDIS_URL)
    procs = CeleryProcs(env, tmp_path)
    try:
        procs.start_worker()
        procs.start_beat()
        wait_until(  # the amp URL of story a may be fetched after both stories are stored
            lambda: (
                len(http_server.hits("/news/b.html")) == 1
                and len(http_server.hits("/amp/news/a.html")) >= 1
                and len(read_articles(store_url)) == 2
            ),
            60,
            "the first feed",
            procs,
        )
        # the three URLs of story a were all fetched, and made one record
        assert len(http_server.hits("/amp/news/a.html")) == 1
        by_title = {a.title: a for a in read_articles(store_url)}
        original = by_title[site["story"].title]
        assert original.canonical_url == f"{site['base']}/news/a.html"

        # a feed added to the file (no restart) brings the syndicated copy
        with site["feeds"].open("a") as f:
            f.write(f'\n[[feeds]]\nname = "Second"\nurl = "{site["second_url"]}"\n')
        wait_until(lambda: len(read_articles(store_url)) == 3, 60, "the wire copy", procs)
        copy = next(a for a in read_articles(store_url) if a.source == "The Other Gazette")
        assert copy.duplicate_of == original.id

        # the local story changes; a re-crawl of the first feed sees it
        store = open_store(store_url)
        seen_before = store.stats(original.id)["last_seen"]
        store.close()
        time.sleep(1.1)  # last_seen has a resolution of one second
        changed = make_story(3, "local")
        http_server.route(
            "/news/b.html",
            Reply(200, HTML, page_html(changed).replace(changed.title, site["other"].title)),
        )
        out = subprocess.run(
            [sys.executable, "-m", "worker.cli", "recrawl", "--feed", "First", "--timeout", "60"],
            env=procs.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert out.returncode == 0, out.stderr + procs.logs()
        assert "4/4 done" in out.stderr and "1 changed, 3 unchanged, 0 failed" in out.stderr
        store = open_store(store_url)
        try:
            revised = store.get(by_title[site["other"].title].id)
            assert revised.body == changed.body
            assert store.stats(revised.id)["revision"] == 2
            assert [r.body for r in store.revisions(revised.id)] == [site["other"].body]
            assert store.stats(original.id)["revision"] == 1
            assert store.stats(original.id)["last_seen"] > seen_before  # touched
            assert store.count() == 3
        finally:
            store.close()
    finally:
        procs.stop_all()
        flush_db(REDIS_URL)
