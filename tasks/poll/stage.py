"""One feed poll, top to bottom, and the beat tick that finds the feeds to poll.

``poll_feed``: conditional GET (ETag / Last-Modified) -> 304 or the same body as last time
ends here without parsing -> parse -> keep the entries not seen yet -> update the FeedState
(validators, errors, interval, a permanent redirect) -> reschedule. Expected failures
(IngestError) are a PollResult with status "error" and a backed-off schedule, never raised;
so is any other exception of the fetch-parse-check steps (logged with its traceback and
recorded as a FeedError), so a broken feed never crashes the poll task nor escapes back-off.

``tick``: re-sync the feeds file when it changed, then claim the due feeds atomically.

Clients (http, registry, seen) are passed in; this module never imports Celery.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from config.feeds import FeedsFileError, FeedSource, read_feeds_file
from config.settings import Settings
from tasks.errors import ConnectError, FeedError, HostBusy, IngestError
from tasks.feed.parse import ParsedFeed, parse_feed
from tasks.feed.text import timestamp
from tasks.formats import host_of
from tasks.models import FeedEntry, FetchedPage
from tasks.poll.registry import FeedRegistry
from tasks.poll.schedule import (
    FeedState,
    after_error,
    after_success,
    header_hint,
    merge_entry_times,
    next_poll_at,
    normal_interval,
)

log = logging.getLogger(__name__)

PERMANENT_REDIRECTS = (301, 308)
HOST_BUSY_DELAY = 60.0  # seconds a poll deferred by politeness waits, when no Retry-After


@dataclass(frozen=True)
class PollResult:
    feed_id: str
    status: str  # "ok" | "not_modified" | "unchanged" | "error" | "deferred"
    entries: list[FeedEntry] = field(default_factory=list)  # new entries, oldest first
    error: dict | None = None
    next_poll_at: float = 0.0
    feed_title: str | None = None


def poll_feed(
    feed: FeedSource,
    *,
    http,
    registry: FeedRegistry,
    seen,
    settings: Settings,
    now: float,
    recrawl: bool = False,
    rng: random.Random | None = None,
    emit: Callable[[list[FeedEntry]], object] | None = None,
) -> PollResult:
    """Poll one feed; see the module docstring. ``rng`` makes the jitter reproducible.

    ``emit(new_entries)`` is called before the state is saved: if it fails, the body hash
    and validators are not advanced, so the next poll hands the same entries out again
    instead of skipping them as "unchanged".
    """
    run = _Poll(feed, registry, settings, now, (rng or random).random())
    state = registry.state(feed.id)
    url = state.poll_url(feed)
    try:
        page = http.get(url, kind="feed", headers=conditional_headers(state, recrawl))
        if page.status == 304:
            return run.finish(state, page, "not_modified")
        body_hash = hashlib.sha256(page.body).hexdigest()[:32]
        if not recrawl and body_hash == state.body_hash:
            return run.finish(state, page, "unchanged")
        parsed = parse_feed(
            page.body,
            url=page.url,
            headers=page.headers,
            feed=feed,
            max_entries=settings.feed_max_entries,
        )
        entries = newest(parsed.entries, settings.feed_max_entries, feed.id)
        new = _new_entries(entries, seen, now, recrawl)
    except HostBusy as exc:
        return run.deferred(state, exc)
    except IngestError as exc:
        return run.failed(state, exc, url)
    except Exception as exc:  # noqa: BLE001 - last resort: a broken feed never crashes the poll
        log.exception("poll crashed feed=%s url=%s", feed.id, url)
        return run.failed(state, FeedError(f"unexpected {type(exc).__name__}: {exc}", url=url), url)
    if parsed.bozo:
        log.warning("feed used despite errors feed=%s url=%s: %s", feed.id, page.url, parsed.bozo)
    if emit is not None and new:
        emit(new)
    return run.finish(replace(state, body_hash=body_hash), page, "ok", parsed, new)


def conditional_headers(state: FeedState, recrawl: bool = False) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the last response (RFC 9110 §13.1); none on a
    re-crawl, which must see the whole feed."""
    if recrawl:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def newest(entries: list[FeedEntry], limit: int, feed_id: str) -> list[FeedEntry]:
    """The newest ``limit`` entries (entries are oldest first): a feed of 50,000 items must not
    become 50,000 page fetches in one poll."""
    if len(entries) <= limit:
        return entries
    log.warning(
        "feed has %d entries, only the newest %d are taken feed=%s", len(entries), limit, feed_id
    )
    return entries[-limit:]


def _new_entries(entries: list[FeedEntry], seen, now: float, recrawl: bool) -> list[FeedEntry]:
    """The entries not seen yet (one round trip), or all of them, marked, on a re-crawl."""
    if recrawl:
        return [replace(e, recrawl=True) for e in entries]
    if not entries:
        return []
    unseen = set(seen.unseen([e.key for e in entries], now))
    return [e for e in entries if e.key in unseen]


@dataclass(frozen=True)
class _Poll:
    """What the end of one poll needs: the feed, where to save, the clock and the jitter."""

    feed: FeedSource
    registry: FeedRegistry
    settings: Settings
    now: float
    rand: float  # in [0, 1): this poll's jitter

    def finish(
        self,
        state: FeedState,
        page: FetchedPage,
        status: str,
        parsed: ParsedFeed | None = None,
        new: list[FeedEntry] | None = None,
    ) -> PollResult:
        """A successful poll: state updated, errors reset, next poll from rhythm and hints."""
        new = new or []
        changes = _validators(state, page) | _moved(state, self.feed, page)
        if parsed is not None:
            changes |= _parsed_changes(state, parsed, new, self.now)
        state = after_success(state, self.now, last_status=status, **changes)
        hint = header_hint(page.headers, self.now)
        interval = normal_interval(state, self.feed, self.settings, self.now, hint)
        state = replace(state, interval=interval)
        at = self.save(state, next_poll_at(state, self.settings, self.now, self.rand))
        self.registry.record_success(self.now)
        log.info(
            "polled feed=%s url=%s status=%s new=%d next_in=%.0fs",
            self.feed.id,
            page.url,
            status,
            len(new),
            at - self.now,
        )
        return PollResult(self.feed.id, status, new, None, at, state.title)

    def failed(self, state: FeedState, exc: IngestError, url: str) -> PollResult:
        """An expected failure: recorded in the state (kind, status, message, count, since),
        backed off; not counted while the network itself is down."""
        error = {**exc.to_dict(), "url": exc.url or url, "retry_after": exc.retry_after}
        down = isinstance(exc, ConnectError) and self.registry.record_connect_failure(
            host_of(url), self.now
        )
        error["network_down"] = down
        state = after_error(state, error, self.now, count=not down)
        state = replace(state, interval=normal_interval(state, self.feed, self.settings, self.now))
        at = next_poll_at(state, self.settings, self.now, self.rand, retry_after=exc.retry_after)
        self.save(state, at)
        log.warning(
            "poll failed feed=%s url=%s kind=%s status=%s errors=%d next_in=%.0fs: %s",
            self.feed.id,
            url,
            exc.kind,
            exc.status,
            state.error_count,
            at - self.now,
            exc,
        )
        return PollResult(self.feed.id, "error", [], error, at, state.title)

    def deferred(self, state: FeedState, exc: IngestError) -> PollResult:
        """The host has no rate budget now: try again soon, without counting an error."""
        at = self.save(state, self.now + (exc.retry_after or HOST_BUSY_DELAY))
        log.info("poll deferred feed=%s next_in=%.0fs: %s", self.feed.id, at - self.now, exc)
        return PollResult(self.feed.id, "deferred", [], exc.to_dict(), at, state.title)

    def save(self, state: FeedState, at: float) -> float:
        self.registry.save_state(replace(state, next_poll=at))
        self.registry.schedule(state.feed_id, at)
        return at


def _parsed_changes(state: FeedState, parsed: ParsedFeed, new: list[FeedEntry], now: float) -> dict:
    times = merge_entry_times(state.entry_times, _times(parsed, new, now))
    return {
        "title": parsed.title or state.title,
        "feed_ttl": parsed.ttl,
        "entries_seen": state.entries_seen + len(new),
        "entry_times": times,
    }


def _validators(state: FeedState, page: FetchedPage) -> dict:
    """ETag / Last-Modified of this response; a 304 without them keeps the old ones."""
    etag = page.headers.get("etag")
    modified = page.headers.get("last-modified")
    if page.status == 304:
        return {"etag": etag or state.etag, "last_modified": modified or state.last_modified}
    return {"etag": etag, "last_modified": modified}


def _moved(state: FeedState, feed: FeedSource, page: FetchedPage) -> dict:
    """Remember where a chain of permanent redirects (301/308, RFC 9110 §15.4) ends; a
    temporary hop stops the chain (temporary moves are followed each time, not kept)."""
    target = None
    for status, location in page.redirects:
        if status not in PERMANENT_REDIRECTS:
            break
        target = location
    if not target or target == state.moved_to:
        return {}
    log.warning("feed moved permanently feed=%s url=%s to=%s", feed.id, feed.url, target)
    return {"moved_to": target, "moved_from": feed.url}


def _times(parsed: ParsedFeed, new: list[FeedEntry], now: float) -> list[float]:
    """Published times of the document's entries; a new undated entry counts as 'now'."""
    times = [timestamp(e.published or e.updated) for e in parsed.entries]
    undated_new = [now for e in new if not (e.published or e.updated)]
    return [t for t in times if t is not None] + undated_new


# --- the beat tick -----------------------------------------------------------------------


def tick(registry: FeedRegistry, feeds_file: str, now: float, limit: int = 500) -> list[str]:
    """Re-sync the feeds file if it changed, then claim the due feeds (atomically)."""
    refresh_feeds(registry, feeds_file, now)
    return registry.claim_due(now, limit)


def file_signature(path: str) -> str:
    """path, mtime (ns) and size: a cheap 'has the feeds file changed?' test."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{os.path.abspath(path)}|missing"
    return f"{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}"


def refresh_feeds(registry: FeedRegistry, path: str, now: float) -> dict | None:
    """Sync the registry from the feeds file when its signature changed; a bad file is
    logged once and the last good list stays in force; a bad entry is refused alone (logged
    once, its last good version kept). Returns the sync counts, if any."""
    signature = file_signature(path)
    if registry.synced_file().get("signature") == signature:
        return None
    try:
        load = read_feeds_file(path)
    except FeedsFileError as exc:
        log.error("feeds file not loaded, the last good feed list stays in force: %s", exc)
        registry.remember_file(signature, now, error=str(exc))
        return None
    for line in load.refused:
        log.error("feeds file entry refused, its last good version stays in force: %s", line)
    counts = registry.sync(load.feeds, now, keep=load.kept)
    registry.remember_file(signature, now, refused=load.refused)
    log.info("feeds file synced path=%s %s", path, " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
