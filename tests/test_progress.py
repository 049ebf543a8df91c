"""Re-crawl progress counters (real Redis) and their rendering (pure)."""

from __future__ import annotations

import pytest

from tasks.ingest.progress import RecrawlProgress, render_progress


@pytest.mark.integration
def test_counters_follow_outcomes(redis_client, keys):
    progress = RecrawlProgress(redis_client, keys, "run-1")
    progress.start(3)
    progress.grow(2)
    for outcome in ("stored", "revised", "unchanged", "failed", "duplicate"):
        progress.add(outcome)
    assert progress.snapshot() == {
        "total": 5,
        "done": 5,
        "changed": 3,
        "unchanged": 1,
        "failed": 1,
        "remaining": 0,
        "polls": 0,
    }
    assert 0 < redis_client.ttl(keys.recrawl("run-1")) <= 7 * 86_400


@pytest.mark.integration
def test_start_resets_and_add_is_one_round_trip(redis_client, keys, monkeypatch):
    progress = RecrawlProgress(redis_client, keys, "run-2")
    progress.start(10)
    progress.add("stored")
    progress.start(4)
    sent = []
    real = redis_client.connection_pool.get_connection

    def counting(*args, **kwargs):
        sent.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(redis_client.connection_pool, "get_connection", counting)
    progress.add("unchanged")
    assert len(sent) == 1
    monkeypatch.undo()
    assert progress.snapshot() == {
        "total": 4,
        "done": 1,
        "changed": 0,
        "unchanged": 1,
        "failed": 0,
        "remaining": 3,
        "polls": 0,
    }


@pytest.mark.integration
def test_unknown_run_is_all_zero(redis_client, keys):
    snap = RecrawlProgress(redis_client, keys, "nope").snapshot()
    assert snap == dict.fromkeys(
        ("total", "done", "changed", "unchanged", "failed", "remaining", "polls"), 0
    )


def test_render_bar_on_a_terminal():
    snap = {"total": 200, "done": 50, "changed": 10, "unchanged": 38, "failed": 2, "remaining": 150}
    line = render_progress(snap, width=20, tty=True)
    assert line.startswith("[" + "\u2588" * 5 + "\u2591" * 15 + "]")
    assert "25%" in line and "50/200" in line and "10 changed" in line and "2 failed" in line
    assert "\n" not in line


def test_render_summary_without_terminal():
    snap = {"total": 4, "done": 4, "changed": 1, "unchanged": 3, "failed": 0, "remaining": 0}
    assert render_progress(snap, tty=False) == (
        "re-crawl: 4/4 done (100%), 1 changed, 3 unchanged, 0 failed, 0 remaining"
    )
    full = render_progress(snap, width=10)
    assert "\u2591" not in full and "100%" in full


def test_render_empty_run():
    line = render_progress({"total": 0, "done": 0}, width=10)
    assert line.startswith("[" + "\u2591" * 10 + "]") and "0/0" in line


def test_polls_count_off_as_they_finish(redis_client, keys):
    run = RecrawlProgress(redis_client, keys, "polls")
    run.start(0, polls=1)
    run.poll_done(more=2)  # planning queued two feed polls
    assert run.snapshot()["polls"] == 2
    run.grow(3)
    run.poll_done()
    run.poll_done()
    snap = run.snapshot()
    assert (snap["polls"], snap["total"], snap["remaining"]) == (0, 3, 3)
