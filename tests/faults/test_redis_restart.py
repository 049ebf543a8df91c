"""Redis killed and restarted empty mid-run (a server of the test's own, no persistence):
the worker and beat reconnect by themselves, the next tick rebuilds the registry from the
unchanged feeds file, and every article ends stored exactly once."""

from __future__ import annotations

import os
import time

import pytest

from tasks.rediskeys import Keys
from tests.celeryproc import CeleryProcs, wait_until
from tests.conftest import read_articles
from tests.faults.conftest import stored_once
from tests.faults.procs import pipeline_env
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]


def test_redis_restarted_empty_mid_run(tmp_path, http_server, own_redis, sqlite_url):
    env = pipeline_env(tmp_path, http_server, own_redis.url, sqlite_url, feeds_toml(http_server))
    stories = serve_site(http_server, page_delay=0.3)
    feeds_file_stat = os.stat(env["NEWS_FEEDS_FILE"])
    procs = CeleryProcs(env, tmp_path)
    keys = Keys("news")
    try:
        worker, beat = procs.start_worker(), procs.start_beat()
        wait_until(lambda: len(read_articles(sqlite_url)) >= 4, 90, "a few stored", procs)
        own_redis.kill()
        stored_at_kill = len(read_articles(sqlite_url))
        assert stored_at_kill < len(stories)
        time.sleep(3)  # the worker and beat see the connection refused
        own_redis.start()
        client = own_redis.client()
        assert client.dbsize() == 0  # restarted empty
        wait_until(lambda: client.hlen(keys.feeds) == 2, 30, "the registry rebuilt", procs)
        wait_until(
            lambda: len(read_articles(sqlite_url)) >= len(stories), 120, "every story", procs
        )
        assert os.stat(env["NEWS_FEEDS_FILE"]).st_mtime_ns == feeds_file_stat.st_mtime_ns
        assert worker.poll() is None and beat.poll() is None  # the same processes, reconnected
        assert client.zcard(keys.schedule) == 2
        stored_once(sqlite_url, stories)
    finally:
        procs.stop_all()
