"""Scheduling rules as tables: rhythm, bounds, hints, back-off, jitter, network down."""

from __future__ import annotations

import pytest

from config.feeds import FeedSource
from config.settings import load_settings
from tasks.feed.text import sy_seconds
from tasks.poll.schedule import (
    FeedState,
    after_error,
    after_success,
    backoff_delay,
    bounds,
    header_hint,
    jittered,
    network_down,
    next_poll_at,
    normal_interval,
    rhythm_interval,
)

S = load_settings({})  # min 300, max 86400, default 1800, error cap 86400, jitter 0.25
NOW = 1_700_000_000.0
H, D = 3600, 86_400


def feed(lo=None, hi=None):
    return FeedSource("f", "F", "https://f.example.com/rss", lo, hi)


@pytest.mark.parametrize(
    "ages, expected",
    [
        ([], None),  # nothing known
        ([H], None),  # one entry: no gap
        ([0, H, 2 * H, 3 * H], 3 * H / 4),  # hourly, sampled up to now
        ([i * 600 for i in range(100)], 99 * 600 / 100),  # busy week: the week's entries
        ([10 * D, 11 * D, 12 * D], 12 * D / 3),  # quiet: the last 20 entries, measured to now
        ([8 * D, 30 * D], 30 * D / 2),
        ([-H, 0], 1.0 / 2),  # a future date counts as now
    ],
)
def test_rhythm(ages, expected):
    assert rhythm_interval([NOW - a for a in ages], NOW) == expected


@pytest.mark.parametrize(
    "lo, hi, expected",
    [
        (None, None, (300, D)),
        (60, None, (300, D)),  # the global floor holds
        (3600, None, (3600, D)),
        (None, 600, (300, 600)),
        (None, 7 * D, (300, D)),  # the global ceiling holds
        (2 * D, None, (D, D)),
    ],
)
def test_bounds(lo, hi, expected):
    assert bounds(feed(lo, hi), S) == expected


@pytest.mark.parametrize(
    "times_ago, old_interval, lo, hi, hint, expected",
    [
        ([], None, None, None, None, 1800),  # new feed: default
        ([], 7200, None, None, None, 7200),  # no rhythm: keeps its interval
        ([0, 60, 120, 180], None, None, None, None, 300),  # very busy: clamped to 5 min
        ([0, 3 * D, 6 * D], None, None, None, None, D),  # slow: clamped to 24 h
        ([0, 60, 120, 180], None, 900, None, None, 900),  # feed's own min
        ([0, 3 * D, 6 * D], None, None, 4 * H, None, 4 * H),  # feed's own max
        ([0, H, 2 * H, 3 * H], None, None, None, 7200, 7200),  # ttl lengthens
        ([0, H, 2 * H, 3 * H], None, None, None, 60, 3 * H / 4),  # ... never shortens
        ([0, H, 2 * H, 3 * H], None, None, None, 30 * D, D),  # ... up to the max only
    ],
)
def test_normal_interval(times_ago, old_interval, lo, hi, hint, expected):
    state = FeedState("f", interval=old_interval, entry_times=tuple(NOW - t for t in times_ago))
    assert normal_interval(state, feed(lo, hi), S, NOW, hint) == expected


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, None),
        ({"cache-control": "public, max-age=3600"}, 3600),
        ({"cache-control": "no-cache"}, None),
        (
            {"expires": "Thu, 01 Jan 2026 01:00:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"},
            3600,
        ),
        ({"expires": "0"}, None),  # invalid dates mean "already expired": no hint
    ],
)
def test_header_hint(headers, expected):
    assert header_hint(headers, NOW) == expected


@pytest.mark.parametrize(
    "period, frequency, expected",
    [
        ("hourly", "1", 3600),
        ("daily", "4", 21600),
        ("weekly", None, 7 * D),
        ("bogus", "2", None),
        (None, None, None),
        ("daily", "x", D),
    ],
)
def test_sy(period, frequency, expected):
    assert sy_seconds(period, frequency) == expected


@pytest.mark.parametrize(
    "errors, interval, expected",
    [
        (1, 1800, 3600),
        (2, 1800, 7200),
        (3, 1800, 14400),
        (6, 1800, D),
        (40, 1800, D),
        (1, 2 * D, 2 * D),
    ],
)
def test_backoff(errors, interval, expected):
    assert backoff_delay(interval, errors, S) == expected


@pytest.mark.parametrize(
    "errors, rand, retry_after, expected",
    [
        (0, 0.0, None, 1800),
        (0, 0.5, None, 1800 * 1.125),
        (0, 0.999, None, 1800 * (1 + 0.25 * 0.999)),
        (2, 0.0, None, 7200),
        (2, 1.0, None, 9000),
        (0, 0.0, 5000, 5000),  # Retry-After defers at least that long
        (0, 0.0, 60, 1800),  # ... but never brings the poll forward
        (0, 0.0, 10 * D, D),  # ... capped at the error cap
        (6, 0.0, None, D),  # back-off capped ...
        (6, 1.0, None, D),  # ... jitter included
        (5, 1.0, None, 72000),  # 1800 * 32 = 57600 s, +25 % jitter, below the cap
    ],
)
def test_next_poll_at(errors, rand, retry_after, expected):
    state = FeedState("f", interval=1800, error_count=errors)
    assert next_poll_at(state, S, NOW, rand, retry_after=retry_after) == pytest.approx(
        NOW + expected
    )


def test_jitter_is_a_share():
    assert [jittered(100, 0.25, r) for r in (0, 0.5, 1)] == [100, 112.5, 125]


def test_errors_recorded_then_reset():
    error = {"kind": "http_transient", "status": 503, "message": "HTTP 503"}
    s1 = after_error(FeedState("f"), error, NOW)
    s2 = after_error(s1, error, NOW + 60)
    assert (s2.error_count, s2.error_since, s2.error_status, s2.error_kind) == (
        2,
        NOW,
        503,
        "http_transient",
    )
    s3 = after_error(s2, {"kind": "connect", "message": "down"}, NOW + 120, count=False)
    assert s3.error_count == 2 and s3.error_kind == "connect"
    ok = after_success(s3, NOW + 200, last_status="ok")
    assert (ok.error_count, ok.error_since, ok.error_kind, ok.last_success) == (
        0,
        None,
        None,
        NOW + 200,
    )


def test_state_round_trip():
    state = FeedState("f", etag='"x"', interval=1800.5, error_count=3, entry_times=(1.0, 2.0))
    raw = {k.encode(): v.encode() for k, v in state.to_hash().items()}
    assert FeedState.from_hash("f", raw) == state


@pytest.mark.parametrize(
    "failures, last_ok, expected",
    [
        ({"a": NOW - 1, "b": NOW - 2, "c": NOW - 3, "d": NOW - 4}, None, True),
        ({"a": NOW - 1, "b": NOW - 2, "c": NOW - 3}, None, False),  # too few hosts
        ({"a": NOW - 1, "b": NOW - 2, "c": NOW - 3, "d": NOW - 4}, NOW - 2, False),  # success since
        ({"a": NOW - 1, "b": NOW - 2, "c": NOW - 3, "d": NOW - 999}, None, False),  # too old
    ],
)
def test_network_down(failures, last_ok, expected):
    assert network_down(failures, last_ok, NOW) is expected
