"""The pure helpers of the task shells: back-off and the delays Celery is given."""

from __future__ import annotations

import json
import random

import pytest

from config.settings import load_settings
from tasks.jobs import RETRY_CAP, backoff, countdown


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for tries, step in ((0, 30), (1, 60), (2, 120), (20, RETRY_CAP)):
        assert step / 2 <= backoff(tries, 30.0, rng) <= step


def test_countdowns_stay_under_the_visibility_timeout_and_the_cap():
    settings = load_settings({}, visibility_timeout=3600)
    assert countdown(1e12, settings) == RETRY_CAP * 0.5  # a Retry-After of 30,000 years
    assert countdown(10.0, settings) == 10.0
    assert countdown(0.0, settings) == 0.5
    short = load_settings({}, visibility_timeout=10)
    assert countdown(600.0, short) == 5.0  # woken early, the task waits again: never run twice


@pytest.fixture
def worker_resources(monkeypatch, keys, tmp_path):
    """This process's clients, as a worker's, on the tests' Redis under the test's prefix."""
    from tests.conftest import TEST_REDIS_URL
    from worker import lifetime

    monkeypatch.setenv("NEWS_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("NEWS_REDIS_PREFIX", keys.prefix)
    monkeypatch.setenv("NEWS_STORE_URL", f"sqlite:///{tmp_path}/a.db")
    yield lifetime.reset()
    lifetime.reset()


@pytest.mark.integration
def test_an_entry_that_keeps_killing_its_worker_is_given_up(worker_resources, redis_client, keys):
    from tasks.jobs import MAX_CRASHES, ingest_entry
    from tasks.models import FeedEntry

    entry = FeedEntry(key="poison", feed_id="f", feed_url="http://f/", link="http://127.0.0.1:9/x")
    redis_client.set(keys.crashes("poison"), MAX_CRASHES)  # three runs that never ended
    assert ingest_entry(entry.to_dict()) == "failed"
    (record,) = [json.loads(x) for x in redis_client.lrange(keys.failed, 0, -1)]
    assert record["entry"]["key"] == "poison"
    assert record["error"]["message"] == f"killed its worker {MAX_CRASHES} times"
    assert not redis_client.exists(keys.crashes("poison"))


def test_a_dead_workers_messages_come_back_within_vt_and_two_scans():
    from worker.app import transport_options

    for vt, scan in ((30, 3), (8, 1), (3600, 5)):
        options = transport_options(load_settings({}, visibility_timeout=vt))
        assert options["visibility_timeout"] == vt
        assert options["unacked_restore_interval"] == scan
        assert options["unacked_restore_throttle"] == 1
        assert options["unacked_mutex_expire"] == max(2, scan)  # not kombu's 300 s
