"""After a network outage the feeds that failed during it are polled again within about a
minute, not after their error back-off: real polls (HttpClient, local server, real Redis),
the real beat tick."""

from __future__ import annotations

import random
import socket

import pytest

from config.feeds import FeedSource
from config.settings import load_settings
from tasks.dedupe.seen import SeenIndex
from tasks.fetch.http import HttpClient
from tasks.poll.registry import NETWORK_PROBE, REPOLL_SPREAD, FeedRegistry
from tasks.poll.stage import poll_feed, tick
from tests.httpserver import Reply
from tests.test_poll import RSS, XML, Zero

pytestmark = pytest.mark.integration
NOW = 1_700_000_000.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def world(redis_client, keys, http_server, tmp_path):
    settings = load_settings(
        {}, fetch_allow_private=True, fetch_deadline=5.0, fetch_connect_timeout=2.0
    )
    http = HttpClient(settings)
    registry = FeedRegistry(redis_client, keys, settings, rng=random.Random(3))
    seen = SeenIndex(redis_client, keys, settings.seen_ttl)
    port = closed_port()
    down = [FeedSource(f"f{i}", f"F{i}", f"http://127.0.0.{i}:{port}/rss") for i in range(1, 6)]
    http_server.route("/ok.xml", Reply(200, XML, RSS))
    ok = FeedSource("ok", "Ok", http_server.url("/ok.xml"))
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(
        "".join(
            f'[[feeds]]\nid = "{f.id}"\nname = "{f.name}"\nurl = "{f.url}"\n\n' for f in [*down, ok]
        )
    )

    def poll(feed: FeedSource, now: float):
        return poll_feed(
            feed, http=http, registry=registry, seen=seen, settings=settings, now=now, rng=Zero()
        )

    yield registry, str(feeds_file), down, ok, poll
    http.close()


def test_feeds_failed_in_an_outage_are_polled_again_within_a_minute(world):
    registry, feeds_file, down, ok, poll = world
    tick(registry, feeds_file, NOW - 301)  # synced: every feed due within a second
    assert len(tick(registry, feeds_file, NOW - 300)) == 6
    assert poll(ok, NOW - 200).status == "ok"  # before the outage
    for i, feed in enumerate(down):  # the outage: every host refuses
        assert poll(feed, NOW + i).status == "error"
    assert registry.network_is_down()
    backed_off = {f.id: registry.next_poll(f.id) for f in down}
    assert min(backed_off.values()) > NOW + 1500  # back-off or normal interval: 25 min and more

    # While down, the tick makes one feed due every NETWORK_PROBE seconds: the soonest one.
    soonest = min(registry.scheduled().items(), key=lambda item: item[1])[0]
    assert tick(registry, feeds_file, NOW + 10) == [soonest]
    assert tick(registry, feeds_file, NOW + 10 + NETWORK_PROBE / 2) == []
    assert len(tick(registry, feeds_file, NOW + 11 + NETWORK_PROBE)) == 1  # the next probe
    # the network is back: a poll succeeds ...
    back = NOW + 12 + NETWORK_PROBE
    assert poll(ok, back).status == "unchanged"  # a success: the same body as before
    assert not registry.network_is_down()
    # ... and every feed that failed during the outage is due within REPOLL_SPREAD seconds.
    again = {f.id: registry.next_poll(f.id) for f in down}
    assert all(back <= t <= back + REPOLL_SPREAD for t in again.values()), again
    assert sorted(tick(registry, feeds_file, back + REPOLL_SPREAD)) == sorted(f.id for f in down)


def test_no_probe_while_the_network_is_up(world):
    registry, feeds_file, down, ok, poll = world
    tick(registry, feeds_file, NOW - 301)
    assert len(tick(registry, feeds_file, NOW - 300)) == 6
    assert poll(ok, NOW - 200).status == "ok"
    assert poll(down[0], NOW).status == "error"  # one feed failing is the feed, not the network
    assert not registry.network_is_down()
    assert tick(registry, feeds_file, NOW + 60) == []
    assert registry.next_poll(down[0].id) > NOW + 1500  # its back-off stands
