"""The commands that start work name feeds as the running service knows them (its registry in
Redis, synced from its own feeds file), and refuse unknown ones with one line."""

from __future__ import annotations

import pytest

from config.feeds import FeedSource
from config.settings import load_settings
from tasks.poll.registry import FeedRegistry
from tests.conftest import TEST_REDIS_URL
from worker.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def service(monkeypatch, redis_client, keys, tmp_path):
    monkeypatch.setenv("NEWS_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("NEWS_REDIS_PREFIX", keys.prefix)
    monkeypatch.setenv("NEWS_FEEDS_FILE", str(tmp_path / "not-the-services-file.toml"))
    registry = FeedRegistry(redis_client, keys, load_settings({}))
    registry.sync([FeedSource("world", "World News", "https://a.example.com/rss")], 1e9)
    return registry


def test_an_unknown_feed_is_refused(service, capsys):
    assert main(["recrawl", "--feed", "Sport", "--no-wait"]) == 2
    assert capsys.readouterr().err.strip() == "newsworker: the service has no feed named 'Sport'"
    assert main(["poll", "Sport"]) == 2


def test_feeds_are_found_by_name_or_id(service, capsys, redis_client):
    redis_client.delete("feeds")  # the broker's queue in the tests' database
    assert main(["poll", "world news", "world"]) == 0
    assert "2 poll(s) sent" in capsys.readouterr().err
    assert redis_client.llen("feeds") == 2
    redis_client.delete("feeds")


def test_retry_failed_resends_entries_and_articles_once(service, capsys, redis_client, keys):
    import json

    redis_client.delete("pages", "store")
    failed = [
        {
            "entry": {"key": "k1", "feed_id": "world", "feed_url": "u", "link": "http://x/1"},
            "error": {"kind": "not_found"},
        },
        {"article": {"id": "a1", "title": "t"}, "entry_key": "k2", "error": {"kind": "store"}},
    ]
    redis_client.rpush(keys.failed, *(json.dumps(f) for f in failed))
    assert main(["retry-failed"]) == 0
    assert "2 failed entries sent again" in capsys.readouterr().err
    assert redis_client.llen("pages") == 1 and redis_client.llen("store") == 1
    assert redis_client.llen(keys.failed) == 0
    assert main(["retry-failed"]) == 0  # nothing left: nothing sent twice
    assert redis_client.llen("pages") == 1
    redis_client.delete("pages", "store")
