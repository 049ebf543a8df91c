"""One feed entry to one article record: lease, politeness, fetch, clean, content dedupe.

This module owns the order of those steps and what each failure becomes. It receives its
services (HTTP client, politeness, seen and duplicate indexes) and returns an
:class:`IngestResult`; it never stores anything (that is `news.store_article`) and never
imports Celery. Expected outcomes are return values; transient failures are raised for the
task to retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from tasks.clean import article_from_entry, clean_html
from tasks.clean.sites import SiteRules
from tasks.dedupe.duplicates import DuplicateIndex
from tasks.dedupe.seen import SeenIndex
from tasks.errors import (
    Disallowed,
    HostBusy,
    IngestError,
    NoContentError,
    PermanentError,
    ServerError,
)
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import Politeness
from tasks.formats import iso_time
from tasks.models import Article, FeedEntry, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    article: Article | None = None  # to be stored (STORED stands for "hand to the store")
    error: IngestError | None = None
    retry_in: float | None = None  # LEASED: seconds until the lease holder is done or gone


@dataclass(frozen=True)
class IngestServices:
    """What one ingest needs, built once per worker process (tasks.services)."""

    http: HttpClient
    politeness: Politeness
    seen: SeenIndex
    duplicates: DuplicateIndex
    lease_ttl: int
    keep_duplicates: bool = True
    extra_tracking: tuple[str, ...] = ()
    sites: SiteRules | None = None  # optional per-site selectors (NEWS_SITES_FILE)


def ingest(
    entry: FeedEntry, svc: IngestServices, now: float, *, slot: bool = False
) -> IngestResult:
    """Take one entry as far as an article ready to store (see the module docstring).
    ``slot``: this run holds a request slot booked for its host (HostBusy.slot)."""
    if not svc.seen.lease(entry.key, svc.lease_ttl):
        return IngestResult(Outcome.LEASED, retry_in=float(svc.lease_ttl))
    if not entry.recrawl and svc.seen.is_seen(entry.key, now):
        svc.seen.release(entry.key)
        return IngestResult(Outcome.SEEN)
    try:
        article = build_article(entry, svc, now, slot)
    except Disallowed as exc:
        svc.seen.mark_seen(entry.key, now)  # skipped on purpose: never fetched, not retried
        svc.seen.release(entry.key)
        return IngestResult(Outcome.DISALLOWED, error=exc)
    except PermanentError as exc:  # no page and nothing in the feed (NoContentError, ...)
        svc.seen.release(entry.key)
        return IngestResult(Outcome.FAILED, error=exc)
    except BaseException:
        svc.seen.release(entry.key)  # transient: the task retries, another worker may take it
        raise
    return check_duplicate(entry, article, svc, now)


def build_article(entry: FeedEntry, svc: IngestServices, now: float, slot: bool) -> Article:
    """The page's article, or the feed entry's own content when the page fails for good.
    Not on a re-crawl: the stored article is better than the feed's teaser, so a page that
    has gone (404, 403) leaves the stored article as it is and the failure is recorded."""
    if not entry.link:
        return article_from_entry(entry, fetched_at=iso_time(now))
    try:
        return fetch_and_clean(entry, svc, now, slot)
    except (HostBusy, Disallowed):
        raise
    except IngestError as exc:
        if exc.transient or entry.recrawl:
            raise
        log.warning(
            "page failed, using the feed's content: %s feed=%s url=%s entry=%s",
            exc,
            entry.feed_id,
            entry.link,
            entry.key,
        )
        try:
            return article_from_entry(entry, fetched_at=iso_time(now))
        except NoContentError as none:  # the page's reason is the one the failed list needs
            raise NoContentError(f"{exc}; no fallback: {none}", url=entry.link) from exc


def fetch_and_clean(entry: FeedEntry, svc: IngestServices, now: float, slot: bool) -> Article:
    url = entry.link
    if not svc.politeness.allowed(url, now):
        raise Disallowed("robots.txt disallows this page", url=url)
    wait_for_slot(url, svc, now, slot)
    try:
        page = svc.http.get(url, kind="page")
    except ServerError as exc:
        if exc.retry_after:
            svc.politeness.pause(url, exc.retry_after, now)
        raise
    return clean_html(
        page.body,
        page.url,
        entry,
        encoding=page.encoding,
        fetched_at=iso_time(now),
        extra_tracking=svc.extra_tracking,
        sites=svc.sites,
    )


def wait_for_slot(url: str, svc: IngestServices, now: float, slot: bool) -> None:
    """Go on when this run may fetch from url's host now; else HostBusy with the wait (and
    whether the slot at its end is booked for us). A booked slot needs no new token."""
    if slot:
        wait, booked = svc.politeness.paused_for(url, now), False
    else:
        wait, booked = svc.politeness.reserve(url, now)
    if wait > 0:
        busy = HostBusy(
            f"host over its rate budget, next slot in {wait:.1f}s", url=url, retry_after=wait
        )
        busy.slot = booked
        raise busy


def check_duplicate(
    entry: FeedEntry, article: Article, svc: IngestServices, now: float
) -> IngestResult:
    """Content dedupe: the same story under another URL is kept as duplicate_of, or dropped."""
    earlier = svc.duplicates.find(article, now)
    if not earlier:
        return IngestResult(Outcome.STORED, article)
    if svc.keep_duplicates:
        return IngestResult(Outcome.DUPLICATE, replace(article, duplicate_of=earlier))
    svc.seen.mark_seen(entry.key, now)
    svc.seen.release(entry.key)
    log.info("duplicate dropped feed=%s url=%s of=%s", entry.feed_id, article.url, earlier)
    return IngestResult(Outcome.DROPPED_DUPLICATE)


def fallback_after_retries(entry: FeedEntry, now: float) -> Article | None:
    """When transient failures used up their retries: the entry's own content, if it has some."""
    try:
        return article_from_entry(entry, fetched_at=iso_time(now))
    except NoContentError:
        return None
