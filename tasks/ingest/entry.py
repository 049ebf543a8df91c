"""One feed entry's whole life, top to bottom: the only module that takes or gives up an
entry's lease, marks it seen, retries it, falls back to the feed's own content, or puts it
on the failed list.

    run(delivery)                               # news.ingest_entry, every try
      woke before not_before?   -> Again        # a countdown Celery had to clamp
      crashed MAX_CRASHES times -> failed       # a page that kills its worker
      lease taken by another?   -> Again        # after its lease (it ends with its holder)
      seen already?             -> Done(seen)
      fetch + clean the page
        host over budget        -> Again        # when the host has a token again
        robots.txt says no      -> Done(disallowed), seen
        transient failure       -> Again        # back-off, NEWS_FETCH_RETRIES times
        failed for good / out of retries
                                -> the feed's own content, else failed (seen, failed list)
      content dedupe            -> Store(article) | Done(dropped_duplicate), seen
    stored(article)                             # after the upsert (either task)
      remember its content, mark seen, give up the lease, forget it in flight

The lease is held from the first step to the store: renewed by this process's heartbeat
(tasks.dedupe.seen.Leases), so it outlives a killed holder by at most NEWS_LEASE_TTL. The
article goes to news.store_article (the storage task, on its own queue) and the lease is
handed over (hand_over) with it. This module returns steps; the Celery shells in
tasks.jobs turn them into retries, store tasks and counters. It never imports Celery.

Every entry is also recorded in flight (tasks.ingest.inflight) from before its first
message until its life ends: when each try ends (track), the record says when the next sign
of life is due, so the beat tick's sweep (overdue) sends again an entry whose message the
broker lost.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import redis

from tasks.clean import article_from_entry, clean_html
from tasks.clean.sites import SiteRules
from tasks.dedupe.duplicates import DuplicateIndex
from tasks.dedupe.seen import Leases, SeenIndex
from tasks.errors import (
    Disallowed,
    HostBusy,
    IngestError,
    NoContentError,
    ServerError,
    TransientError,
)
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import Politeness
from tasks.formats import iso_time
from tasks.ingest.inflight import InFlight
from tasks.models import Article, FeedEntry, Outcome
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

RETRY_CAP = 3600.0  # seconds: the longest back-off between two tries of one page
MAX_CRASHES = 3  # runs of one entry that killed their worker process before it is given up
EARLY = 0.05  # seconds: a wake-up this close to not_before counts as on time


@dataclass(frozen=True)
class EntryServices:
    """What an entry's life needs, built once per worker process (tasks.jobs.services)."""

    redis: redis.Redis  # crash counts and the failed list
    keys: Keys
    http: HttpClient
    politeness: Politeness
    seen: SeenIndex
    leases: Leases
    duplicates: DuplicateIndex
    fetch_retries: int = 5
    retry_backoff: float = 30.0
    store_handover: float = 60.0  # seconds the lease waits for the store task
    keep_duplicates: bool = True
    extra_tracking: tuple[str, ...] = ()
    sites: SiteRules | None = None  # optional per-site selectors (NEWS_SITES_FILE)
    inflight: InFlight | None = None  # the record of entries in flight; None: not kept


@dataclass(frozen=True)
class Delivery:
    """One try of an entry: what the task's arguments carry from try to try."""

    entry: FeedEntry
    run_id: str | None = None  # the re-crawl run it belongs to
    failures: int = 0  # transient failures so far
    not_before: float | None = None  # do nothing before this time (a clamped countdown)

    def to_kwargs(self) -> dict:
        return {
            "entry_data": self.entry.to_dict(),
            "run_id": self.run_id,
            "failures": self.failures,
            "not_before": self.not_before,
        }

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> Delivery:
        return cls(
            FeedEntry.from_dict(kwargs["entry_data"]),
            kwargs.get("run_id"),
            int(kwargs.get("failures") or 0),
            kwargs.get("not_before"),
        )


@dataclass(frozen=True)
class Again:
    """Run the entry again in ``delay`` seconds as ``delivery``; ``label``: what to count."""

    delay: float
    delivery: Delivery
    label: str | None = None
    busy: bool = False  # deferred because the host had no request budget


@dataclass(frozen=True)
class Store:
    """Hand the article to the store; the lease (``token``) goes with it."""

    article: Article
    token: str | None


@dataclass(frozen=True)
class Done:
    """The entry's life is over without a store: ``outcome`` is counted."""

    outcome: Outcome


Step = Again | Store | Done


def backoff(retries: int, base: float, rng: random.Random | None = None) -> float:
    """Exponential back-off (base, 2 base, 4 base, ...) with jitter between half and all of it."""
    step = min(RETRY_CAP, base * 2**retries)
    return step * (0.5 + (rng or random).random() / 2)


def later(d: Delivery, seconds: float, now: float, **changes) -> Delivery:
    """The delivery that waits ``seconds`` (however the countdown gets clamped)."""
    return replace(d, not_before=now + max(0.0, seconds), **changes)


# --- the life of one try ----------------------------------------------------------------


def run(d: Delivery, svc: EntryServices, now: float) -> Step:
    """One try of the entry (see the module docstring for the whole map)."""
    step = one_try(d, svc, now)
    track(svc, d, step, now)
    return step


def one_try(d: Delivery, svc: EntryServices, now: float) -> Step:
    if d.not_before is not None and now < d.not_before - EARLY:
        return Again(d.not_before - now, d)
    with crash_guard(svc, d.entry) as guard:
        if guard.crashed:
            return fail(svc, d.entry, guard.crashed, now)
        step = under_lease(d, svc, now)
        guard.again = isinstance(step, Again)
        return step


def under_lease(d: Delivery, svc: EntryServices, now: float) -> Step:
    token = svc.leases.take(d.entry.key)
    if token is None:  # another run has it: look again when its lease ends or lapses
        wait = min(svc.leases.ttl, svc.leases.remaining(d.entry.key) + 0.5)
        return Again(wait, later(d, wait, now))
    step: Step = Done(Outcome.FAILED)
    try:
        step = attempt(d, svc, now)
    finally:
        if not isinstance(step, Store):
            svc.leases.give_up(d.entry.key, token)
    # Store: the lease stays ours (renewed) until stored() or hand_over() ends it
    return replace(step, token=token) if isinstance(step, Store) else step


def attempt(d: Delivery, svc: EntryServices, now: float) -> Step:
    """Under the lease: take the entry as far as an article ready to store."""
    entry = d.entry
    if not entry.recrawl and svc.seen.is_seen(entry.key, now):
        return Done(Outcome.SEEN)
    try:
        article = build(entry, svc, now)
    except HostBusy as exc:  # not a failure: come back when the host has a token again
        wait = exc.retry_after or 1.0
        return Again(wait, later(d, wait, now), busy=True)
    except Disallowed:
        svc.seen.mark_seen(entry.key, now)  # skipped on purpose: never fetched, not retried
        return Done(Outcome.DISALLOWED)
    except IngestError as exc:
        return after_failure(d, svc, exc, now)
    except Exception as exc:  # a bug, a lost Redis: retried like a transient failure
        log.exception(
            "ingest crashed feed=%s url=%s entry=%s", entry.feed_id, entry.link, entry.key
        )
        return after_failure(
            d, svc, TransientError(f"{type(exc).__name__}: {exc}", url=entry.link), now
        )
    return check_duplicate(entry, article, svc, now)


def after_failure(d: Delivery, svc: EntryServices, exc: IngestError, now: float) -> Step:
    """The one place a failure is decided: a transient one is retried with back-off
    NEWS_FETCH_RETRIES times; then, as for a page gone for good, the feed's own content is
    used when it has some (never on a re-crawl: the stored article beats the feed's teaser);
    else the entry is failed."""
    entry = d.entry
    if exc.transient and d.failures < svc.fetch_retries:
        log.warning(
            "transient failure (%s, try %d) feed=%s url=%s entry=%s: %s",
            exc.kind,
            d.failures + 1,
            entry.feed_id,
            entry.link,
            entry.key,
            exc,
        )
        wait = max(backoff(d.failures, svc.retry_backoff), exc.retry_after or 0.0)
        return Again(wait, later(d, wait, now, failures=d.failures + 1), f"error_{exc.kind}")
    article = None if entry.recrawl or not entry.link else feed_content(entry, now)
    if article is None:
        return fail(svc, entry, exc, now)
    log.warning(
        "page failed, using the feed's content: %s feed=%s url=%s entry=%s",
        exc,
        entry.feed_id,
        entry.link,
        entry.key,
    )
    return check_duplicate(entry, article, svc, now)


# One page cleaned at a time per process. The threads of an I/O pool share one GIL: sixteen
# threads cleaning at once took 48 ms of CPU a page against 21 ms one at a time (the GIL
# handed back and forth every 5 ms, the caches thrashed by sixteen trees). Waiting on this
# lock costs no CPU; fetches go on meanwhile. A prefork process has one thread: no effect.
CLEANING = threading.Lock()


def feed_content(entry: FeedEntry, now: float) -> Article | None:
    """The entry's own content as an article, if the feed carried some."""
    try:
        return article_from_entry(entry, fetched_at=iso_time(now))
    except NoContentError:
        return None


def build(entry: FeedEntry, svc: EntryServices, now: float) -> Article:
    """The page's article; an entry without a link is its feed content (or NoContentError)."""
    if not entry.link:
        return article_from_entry(entry, fetched_at=iso_time(now))
    return fetch_and_clean(entry, entry.link, svc, now)


def fetch_and_clean(entry: FeedEntry, url: str, svc: EntryServices, now: float) -> Article:
    """The page fetched (the HTTP client takes the host's token for every request and hop;
    none free: HostBusy) and cleaned."""
    if not svc.politeness.allowed(url, now):
        raise Disallowed("robots.txt disallows this page", url=url)
    try:
        page = svc.http.get(url, kind="page")
    except ServerError as exc:
        if exc.retry_after:
            svc.politeness.pause(url, exc.retry_after, now)
        raise
    with CLEANING:
        return clean_html(
            page.body,
            page.url,
            entry,
            encoding=page.encoding,
            fetched_at=iso_time(now),
            extra_tracking=svc.extra_tracking,
            sites=svc.sites,
        )


def check_duplicate(entry: FeedEntry, article: Article, svc: EntryServices, now: float) -> Step:
    """Content dedupe: the same story under another URL is kept as duplicate_of, or dropped."""
    earlier = svc.duplicates.find(article, now)
    if not earlier:
        return Store(article, None)
    if svc.keep_duplicates:
        return Store(replace(article, duplicate_of=earlier), None)
    svc.seen.mark_seen(entry.key, now)
    log.info("duplicate dropped feed=%s url=%s of=%s", entry.feed_id, article.url, earlier)
    return Done(Outcome.DROPPED_DUPLICATE)


# --- in flight: what the sweep sends again if the broker loses a message -----------------


def expect(svc: EntryServices, deliveries: list[Delivery], now: float) -> None:
    """Record entries about to be sent (before their messages are: a crash in between leaves
    them recorded, never lost)."""
    if svc.inflight is not None:
        svc.inflight.expect({d.entry.key: d.to_kwargs() for d in deliveries}, now, at=now)


def track(svc: EntryServices, d: Delivery, step: Step, now: float) -> None:
    """After a try: an entry coming back (Again) is due when its retry is; one handed to the
    store is due now (while the store holds the lease the sweep only waits); one whose life
    ended is forgotten. A failure here is logged, not raised: the record is a safety net, and
    the step is already decided."""
    if svc.inflight is None:
        return
    try:
        if isinstance(step, Again):
            kwargs = step.delivery.to_kwargs()
            svc.inflight.expect({d.entry.key: kwargs}, now + step.delay, at=now)
        elif isinstance(step, Store):
            svc.inflight.expect({d.entry.key: d.to_kwargs()}, now, at=now)
        else:
            svc.inflight.done(d.entry.key)
    except redis.RedisError:
        log.warning("in-flight record not updated entry=%s", d.entry.key, exc_info=True)


def forget(svc: EntryServices, entry_key: str) -> None:
    """The entry's life ended outside a try (its article went to the failed list)."""
    if svc.inflight is None:
        return
    try:
        svc.inflight.done(entry_key)
    except redis.RedisError:
        log.warning("in-flight record not updated entry=%s", entry_key, exc_info=True)


def sign_of_life(svc: EntryServices, entry_key: str, due: float) -> None:
    """The entry is alive elsewhere (its store is retried): look at it again after ``due``."""
    if svc.inflight is None:
        return
    try:
        svc.inflight.postpone(entry_key, due + svc.inflight.grace)
    except redis.RedisError:
        log.warning("in-flight record not updated entry=%s", entry_key, exc_info=True)


def overdue(svc: EntryServices, now: float, queued_since: float | None = None) -> list[Delivery]:
    """The sweep: entries whose sign of life is overdue. Seen ones (stored, or finished by a
    duplicate delivery) are forgotten; ones under a lease are looked at again when it ends;
    ones sent at or after ``queued_since`` (when the oldest message still queued was sent:
    theirs may be waiting behind it) are looked at again later; the others come back as
    deliveries to send again (their re-sends back off)."""
    if svc.inflight is None:
        return []
    claimed = svc.inflight.overdue(now)
    if not claimed:
        return []
    records = []
    for o in claimed:
        if o.delivery is None:  # no delivery to send: nothing the sweep can do
            svc.inflight.done(o.key)
        else:
            records.append((o, Delivery.from_kwargs(o.delivery)))
    plain = [o.key for o, d in records if not d.entry.recrawl]
    unseen = set(svc.seen.unseen(plain, now)) if plain else set()
    again: list[Delivery] = []
    for o, d in records:
        if not d.entry.recrawl and o.key not in unseen:
            svc.inflight.done(o.key)
            continue
        lease = svc.leases.remaining(o.key)
        if lease > 0:  # a run holds it, or a dead run's lease has not lapsed yet
            svc.inflight.postpone(o.key, now + lease + 1.0)
            continue
        if queued_since is not None and o.at >= queued_since - 1.0:
            continue  # maybe still queued: claimed until now + grace, looked at then
        svc.inflight.expect({o.key: d.to_kwargs()}, now, at=now, sweeps=o.sweeps + 1)
        log.warning(
            "entry sent again: no sign of life for %.0f s feed=%s url=%s entry=%s",
            now - o.at,
            d.entry.feed_id,
            d.entry.link,
            o.key,
        )
        again.append(d)
    return again


# --- the ends of a life -----------------------------------------------------------------


def stored(svc: EntryServices, article: Article, entry_key: str | None, token, now: float):
    """After the article is committed: remember its content, mark its entry seen (only now,
    so a crash before this point loses nothing), give up the lease it was handed."""
    svc.duplicates.remember(article, now)
    if entry_key:
        svc.seen.mark_seen(entry_key, now)
        svc.leases.give_up(entry_key, token)
        if svc.inflight is not None:
            svc.inflight.done(entry_key)


def hand_over(svc: EntryServices, entry_key: str, token: str | None) -> None:
    """The store is left to another task (news.store_article): the lease stops being
    renewed here and lasts NEWS_VISIBILITY_TIMEOUT + NEWS_LEASE_TTL, time for that task to be
    delivered (again, if its worker dies) and give it up in stored()."""
    if token:
        svc.leases.hand_over(entry_key, token, svc.store_handover)


def fail(svc: EntryServices, entry: FeedEntry, exc: IngestError | None, now: float) -> Done:
    """Nothing could be built: keep the entry in the failed list (for retry-failed), mark it
    seen (not fetched again on every poll; retry-failed re-sends it), log it."""
    error = exc.to_dict() if exc else {"kind": "error", "message": "unknown"}
    record = {"entry": entry.to_dict(), "error": error, "at": iso_time(now)}
    svc.redis.rpush(svc.keys.failed, json.dumps(record, ensure_ascii=False))
    svc.seen.mark_seen(entry.key, now)
    if svc.inflight is not None:
        svc.inflight.done(entry.key)
    log.error(
        "entry failed (%s) feed=%s url=%s entry=%s: %s",
        error["kind"],
        entry.feed_id,
        entry.link,
        entry.key,
        error["message"],
    )
    return Done(Outcome.FAILED)


@dataclass
class CrashGuard:
    crashed: IngestError | None  # set once the entry killed its worker MAX_CRASHES times
    again: bool = False  # this run ends in a retry or deferral: the entry is not done


@contextmanager
def crash_guard(svc: EntryServices, entry: FeedEntry) -> Iterator[CrashGuard]:
    """Count runs of this entry that never ended: a page that kills the worker (out of memory,
    a crash in a C library) comes back at once (reject on worker lost) and would loop forever.
    A run that ends takes back only its own count when the entry comes back (a retry, a
    deferral while a dead run's lease runs out), so the runs that died stay counted across
    the retries between them; the count goes when the entry is done."""
    key = svc.keys.crashes(entry.key)
    pipe = svc.redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 86_400)
    runs = pipe.execute()[0]
    error = IngestError(f"killed its worker {runs - 1} times", url=entry.link)
    guard = CrashGuard(error if runs > MAX_CRASHES else None)
    try:
        yield guard
    except BaseException:
        svc.redis.decr(key)
        raise
    if guard.again:
        svc.redis.decr(key)
    else:
        svc.redis.delete(key)  # done; none of this runs when the process dies
