"""FeedRegistry against a real Redis: sync, the atomic claim (two concurrent ticks), O(due)
ticks with 10,000 feeds, feed states, the network-down detector, the feeds-file tick."""

from __future__ import annotations

import random
import statistics
import threading
import time

import pytest
import redis

from config.feeds import FeedSource
from config.settings import load_settings
from tasks.poll.registry import NEW_FEED_SPREAD, FeedRegistry
from tasks.poll.schedule import FeedState
from tasks.poll.stage import tick
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration
S = load_settings({})
NOW = 1_700_000_000.0


class CountingRedis(redis.Redis):
    """A client counting the commands it sends (pipelines count once per command too)."""

    sent = 0

    def execute_command(self, *args, **options):
        self.sent += 1
        return super().execute_command(*args, **options)


def feeds(n: int, **kw) -> list[FeedSource]:
    return [
        FeedSource(f"f{i}", f"Feed {i}", f"https://h{i}.example.com/rss", **kw) for i in range(n)
    ]


def registry(client, keys, seed=1) -> FeedRegistry:
    return FeedRegistry(client, keys, S, rng=random.Random(seed))


def test_sync_adds_changes_disables_removes(redis_client, keys):
    reg = registry(redis_client, keys)
    assert reg.sync(feeds(3), NOW)["added"] == 3
    due = reg.scheduled()
    assert set(due) == {"f0", "f1", "f2"}
    assert all(NOW <= at <= NOW + NEW_FEED_SPREAD for at in due.values())
    reg.schedule("f1", NOW + 999)
    changed = [feeds(3)[0], FeedSource("f1", "Feed 1", "https://moved.example.com/rss")]
    counts = reg.sync(
        [*changed, FeedSource("f2", "Feed 2", "https://h2.example.com/rss", enabled=False)], NOW
    )
    assert (counts["unchanged"], counts["changed"], counts["disabled"]) == (1, 1, 1)
    assert reg.scheduled() == {"f0": due["f0"], "f1": NOW}  # new URL: due now; f2 unscheduled
    assert reg.feed("f2").enabled is False
    reg.save_state(FeedState("f0", etag='"e"', error_count=2))
    assert reg.sync([changed[1]], NOW)["removed"] == 2
    assert set(reg.scheduled()) == {"f1"} and reg.feed("f0") is None
    assert reg.state("f0").etag == '"e"'  # state kept: re-adding resumes the history


def test_claim_takes_due_feeds_once(redis_client, keys):
    reg = registry(redis_client, keys)
    reg.sync(feeds(4), NOW)
    for i, at in enumerate([NOW - 10, NOW - 5, NOW + 100, NOW + 200]):
        reg.schedule(f"f{i}", at)
    assert reg.claim_due(NOW) == ["f0", "f1"]
    assert reg.claim_due(NOW) == []  # leased
    assert reg.next_poll("f0") == NOW + reg.lease
    # a lost poll comes back after the lease (f2, f3 simply came due meanwhile)
    assert reg.claim_due(NOW + reg.lease) == ["f2", "f3", "f0", "f1"]


def test_two_concurrent_ticks_never_claim_a_feed_twice(redis_client, keys):
    FeedRegistry(redis_client, keys, S).sync(feeds(2000), NOW - 100)
    claimed: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def beat(n: int) -> None:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        reg = FeedRegistry(client, keys, S)
        start.wait()
        while batch := reg.claim_due(NOW, limit=50):
            claimed[n].extend(batch)
        client.close()

    threads = [threading.Thread(target=beat, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = claimed[0] + claimed[1]
    assert len(everything) == 2000 and len(set(everything)) == 2000
    assert claimed[0] and claimed[1]  # both ticks really ran at the same time


def _median_claim(reg: FeedRegistry, due_ids: list[str], runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        for i in due_ids:
            reg.schedule(i, NOW - 1)
        t = time.perf_counter()
        assert sorted(reg.claim_due(NOW)) == sorted(due_ids)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_a_tick_costs_o_due_not_o_all(redis_client, keys, tmp_path):
    client = CountingRedis.from_url(TEST_REDIS_URL)
    reg = FeedRegistry(client, keys, S)
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text("")
    tick(reg, str(feeds_file), NOW - 500)  # the first tick syncs the (empty) file
    reg.sync(feeds(10_000), NOW - 1000)
    pipe = client.pipeline()
    for i in range(10_000):
        pipe.zadd(keys.schedule, {f"f{i}": NOW + 3600 + i})
    pipe.execute()
    due = ["f7", "f70", "f700", "f7000", "f9999"]
    for i in due:
        reg.schedule(i, NOW - 1)
    before = client.sent
    assert sorted(tick(reg, str(feeds_file), NOW)) == sorted(due)
    assert client.sent - before == 2  # HGETALL of the file signature + one EVALSHA
    big = _median_claim(reg, due)
    small_keys = type(keys)(keys.prefix + "-small")
    small = FeedRegistry(client, small_keys, S)
    small.sync(feeds(10), NOW - 1000)
    for i in range(10):
        small.schedule(f"f{i}", NOW + 3600)
    try:
        small_time = _median_claim(small, ["f1", "f2", "f3", "f4", "f5"])
    finally:
        client.delete(small_keys.schedule, small_keys.feeds)
    print(f"claim of 5 due: 10,000 feeds {big * 1e6:.0f} us, 10 feeds {small_time * 1e6:.0f} us")
    assert big < 5 * small_time + 0.002  # O(N) would be ~1000x the small registry


def test_state_round_trip_and_none_fields_deleted(redis_client, keys):
    reg = registry(redis_client, keys)
    state = FeedState("f", etag='"a"', error_message="boom", error_count=1, entry_times=(1.0,))
    reg.save_state(state)
    assert reg.state("f") == state
    reg.save_state(FeedState("f", etag='"b"'))
    assert reg.state("f") == FeedState("f", etag='"b"')
    assert reg.states(["f", "g"]) == {"f": FeedState("f", etag='"b"'), "g": FeedState("g")}


def test_network_down_needs_many_hosts_and_clears_on_success(redis_client, keys, caplog):
    reg = registry(redis_client, keys)
    assert [reg.record_connect_failure(h, NOW + i) for i, h in enumerate("abc")] == [False] * 3
    assert reg.record_connect_failure("d", NOW + 3) is True
    assert reg.record_connect_failure("e", NOW + 4) is True
    assert sum("NETWORK DOWN" in r.message for r in caplog.records) == 1  # logged once
    reg.record_success(NOW + 5)
    assert not reg.network_is_down()
    assert reg.record_connect_failure("f", NOW + 6) is False


def test_tick_follows_the_feeds_file(redis_client, keys, tmp_path, caplog):
    reg = registry(redis_client, keys)
    path = tmp_path / "feeds.toml"
    path.write_text('[[feeds]]\nname = "One"\nurl = "https://one.example.com/rss"\n')
    assert tick(reg, str(path), NOW + 100) == []  # new feeds are due within NEW_FEED_SPREAD
    assert tick(reg, str(path), NOW + 100 + NEW_FEED_SPREAD) == ["one"]
    path.write_text(
        '[[feeds]]\nname = "Two"\nurl = "https://two.example.com/rss"\n'
        '[[feeds]]\nname = "Three"\nurl = "https://three.example.com/rss"\n'
    )
    tick(reg, str(path), NOW + 200)
    assert sorted(tick(reg, str(path), NOW + 200 + NEW_FEED_SPREAD)) == ["three", "two"]
    assert reg.feed("one") is None and "one" not in reg.scheduled()
    path.write_text("[[feeds]\nbroken")
    tick(reg, str(path), NOW + 300)
    tick(reg, str(path), NOW + 301)
    assert sum("last good feed list" in r.message for r in caplog.records) == 1
    assert {f.id for f in reg.feeds()} == {"two", "three"}
    assert "not valid TOML" in reg.synced_file()["error"]
