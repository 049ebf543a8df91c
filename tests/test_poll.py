"""poll_feed end to end: the real HttpClient against a local server, a real Redis registry and
SeenIndex: 200 then 304, unchanged bodies, 429 + Retry-After, back-off and recovery,
permanent redirects, re-crawl, network down."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from config.feeds import FeedSource
from config.settings import load_settings
from tasks.dedupe.seen import SeenIndex
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import HostBudget
from tasks.poll.registry import FeedRegistry
from tasks.poll.stage import poll_feed
from tests.httpserver import Reply

pytestmark = pytest.mark.integration
RSS = (Path(__file__).parent / "feeds" / "rss20.xml").read_bytes()
XML = {"Content-Type": "application/rss+xml; charset=utf-8"}
NOW = 1_700_000_000.0


class Zero(random.Random):
    def random(self) -> float:  # no jitter: exact schedules
        return 0.0


@pytest.fixture
def env(redis_client, keys):
    settings = load_settings(
        {}, fetch_allow_private=True, fetch_retries=0, fetch_deadline=5.0, fetch_connect_timeout=2.0
    )
    http = HttpClient(settings)
    registry = FeedRegistry(redis_client, keys, settings)
    seen = SeenIndex(redis_client, keys, settings.seen_ttl)

    def poll(feed: FeedSource, now: float, **kw):
        return poll_feed(
            feed,
            http=http,
            registry=registry,
            seen=seen,
            settings=settings,
            now=now,
            rng=Zero(),
            **kw,
        )

    yield poll, registry, seen
    http.close()


def add(registry: FeedRegistry, url: str, feed_id: str = "ex") -> FeedSource:
    feed = FeedSource(feed_id, feed_id.title(), url)
    registry.sync([*registry.feeds(), feed], NOW)
    return feed


def etag_route(body: bytes, etag: str = '"v1"'):
    def handle(req):
        if req.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(
            200, {**XML, "ETag": etag, "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}, body
        )

    return handle


def test_200_then_304(env, http_server):
    poll, registry, _ = env
    http_server.route("/feed.xml", etag_route(RSS))
    feed = add(registry, http_server.url("/feed.xml"))
    first = poll(feed, NOW)
    assert first.status == "ok" and first.feed_title == "Example & Co News"
    assert [e.title for e in first.entries] == [
        "Oldest story",
        "Middle story",
        "Newest: markets rally",
    ]
    second = poll(feed, NOW + 60)
    assert second.status == "not_modified" and second.entries == []
    hits = http_server.hits("/feed.xml")
    assert len(hits) == 2 and "if-none-match" not in hits[0].headers
    assert hits[1].headers["if-none-match"] == '"v1"'
    assert hits[1].headers["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    state = registry.state("ex")
    assert (state.etag, state.last_status, state.entries_seen, state.last_success) == (
        '"v1"',
        "not_modified",
        3,
        NOW + 60,
    )
    assert registry.next_poll("ex") == second.next_poll_at == NOW + 60 + 5400  # <ttl>90</ttl>


def test_same_body_is_not_parsed_again_and_seen_entries_are_skipped(env, http_server):
    poll, registry, seen = env
    http_server.route("/plain.xml", Reply(200, XML, RSS))  # no validators at all
    feed = add(registry, http_server.url("/plain.xml"))
    first = poll(feed, NOW)
    assert poll(feed, NOW + 10).status == "unchanged"
    seen.mark_many([e.key for e in first.entries[:2]], NOW)
    http_server.route("/plain.xml", Reply(200, XML, RSS.replace(b"Plain summary.", b"Edited.")))
    third = poll(feed, NOW + 20)
    assert [e.title for e in third.entries] == ["Newest: markets rally"]
    recrawl = poll(feed, NOW + 30, recrawl=True)
    assert len(recrawl.entries) == 3 and all(e.recrawl for e in recrawl.entries)


def test_429_with_retry_after(env, http_server):
    poll, registry, _ = env
    http_server.route("/busy.xml", Reply(429, {"Retry-After": "20000"}, b"slow down"))
    feed = add(registry, http_server.url("/busy.xml"))
    result = poll(feed, NOW)
    assert result.status == "error"
    assert (result.error["status"], result.error["retry_after"]) == (429, 20000.0)
    assert result.next_poll_at == NOW + 20000  # longer than the back-off (3600): Retry-After wins
    state = registry.state("ex")
    assert (state.error_count, state.error_status, state.error_since) == (1, 429, NOW)


def test_three_failures_then_recovery(env, http_server):
    poll, registry, _ = env
    http_server.route("/flaky.xml", Reply(503, {}, b"down"))
    feed = add(registry, http_server.url("/flaky.xml"))
    delays = []
    for n in range(3):
        now = NOW + n * 100_000
        result = poll(feed, now)
        delays.append(result.next_poll_at - now)
    assert delays == [3600, 7200, 14400]  # 1800 s doubled per error
    state = registry.state("ex")
    assert (state.error_count, state.error_kind, state.error_since) == (3, "http_transient", NOW)
    assert state.error_message == "HTTP 503"
    http_server.route("/flaky.xml", Reply(200, XML, RSS))
    ok = poll(feed, NOW + 400_000)
    assert ok.status == "ok" and ok.next_poll_at - (NOW + 400_000) == 5400
    assert registry.state("ex").error_count == 0 and registry.state("ex").error_since is None


def test_permanent_redirect_is_remembered_temporary_is_not(env, http_server):
    poll, registry, _ = env
    http_server.route("/old.xml", Reply(301, {"Location": "/tmp.xml"}))
    http_server.route("/tmp.xml", Reply(302, {"Location": "/new.xml"}))
    http_server.route("/new.xml", etag_route(RSS))
    feed = add(registry, http_server.url("/old.xml"))
    assert poll(feed, NOW).status == "ok"
    state = registry.state("ex")
    assert state.moved_to == http_server.url("/tmp.xml") and state.moved_from == feed.url
    assert poll(feed, NOW + 10).status == "not_modified"
    assert len(http_server.hits("/old.xml")) == 1 and len(http_server.hits("/tmp.xml")) == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network_down_does_not_count_errors(env, http_server):
    poll, registry, _ = env
    port = _closed_port()
    feeds = [add(registry, f"http://127.0.0.{i}:{port}/rss", f"f{i}") for i in range(1, 6)]
    results = [poll(f, NOW + i) for i, f in enumerate(feeds)]
    assert [r.error["kind"] for r in results] == ["connect"] * 5
    assert [registry.state(f.id).error_count for f in feeds] == [1, 1, 1, 0, 0]
    assert registry.network_is_down()
    http_server.route("/ok.xml", Reply(200, XML, RSS))
    assert poll(add(registry, http_server.url("/ok.xml")), NOW + 10).status == "ok"
    assert not registry.network_is_down()
    assert poll(feeds[4], NOW + 20).status == "error"
    assert registry.state("f5").error_count == 1  # counted again


def test_emit_runs_before_the_state_is_saved(env, http_server):
    poll, registry, _ = env
    http_server.route("/e.xml", etag_route(RSS))
    feed = add(registry, http_server.url("/e.xml"))

    def broken(entries):
        raise RuntimeError("broker down")

    with pytest.raises(RuntimeError):
        poll(feed, NOW, emit=broken)
    assert registry.state("ex").etag is None  # nothing advanced
    got = []
    result = poll(feed, NOW + 10, emit=got.extend)
    assert result.status == "ok" and got == result.entries and len(got) == 3
    assert http_server.hits("/e.xml")[1].headers.get("if-none-match") is None


def test_a_huge_feed_gives_only_its_newest_entries(redis_client, keys, http_server):
    items = "".join(
        f"<item><guid>n{i}</guid><link>/s/{i}</link><title>Story {i}</title>"
        f"<pubDate>Mon, 01 Jan 2024 {i // 60:02d}:{i % 60:02d}:00 GMT</pubDate></item>"
        for i in range(300)
    )
    body = f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    http_server.route("/big.xml", Reply(200, XML, body))
    settings = load_settings({}, fetch_allow_private=True, feed_max_entries=50)
    registry = FeedRegistry(redis_client, keys, settings)
    feed = add(registry, http_server.url("/big.xml"))
    http = HttpClient(settings)
    result = poll_feed(
        feed,
        http=http,
        registry=registry,
        seen=SeenIndex(redis_client, keys, 60),
        settings=settings,
        now=NOW,
        rng=Zero(),
    )
    http.close()
    assert [e.title for e in result.entries] == [f"Story {i}" for i in range(250, 300)]


def test_an_unexpected_crash_is_a_backed_off_feed_error(env, http_server, monkeypatch, caplog):
    poll, registry, _ = env
    http_server.route("/odd.xml", Reply(200, XML, RSS))
    feed = add(registry, http_server.url("/odd.xml"))

    def crash(*args, **kwargs):
        raise AttributeError("'int' object has no attribute 'strip'")

    monkeypatch.setattr("tasks.poll.stage.parse_feed", crash)
    with caplog.at_level("ERROR", logger="tasks.poll.stage"):
        result = poll(feed, NOW)
    assert result.status == "error" and result.error["kind"] == "feed"
    assert "AttributeError" in result.error["message"]
    assert result.next_poll_at == NOW + 3600  # backed off like any error
    state = registry.state("ex")
    assert (state.error_count, state.error_kind) == (1, "feed")
    assert "AttributeError" in state.error_message
    assert f"feed=ex url={feed.url}" in caplog.text and "Traceback" in caplog.text


def test_a_feed_on_a_host_over_budget_is_deferred_not_failed(redis_client, keys, http_server):
    http_server.route("/feed.xml", etag_route(RSS))
    settings = load_settings({}, fetch_allow_private=True, host_rate=0.01, host_burst=1)
    budget = HostBudget(redis_client, keys, settings)
    http = HttpClient(settings, budget=budget)
    registry = FeedRegistry(redis_client, keys, settings)
    feed = add(registry, http_server.url("/feed.xml"))
    budget.take(http_server.url("/page.html"))  # a page of the same host took the only token

    def poll():
        seen = SeenIndex(redis_client, keys, 60)
        return poll_feed(
            feed, http=http, registry=registry, seen=seen, settings=settings, now=NOW, rng=Zero()
        )

    result = poll()
    http.close()
    assert result.status == "deferred" and result.error["kind"] == "host_busy"
    assert http_server.hits("/feed.xml") == []  # no request was sent over the budget
    state = registry.state("ex")
    assert state.error_count == 0 and state.error_kind is None  # not a feed error
    assert 90 < result.next_poll_at - NOW <= 100  # when the host has a token again
