"""The database unreachable mid-run: a TCP proxy in front of PostgreSQL is cut (open
connections closed, new ones refused) for NEWS_TEST_DB_OUTAGE seconds (20 in CI; 60 gives the
same result, see docs/faults.md). Store tasks retry with back-off; no entry is marked seen
before its article is stored; everything arrives once the database is back."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from config.feeds import load_feeds
from tasks.dedupe.seen import SeenIndex
from tasks.feed.parse import parse_feed
from tasks.rediskeys import Keys
from tests.celeryproc import CeleryProcs, wait_until
from tests.conftest import TEST_POSTGRES_URL, read_articles
from tests.faults.conftest import stored_once
from tests.faults.procs import TcpProxy, pipeline_env
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

OUTAGE = float(os.environ.get("NEWS_TEST_DB_OUTAGE", "20"))


def entry_titles(feeds_file: str) -> dict[str, str]:
    """entry key -> title of every entry of the test's feeds, as the poll computes the keys."""
    titles = {}
    for feed in load_feeds(feeds_file):
        body = requests.get(feed.url, timeout=10).content
        for entry in parse_feed(body, url=feed.url, feed=feed).entries:
            titles[entry.key] = entry.title
    return titles


def seen_but_not_stored(seen: SeenIndex, titles: dict[str, str], direct_url: str) -> set[str]:
    """Entries marked seen whose article is not in the store (read seen first, then the store:
    the store commits before the mark, so a stored article is never missed)."""
    marked = {k for k in titles if seen.is_seen(k, time.time())}
    stored = {a.title for a in read_articles(direct_url)}
    return {titles[k] for k in marked if titles[k] not in stored}


def test_database_unreachable_then_back(tmp_path, http_server, pg_schema, own_redis):
    pg = urlsplit(TEST_POSTGRES_URL)
    proxy = TcpProxy(pg.port or 5432)
    direct_url = f"{TEST_POSTGRES_URL}?schema={pg_schema}"
    proxied_url = f"postgresql://{pg.username}@127.0.0.1:{proxy.port}{pg.path}?schema={pg_schema}"
    env = pipeline_env(tmp_path, http_server, own_redis.url, proxied_url, feeds_toml(http_server))
    stories = serve_site(http_server, page_delay=0.3)
    titles = entry_titles(env["NEWS_FEEDS_FILE"])
    http_server.requests.clear()
    seen = SeenIndex(own_redis.client(), Keys("news"), 86_400)
    procs = CeleryProcs(env, tmp_path)
    try:
        procs.start_worker()
        procs.start_beat()
        wait_until(lambda: len(read_articles(direct_url)) >= 3, 90, "a few stored", procs)
        proxy.cut()
        at_cut = len(read_articles(direct_url))
        cut_until = time.monotonic() + OUTAGE
        while time.monotonic() < cut_until:
            assert not seen_but_not_stored(seen, titles, direct_url)
            time.sleep(0.5)
        during = len(read_articles(direct_url))
        proxy.restore()
        wait_until(lambda: len(read_articles(direct_url)) >= len(stories), 120, "all", procs)
        assert not seen_but_not_stored(seen, titles, direct_url)
    finally:
        procs.stop_all()
        proxy.close()
    assert during == at_cut < len(stories)  # nothing reached the database while it was cut
    assert proxy.refused > 0  # the worker kept trying while cut
    logs = procs.logs(whole=True)
    tries = [int(n) for n in re.findall(r"store failed \(try (\d+)\)", logs)]
    assert tries and max(tries) >= 3, "store tasks retried more than once each"
    assert "article not stored" not in logs  # none given up on
    stored_once(direct_url, stories)
