"""End to end: a real Celery worker and beat, the machine's Redis, a local news site on
127.0.0.1, and a real store (SQLite and PostgreSQL). Feeds in, clean articles out, once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis

from tasks.rediskeys import Keys
from tasks.store import open_store
from tests.celeryproc import ROOT, CeleryProcs, flush_db, wait_until
from tests.conftest import E2E_REDIS_URL, read_articles
from tests.httpserver import Reply
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def pipeline_env(tmp_path, http_server, store_url):
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(feeds_toml(http_server))
    env = {
        "NEWS_REDIS_URL": E2E_REDIS_URL,
        "NEWS_STORE_URL": store_url,
        "NEWS_FEEDS_FILE": str(feeds_file),
        "NEWS_DATA_DIR": str(tmp_path / "data"),
        "NEWS_FETCH_ALLOW_PRIVATE": "1",
        "NEWS_HOST_RATE": "40",
        "NEWS_HOST_BURST": "10",
        "NEWS_BEAT_TICK": "1",
        "NEWS_LEASE_TTL": "5",
        "NEWS_VISIBILITY_TIMEOUT": "8",
    }
    flush_db(E2E_REDIS_URL)
    procs = CeleryProcs(env, tmp_path)
    yield env, procs
    procs.stop_all()
    flush_db(E2E_REDIS_URL)


def page_hits(server) -> dict[str, int]:
    hits: dict[str, int] = {}
    for req in list(server.requests):
        if req.path.startswith("/news/"):
            hits[req.path] = hits.get(req.path, 0) + 1
    return hits


def check_articles(articles, stories) -> None:
    by_title = {a.title: a for a in articles}
    assert len(articles) == len(stories) == len(by_title)
    for story in stories:
        article = by_title[story.title]
        assert article.body == story.body
        assert article.source == "The Test Times"
        assert article.published_at is not None
        assert article.published_at.startswith(story.published.date().isoformat())
        assert "cookies" not in article.body and "Related" not in article.body


def test_feeds_to_articles_once_then_conditional_get(pipeline_env, http_server, store_url):
    env, procs = pipeline_env
    stories = serve_site(http_server)
    procs.start_worker()
    procs.start_beat()
    wait_until(
        lambda: len(read_articles(store_url)) >= len(stories), 90, "every story stored", procs
    )
    check_articles(read_articles(store_url), stories)
    assert set(page_hits(http_server).values()) == {1}

    feed_polls = len(http_server.hits("/rss.xml")), len(http_server.hits("/atom.xml"))
    for feed_id in ("test-rss", "test-atom"):
        procs.send("news.poll_feed", feed_id, queue="feeds")
    wait_until(
        lambda: (
            len(http_server.hits("/rss.xml")) > feed_polls[0]
            and len(http_server.hits("/atom.xml")) > feed_polls[1]
        ),
        30,
        "the second polls",
        procs,
    )
    for path in ("/rss.xml", "/atom.xml"):
        again = http_server.hits(path)[-1]
        assert again.headers.get("if-none-match"), path
        assert again.headers.get("if-modified-since"), path
    assert set(page_hits(http_server).values()) == {1}  # no page fetched again
    assert len(read_articles(store_url)) == len(stories)

    export = subprocess.run(
        [sys.executable, "-m", "worker.cli", "export"],
        env=procs.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr
    lines = [json.loads(line) for line in export.stdout.splitlines()]
    assert {rec["title"] for rec in lines} == {s.title for s in stories}


def test_worker_killed_mid_run_loses_and_duplicates_nothing(pipeline_env, http_server, store_url):
    env, procs = pipeline_env
    stories = serve_site(http_server, page_delay=0.4)
    procs.start_worker("first")
    procs.start_beat()
    wait_until(lambda: len(read_articles(store_url)) >= 4, 90, "a few stories stored", procs)
    procs.kill("first")
    assert len(read_articles(store_url)) < len(stories)
    procs.start_worker("second")
    wait_until(
        lambda: len(read_articles(store_url)) >= len(stories), 120, "every story stored", procs
    )
    articles = read_articles(store_url)
    check_articles(articles, stories)
    store = open_store(store_url)
    try:
        assert all(store.stats(a.id)["revision"] == 1 for a in articles)
    finally:
        store.close()


def test_one_hosts_requests_arrive_at_its_rate_and_few_are_deferred_twice(
    pipeline_env, http_server, store_url
):
    env, procs = pipeline_env
    procs.env.update(NEWS_HOST_RATE="5", NEWS_HOST_BURST="1")
    stories = serve_site(http_server, rss_count=8, atom_count=7)
    procs.start_worker(concurrency=4)
    procs.start_beat()
    wait_until(lambda: len(read_articles(store_url)) >= len(stories), 90, "every story", procs)
    arrivals = sorted(r.at for r in http_server.requests if r.path.startswith("/news/"))
    assert len(arrivals) == len(stories)
    every = sorted(r.at for r in http_server.requests)  # feeds and robots.txt count too
    busiest = max(sum(1 for t in every if s <= t <= s + 1.0) for s in every)
    assert busiest <= 1 + 5  # burst + rate: every request took a token as it was sent
    assert arrivals[-1] - arrivals[0] >= (len(stories) - 1) / 5 - 0.5
    # Celery's "Retry in" lines are debug-level now: the politeness deferrals counter says it
    client = redis.Redis.from_url(E2E_REDIS_URL)
    retries = int(client.hget(Keys().metrics("deferrals"), "127.0.0.1") or 0)
    client.close()
    # Deferred, not failed; waiters are spread at the host's rate, so few come back twice.
    assert 0 < retries <= 2 * len(stories)


def test_a_page_that_keeps_failing_falls_back_to_the_feeds_content(
    pipeline_env, http_server, store_url
):
    env, procs = pipeline_env
    procs.env.update(
        NEWS_FETCH_RETRIES="2", NEWS_FETCH_RETRY_BACKOFF="0.2", NEWS_VISIBILITY_TIMEOUT="5"
    )
    stories = serve_site(http_server, rss_count=3, atom_count=1)
    broken = stories[0]
    http_server.route(f"/news/{broken.slug}.html", Reply(503, {"Content-Type": "text/html"}, "x"))
    procs.start_worker()
    procs.start_beat()
    wait_until(lambda: len(read_articles(store_url)) >= len(stories), 60, "every story", procs)
    from_feed = next(a for a in read_articles(store_url) if a.title == broken.title)
    assert from_feed.body == broken.paragraphs[0]  # the RSS item's description
    assert len(http_server.hits(f"/news/{broken.slug}.html")) == 3  # first try + 2 retries
