"""Politeness at every instant, end to end: two real Celery workers (prefork processes and a
thread pool, many requests in flight) crawl one host whose feeds, robots.txt, redirect hops
and pages all count against one budget. The server's own request log is the judge: no 1-s
window may hold more than rate + burst requests."""

from __future__ import annotations

import pytest

from tests.celeryproc import CeleryProcs, flush_db, wait_until
from tests.conftest import E2E_REDIS_URL, read_articles
from tests.httpserver import LocalServer, Reply
from tests.newssite import SlowPage, make_story, page_html, rss

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE, BURST = 5, 5
FEEDS, PER_FEED = 6, 6
LATENCY = 0.2  # seconds each response takes: requests overlap in flight


def serve_one_host(server: LocalServer) -> tuple[str, int]:
    """FEEDS feeds of PER_FEED stories each; every story link is a 301 to its page. Returns
    the feeds file text and the number of stories."""
    base = server.url("").rstrip("/")
    feeds = []
    server.route(
        "/robots.txt", Reply(200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow:\n")
    )
    for f in range(FEEDS):
        stories = [make_story(n, f"desk{f}") for n in range(PER_FEED)]
        body = rss(stories, base).replace(f"{base}/news/", f"{base}/go/")
        server.route(f"/feed{f}.xml", Reply(200, {"Content-Type": "application/rss+xml"}, body))
        for story in stories:
            server.route(
                f"/go/{story.slug}.html", Reply(301, {"Location": f"/news/{story.slug}.html"})
            )
            server.route(f"/news/{story.slug}.html", SlowPage(page_html(story), LATENCY))
        feeds.append(f'[[feeds]]\nname = "Desk {f}"\nurl = "{server.url(f"/feed{f}.xml")}"\n')
    return "\n".join(feeds), FEEDS * PER_FEED


def busiest_window(times: list[float], width: float = 1.0) -> tuple[int, float]:
    """(most requests in any closed window [t, t + width], where it starts)."""
    times = sorted(times)
    best, at, j = 0, 0.0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j + 1 < len(times) and times[j + 1] <= start + width:
            j += 1
        if j - i + 1 > best:
            best, at = j - i + 1, start
    return best, at


def test_busiest_window_counts_a_closed_window():
    assert busiest_window([0.0, 0.5, 1.0, 1.01, 3.0]) == (3, 0.0)
    assert busiest_window([]) == (0, 0.0)


def test_no_second_holds_more_than_rate_plus_burst(tmp_path, http_server):
    feeds_text, stories = serve_one_host(http_server)
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(feeds_text)
    store_url = f"sqlite:///{tmp_path}/articles.db"
    env = {
        "NEWS_REDIS_URL": E2E_REDIS_URL,
        "NEWS_STORE_URL": store_url,
        "NEWS_FEEDS_FILE": str(feeds_file),
        "NEWS_DATA_DIR": str(tmp_path / "data"),
        "NEWS_FETCH_ALLOW_PRIVATE": "1",
        "NEWS_HOST_RATE": str(RATE),
        "NEWS_HOST_BURST": str(BURST),
        "NEWS_BEAT_TICK": "1",
    }
    flush_db(E2E_REDIS_URL)
    procs = CeleryProcs(env, tmp_path)
    try:
        procs.start_worker("prefork", concurrency=3)
        procs.start_worker("threads", concurrency=8, pool="threads")
        procs.start_beat()
        wait_until(
            lambda: len(read_articles(store_url)) >= stories, 180, "every story stored", procs
        )
    finally:
        procs.stop_all()
        flush_db(E2E_REDIS_URL)
    log = list(http_server.requests)
    paths = [r.path for r in log]
    assert len(read_articles(store_url)) == stories
    assert paths.count("/robots.txt") == 1
    assert sum(p.startswith("/feed") for p in paths) >= FEEDS
    assert sum(p.startswith("/go/") for p in paths) == stories  # every redirect hop was sent
    assert sum(p.startswith("/news/") for p in paths) == stories
    most, at = busiest_window([r.at for r in log])
    start = min(r.at for r in log)
    span = max(r.at for r in log) - start
    print(
        f"\npoliteness e2e: {len(log)} requests to one host in {span:.1f} s, rate {RATE}/s "
        f"burst {BURST}: busiest 1-s window {most} (limit {RATE + BURST}) at +{at - start:.1f} s"
    )
    assert most <= RATE + BURST, [
        (round(r.at - start, 3), r.path) for r in log if at <= r.at <= at + 1.0
    ]
    assert span >= (len(log) - BURST) / RATE - 0.5  # the budget was the limit, not luck
