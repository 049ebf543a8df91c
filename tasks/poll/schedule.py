"""Feed scheduling: when to poll a feed next, as pure functions of now, history, hints, errors.

Owned here: the FeedState record (what we remember about one feed between polls) and every
rule that turns it into an interval:

- rhythm: the average gap between the feed's recent entries (``rhythm_interval``);
- bounds: the feed's own min/max inside the global ``poll_min_interval .. poll_max_interval``;
- server hints (RSS ``<ttl>``, ``sy:updatePeriod``, ``Cache-Control: max-age``, ``Expires``)
  may only lengthen the interval; ``Retry-After`` defers the next poll at least that long;
- errors back off exponentially from the normal interval, capped, reset by a success;
- jitter (0..``poll_jitter``) on every interval, from an argument so tests are exact;
- the network-down detector (``network_down``).

No I/O here: Redis lives in tasks.poll.registry, HTTP in tasks.fetch.http.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from config.feeds import FeedSource
from config.settings import DAY, Settings
from tasks.formats import as_text, http_date

RHYTHM_WINDOW = 7 * DAY  # entries of the last week make the rhythm ...
RHYTHM_ENTRIES = 20  # ... or, when the week has fewer than 2, the last 20 entries
ENTRY_TIMES_KEPT = 50  # published times remembered per feed (about 11 bytes each)
NETWORK_WINDOW = 300  # seconds: connection failures older than this do not count
NETWORK_MIN_HOSTS = 4  # distinct hosts failing since the last success = network down


@dataclass(frozen=True)
class FeedState:
    """What we remember about one feed between polls (a Redis hash, see tasks.poll.registry)."""

    feed_id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    last_poll: float | None = None
    last_success: float | None = None
    last_status: str | None = None  # PollResult.status of the last poll
    next_poll: float | None = None
    interval: float | None = None  # the normal interval (no jitter, no back-off), seconds
    feed_ttl: float | None = None  # the feed's own freshness hint (<ttl>, sy:*), seconds
    error_kind: str | None = None
    error_status: int | None = None
    error_message: str | None = None
    error_count: int = 0
    error_since: float | None = None
    moved_to: str | None = None  # where a permanent redirect (301/308) sent us
    moved_from: str | None = None  # the configured URL that moved (a new URL in the file wins)
    entries_seen: int = 0  # new entries handed on, all time
    entry_times: tuple[float, ...] = field(default_factory=tuple)  # recent published times

    @property
    def failing(self) -> bool:
        return self.error_count > 0

    def poll_url(self, feed: FeedSource) -> str:
        """The URL to poll: the permanent-redirect target, unless the file changed the URL."""
        if self.moved_to and self.moved_from == feed.url:
            return self.moved_to
        return feed.url

    def to_hash(self) -> dict[str, str]:
        """Field -> string, for HSET; None fields are left out (and deleted by the caller)."""
        out = {}
        for name, value in asdict(self).items():
            if name == "entry_times":
                out[name] = json.dumps([int(t) for t in value], separators=(",", ":"))
            elif value is not None:
                out[name] = str(value)
        return out

    @classmethod
    def from_hash(cls, feed_id: str, raw: Mapping) -> FeedState:
        data = {as_text(k): as_text(v) for k, v in raw.items()}
        values: dict = {"feed_id": feed_id}
        for f in fields(cls):
            if f.name in data and f.name != "feed_id":
                values[f.name] = _convert(f.name, data[f.name])
        return cls(**values)


_FLOATS = {"last_poll", "last_success", "next_poll", "interval", "error_since", "feed_ttl"}
_INTS = {"error_status", "error_count", "entries_seen"}
_DEFAULTS = {"error_count": 0, "entries_seen": 0, "entry_times": ()}


def _convert(name: str, raw: str):
    try:
        if name in _FLOATS:
            return float(raw)
        if name in _INTS:
            return int(raw)
        if name == "entry_times":
            return tuple(float(t) for t in json.loads(raw))
    except (ValueError, TypeError):
        return _DEFAULTS.get(name)
    return raw


# --- rhythm and bounds -------------------------------------------------------------------


def rhythm_interval(entry_times: Sequence[float], now: float) -> float | None:
    """Average gap between recent entries, measured up to now (so a silent feed slows down).

    The sample is the entries of the last 7 days when there are at least 2, else the last 20
    entries. None when there are fewer than 2 dated entries (the caller keeps its interval).
    """
    times = sorted(min(t, now) for t in entry_times)
    week = [t for t in times if t >= now - RHYTHM_WINDOW]
    sample = week if len(week) >= 2 else times[-RHYTHM_ENTRIES:]
    if len(sample) < 2:
        return None
    return max(now - sample[0], 1.0) / len(sample)


def bounds(feed: FeedSource | None, settings: Settings) -> tuple[float, float]:
    """(lo, hi) seconds: the feed's own bounds, inside the global ones."""
    lo, hi = settings.poll_min_interval, settings.poll_max_interval
    if feed is not None and feed.min_interval:
        lo = min(max(lo, feed.min_interval), hi)
    if feed is not None and feed.max_interval:
        hi = max(min(hi, feed.max_interval), lo)
    return float(lo), float(hi)


def clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


# --- server hints ------------------------------------------------------------------------


def header_hint(headers: Mapping[str, str] | None, now: float) -> float | None:
    """Seconds the response says it stays fresh: Cache-Control max-age, else Expires - Date."""
    headers = headers or {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() in ("max-age", "s-maxage") and value.strip('"').isdigit():
            return float(value.strip('"'))
    expires = http_date(headers.get("expires"))
    if expires is None:
        return None
    date = http_date(headers.get("date")) or now
    return max(expires - date, 0.0)


# --- the interval ------------------------------------------------------------------------


def normal_interval(
    state: FeedState,
    feed: FeedSource | None,
    settings: Settings,
    now: float,
    hint: float | None = None,
) -> float:
    """The feed's interval without jitter or back-off: rhythm (or the last/default), bounded,
    lengthened (never shortened) by a server hint (``hint``: the response's headers;
    ``state.feed_ttl``: the feed's own <ttl> / sy:*) up to the upper bound."""
    lo, hi = bounds(feed, settings)
    base = rhythm_interval(state.entry_times, now)
    if base is None:
        base = state.interval or settings.poll_default_interval
    interval = clamp(base, lo, hi)
    hint = max(hint or 0.0, state.feed_ttl or 0.0)
    if hint:
        interval = max(interval, min(hint, hi))
    return interval


def jittered(interval: float, share: float, rand: float) -> float:
    """interval * (1 + share * rand); rand in [0, 1) comes from the caller's rng."""
    return interval * (1.0 + share * rand)


def backoff_delay(interval: float, error_count: int, settings: Settings) -> float:
    """Error n waits interval * 2**n, capped at poll_error_max_interval (never below interval)."""
    cap = max(float(settings.poll_error_max_interval), interval)
    return min(cap, interval * 2 ** min(max(error_count, 1), 30))


def next_poll_at(
    state: FeedState,
    settings: Settings,
    now: float,
    rand: float,
    *,
    retry_after: float | None = None,
) -> float:
    """When to poll next, from a state already updated by this poll (interval, error_count).

    Success: now + jittered interval. Error: exponential back-off from the interval, jittered,
    never beyond the error cap. Retry-After (429/503) defers the poll at least that long, up
    to the same cap.
    """
    interval = state.interval or float(settings.poll_default_interval)
    if not state.error_count and not retry_after:
        return now + jittered(interval, settings.poll_jitter, rand)
    cap = max(float(settings.poll_error_max_interval), interval)
    delay = backoff_delay(interval, state.error_count, settings) if state.error_count else interval
    delay = min(jittered(delay, settings.poll_jitter, rand), cap)  # the cap holds, jitter too
    return now + max(delay, min(retry_after or 0.0, cap))


# --- state transitions -------------------------------------------------------------------


def merge_entry_times(old: Sequence[float], new: Sequence[float]) -> tuple[float, ...]:
    """The last ENTRY_TIMES_KEPT distinct published times."""
    return tuple(sorted(set(old) | set(new))[-ENTRY_TIMES_KEPT:])


def after_success(state: FeedState, now: float, **changes) -> FeedState:
    """State after a successful poll: errors cleared, times stamped, ``changes`` applied."""
    return replace(
        state,
        last_poll=now,
        last_success=now,
        error_kind=None,
        error_status=None,
        error_message=None,
        error_count=0,
        error_since=None,
        **changes,
    )


def after_error(state: FeedState, error: Mapping, now: float, *, count: bool = True) -> FeedState:
    """State after a failed poll; ``count=False`` (network down) records it without counting."""
    return replace(
        state,
        last_poll=now,
        last_status="error",
        error_kind=error.get("kind"),
        error_status=error.get("status"),
        error_message=error.get("message"),
        error_count=state.error_count + (1 if count else 0),
        error_since=state.error_since or now,
    )


# --- network down ------------------------------------------------------------------------


def network_down(
    failures: Mapping[str, float],
    last_ok: float | None,
    now: float,
    *,
    window: float = NETWORK_WINDOW,
    min_hosts: int = NETWORK_MIN_HOSTS,
) -> bool:
    """True when at least ``min_hosts`` different hosts failed to connect within the window
    and no poll succeeded since: then it is our network, not the feeds."""
    since = max(now - window, last_ok or 0.0)
    return sum(1 for t in failures.values() if t > since) >= min_hosts
