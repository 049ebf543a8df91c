"""Two beats running at once (a second scheduler started by mistake): each sends its own
ticks, yet no feed is polled twice in one interval (the claim is atomic in Redis)."""

from __future__ import annotations

import time

import pytest

from tests.celeryproc import CeleryProcs, wait_until
from tests.faults.procs import pipeline_env
from tests.httpserver import LocalServer, Reply
from tests.newssite import Conditional, make_story, page_html, rss

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

FEEDS = 12
INTERVAL = 10  # seconds: each feed's min and max interval, no jitter
RUN = 32  # seconds of polling watched: three or four polls of each feed


def serve_feeds(server: LocalServer) -> str:
    """FEEDS one-story feeds; returns the feeds file."""
    base = server.url("").rstrip("/")
    tables = []
    for n in range(FEEDS):
        story = make_story(n, f"beat{n}")
        server.route(f"/feed-{n}.xml", Conditional(rss([story], base), "application/rss+xml"))
        server.route(
            f"/news/{story.slug}.html",
            Reply(200, {"Content-Type": "text/html; charset=utf-8"}, page_html(story)),
        )
        tables.append(
            f'[[feeds]]\nname = "Feed {n}"\nurl = "{server.url(f"/feed-{n}.xml")}"\n'
            f"min_interval = {INTERVAL}\nmax_interval = {INTERVAL}\n"
        )
    return "\n".join(tables)


def test_two_beats_never_poll_a_feed_twice_in_one_interval(tmp_path, http_server, own_redis):
    env = pipeline_env(
        tmp_path,
        http_server,
        own_redis.url,
        "sqlite:///" + str(tmp_path / "a.db"),
        serve_feeds(http_server),
    )
    env.update(
        NEWS_BEAT_TICK="0.5",
        NEWS_POLL_MIN_INTERVAL=str(INTERVAL),
        NEWS_POLL_JITTER="0",
        NEWS_LOG_LEVEL="debug",  # beat's per-tick lines are shown at debug only
    )
    procs = CeleryProcs(env, tmp_path)
    try:
        procs.start_worker(concurrency=4)
        procs.start_beat("beat-a")
        procs.start_beat("beat-b")
        wait_until(lambda: len(polls(http_server)) == FEEDS, 60, "every feed polled", procs)
        start = time.monotonic()
        while time.monotonic() - start < RUN:
            time.sleep(1)
            for name in ("worker", "beat-a", "beat-b"):
                assert procs.procs[name].poll() is None, procs.logs()
        logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("beat-a", "beat-b")}
    finally:
        procs.stop_all()
    for name, text in logs.items():  # both beats really ran and sent ticks
        assert text.count("Sending due task poll-due-feeds") >= RUN, name
    hits = polls(http_server)
    for path, times in hits.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= 3, (path, times)
        assert min(gaps) >= INTERVAL - 1.0, (path, gaps)


def polls(server: LocalServer) -> dict[str, list[float]]:
    """Feed path -> arrival times of its requests."""
    hits: dict[str, list[float]] = {}
    for req in list(server.requests):
        if req.path.startswith("/feed-"):
            hits.setdefault(req.path, []).append(req.at)
    return hits
