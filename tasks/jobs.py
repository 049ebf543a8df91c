"""The Celery tasks, and only them: thin shells that take clients from tasks.services, call
the stage functions, and turn their results into follow-up tasks, retries and counters.

Every task is idempotent (acks_late): an entry becomes "seen" only after its article is
committed, so a worker killed at any point loses nothing.
"""

from __future__ import annotations

import json
import logging
import random
import time
from contextlib import contextmanager

from celery import shared_task

from tasks import services as task_services
from tasks.errors import HostBusy, IngestError, TransientError
from tasks.formats import iso_time
from tasks.ingest import stage as ingest_stage
from tasks.ingest.progress import RecrawlProgress
from tasks.models import Article, FeedEntry, Outcome
from tasks.poll import stage as poll
from tasks.services import Resources

log = logging.getLogger(__name__)

RETRY_CAP = 3600.0  # seconds: the longest back-off between two tries of one page


def backoff(retries: int, base: float, rng: random.Random | None = None) -> float:
    """Exponential back-off (base, 2 base, 4 base, ...) with jitter between half and all of it."""
    step = min(RETRY_CAP, base * 2**retries)
    return step * (0.5 + (rng or random).random() / 2)


def count(r: Resources, feed_id: str | None, outcome: str) -> None:
    if feed_id:
        r.redis.hincrby(r.keys.feed_stats(feed_id), outcome, 1)


def run_progress(r: Resources, run_id: str | None) -> RecrawlProgress | None:
    """The counters of the re-crawl run a task belongs to (None outside a re-crawl)."""
    return RecrawlProgress(r.redis, r.keys, run_id) if run_id else None


def progress(r: Resources, run_id: str | None, outcome: str) -> None:
    if run := run_progress(r, run_id):
        run.add(outcome)


@shared_task(name="news.poll_due_feeds", ignore_result=True)
def poll_due_feeds() -> int:
    """The beat tick: claim the feeds whose time has come, one poll task each."""
    r = task_services.current()
    due = poll.tick(r.registry, r.settings.feeds_file, time.time())
    for feed_id in due:
        poll_feed.delay(feed_id)
    return len(due)


@shared_task(name="news.poll_feed", ignore_result=True)
def poll_feed(feed_id: str, recrawl: bool = False, run_id: str | None = None) -> dict:
    """Poll one feed; each new entry becomes one `news.ingest_entry`."""
    r = task_services.current()
    feed = r.registry.feed(feed_id)
    if feed is None:
        log.warning("poll of an unknown feed skipped feed=%s", feed_id)
        if run := run_progress(r, run_id):
            run.poll_done()
        return {"feed": feed_id, "status": "unknown"}
    try:
        result = poll.poll_feed(
            feed,
            http=r.http,
            registry=r.registry,
            seen=r.seen,
            settings=r.settings,
            now=time.time(),
            recrawl=recrawl,
            emit=lambda entries: enqueue_entries(r, entries, run_id),
        )
    finally:
        if run := run_progress(r, run_id):
            run.poll_done()
    return {"feed": feed_id, "status": result.status, "new": len(result.entries)}


def enqueue_entries(r: Resources, entries: list[FeedEntry], run_id: str | None) -> None:
    if run := run_progress(r, run_id):
        run.grow(len(entries))
    for entry in entries:
        ingest_entry.delay(entry.to_dict(), run_id)


def services(r: Resources) -> ingest_stage.IngestServices:
    s = r.settings
    return ingest_stage.IngestServices(
        http=r.http,
        politeness=r.politeness,
        seen=r.seen,
        duplicates=r.duplicates,
        lease_ttl=s.lease_ttl,
        keep_duplicates=s.duplicates == "keep",
        extra_tracking=s.tracking_params,
        sites=r.sites,
    )


def countdown(seconds: float, settings) -> float:
    """A delay Celery can hold safely: at least 0.5 s, at most RETRY_CAP and 80 % of the
    visibility timeout (the Redis broker hands a message held longer than that to another
    worker, and the task would then run twice)."""
    return max(0.5, min(seconds, RETRY_CAP, 0.8 * settings.visibility_timeout))


@shared_task(bind=True, name="news.ingest_entry", ignore_result=True, max_retries=None)
def ingest_entry(
    self,
    entry_data: dict,
    run_id: str | None = None,
    failures: int = 0,
    slot_at: float | None = None,
) -> str:
    """Fetch and clean one entry's page, then hand the article to `news.store_article`.
    ``failures``: transient failures so far; ``slot_at``: when the request slot booked for
    this entry's host is due (a deferral ends there without taking a new token)."""
    r = task_services.current()
    entry = FeedEntry.from_dict(entry_data)
    now = time.time()
    again = {"entry_data": entry_data, "run_id": run_id, "failures": failures}
    if slot_at is not None and now < slot_at - 0.05:  # woke before the slot (clamped delay)
        raise defer(self, r, {**again, "slot_at": slot_at}, slot_at - now)
    with crash_guard(r, entry) as crashed_before:
        if crashed_before:
            return record_failure(r, entry, crashed_before, run_id)
        return ingest_once(self, r, entry, now, again, slot_at)


MAX_CRASHES = 3  # runs of one entry that killed their worker process before it is given up


@contextmanager
def crash_guard(r: Resources, entry: FeedEntry):
    """Count runs of this entry that never ended: a page that kills the worker (out of memory,
    a crash in a C library) comes back at once (reject on worker lost) and would loop forever.
    Yields an error once it has done so MAX_CRASHES times, else None."""
    key = r.keys.crashes(entry.key)
    pipe = r.redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 86_400)
    runs = pipe.execute()[0]
    try:
        yield (
            IngestError(f"killed its worker {runs - 1} times", url=entry.link)
            if runs > MAX_CRASHES
            else None
        )
    except BaseException:
        # This run ended (a retry, a deferral while a dead run's lease runs out): uncount only
        # it, so the runs that died stay counted across the retries between them.
        r.redis.decr(key)
        raise
    r.redis.delete(key)  # done; not reached when the process dies


def ingest_once(task, r: Resources, entry: FeedEntry, now: float, again: dict, slot_at) -> str:
    run_id = again["run_id"]
    try:
        result = ingest_stage.ingest(entry, services(r), now, slot=slot_at is not None)
    except HostBusy as exc:  # not a failure: come back at the host's next free slot
        wait = exc.retry_after or 1.0
        raise defer(task, r, {**again, "slot_at": now + wait if exc.slot else None}, wait) from None
    except IngestError as exc:  # transient (permanent ones are outcomes)
        return retry_or_give_up(task, r, entry, exc, again)
    except Exception as exc:  # a bug, a lost Redis, a soft time limit: retried, then recorded
        log.exception(
            "ingest crashed feed=%s url=%s entry=%s", entry.feed_id, entry.link, entry.key
        )
        crash = TransientError(f"{type(exc).__name__}: {exc}", url=entry.link)
        return retry_or_give_up(task, r, entry, crash, again)
    if result.outcome is Outcome.LEASED:  # another worker has it; check again after its lease
        raise defer(task, r, again, min(result.retry_in or 30.0, 60.0))
    return finish(r, entry, result, run_id)


def defer(task, r: Resources, kwargs: dict, seconds: float):
    """The retry that runs the task again in ``seconds`` (safely clamped) with ``kwargs``."""
    return task.retry(
        args=(), kwargs=kwargs, countdown=countdown(seconds, r.settings), max_retries=None
    )


def retry_or_give_up(task, r: Resources, entry: FeedEntry, exc: IngestError, again: dict) -> str:
    """Retry a transient failure with back-off, NEWS_FETCH_RETRIES times; then fall back to the
    feed's own content, or record the entry as failed."""
    failures, run_id = again["failures"], again["run_id"]
    log.warning(
        "transient failure (%s, try %d) feed=%s url=%s entry=%s: %s",
        exc.kind,
        failures + 1,
        entry.feed_id,
        entry.link,
        entry.key,
        exc,
    )
    count(r, entry.feed_id, f"error_{exc.kind}")
    if failures < r.settings.fetch_retries:
        wait = max(backoff(failures, r.settings.fetch_retry_backoff), exc.retry_after or 0.0)
        raise defer(task, r, {**again, "failures": failures + 1}, wait) from None
    article = ingest_stage.fallback_after_retries(entry, time.time())
    if article is None:
        return record_failure(r, entry, exc, run_id)
    store_article.delay(article.to_dict(), entry.key, run_id)
    return Outcome.STORED.value


def finish(r: Resources, entry: FeedEntry, result: ingest_stage.IngestResult, run_id) -> str:
    outcome = result.outcome
    if result.article is not None:
        store_article.delay(result.article.to_dict(), entry.key, run_id)
        return outcome.value
    if outcome is Outcome.FAILED:
        return record_failure(r, entry, result.error, run_id)
    count(r, entry.feed_id, outcome.value)
    progress(r, run_id, outcome.value)
    return outcome.value


def record_failure(r: Resources, entry: FeedEntry, exc: IngestError | None, run_id) -> str:
    """Nothing could be built: keep the entry in the failed list (for retry-failed), log it."""
    now = time.time()
    error = exc.to_dict() if exc else {"kind": "error", "message": "unknown"}
    record = {"entry": entry.to_dict(), "error": error, "at": iso_time(now)}
    r.redis.rpush(r.keys.failed, json.dumps(record, ensure_ascii=False))
    r.seen.mark_seen(entry.key, now)  # not fetched again on every poll; retry-failed re-sends it
    r.seen.release(entry.key)
    count(r, entry.feed_id, "failed")
    progress(r, run_id, "failed")
    log.error(
        "entry failed (%s) feed=%s url=%s entry=%s: %s",
        error["kind"],
        entry.feed_id,
        entry.link,
        entry.key,
        error["message"],
    )
    return Outcome.FAILED.value


STORE_RETRIES = (
    20  # tries of one upsert (back-off 5 s doubling, at most RETRY_CAP) before it is recorded
)


@shared_task(bind=True, name="news.store_article", ignore_result=True, max_retries=None)
def store_article(
    self, article_data: dict, entry_key: str | None = None, run_id: str | None = None
) -> str:
    """Upsert one article; only then is its entry marked seen. A store that keeps failing is
    retried with back-off, then the article goes to the failed list (retry-failed resends it)."""
    r = task_services.current()
    article = Article.from_dict(article_data)
    now = time.time()
    try:
        outcome = r.store.upsert(article, iso_time(now))
    except Exception as exc:  # noqa: BLE001 - any store failure is retried, then recorded
        tries = self.request.retries
        log.warning(
            "store failed (try %d) feed=%s url=%s id=%s: %s",
            tries + 1,
            article.feed_id,
            article.url,
            article.id,
            exc,
        )
        if tries < STORE_RETRIES:
            raise self.retry(
                countdown=countdown(backoff(tries, 5.0), r.settings), max_retries=None
            ) from None
        return record_store_failure(r, article, entry_key, exc, run_id)
    r.duplicates.remember(article, now)
    if entry_key:
        r.seen.mark_seen(entry_key, now)
        r.seen.release(entry_key)
    label = Outcome.DUPLICATE.value if article.duplicate_of else outcome.value
    count(r, article.feed_id, label)
    progress(r, run_id, label)
    log.info("article %s feed=%s url=%s id=%s", label, article.feed_id, article.url, article.id)
    return label


def record_store_failure(r: Resources, article: Article, entry_key, exc, run_id) -> str:
    """The article could not be stored: keep it whole in the failed list, log it."""
    error = {"kind": "store", "message": f"{type(exc).__name__}: {exc}"}
    record = {
        "article": article.to_dict(),
        "entry_key": entry_key,
        "error": error,
        "at": iso_time(time.time()),
    }
    r.redis.rpush(r.keys.failed, json.dumps(record, ensure_ascii=False))
    count(r, article.feed_id, "failed")
    progress(r, run_id, "failed")
    log.error(
        "article not stored feed=%s url=%s id=%s: %s",
        article.feed_id,
        article.url,
        article.id,
        error["message"],
    )
    return Outcome.FAILED.value


@shared_task(name="news.recrawl", ignore_result=True)
def recrawl(
    feed: str | None = None,
    url: str | None = None,
    since: str | None = None,
    all: bool = False,
    run_id: str | None = None,
) -> dict:
    """Re-crawl a feed (by name or id), one URL, the articles stored since a date, or all feeds."""
    from config.feeds import feed_id_for
    from tasks.dedupe import canonical_url
    from tasks.ingest import recrawl as plan
    from tasks.models import article_id

    r = task_services.current()
    run = run_progress(r, run_id)
    if feed or all:
        if feed:
            ids = [feed if r.registry.feed(feed) else feed_id_for(feed)]  # an id or a name
        else:
            ids = [f.id for f in r.registry.feeds() if f.enabled]
        if run:
            run.poll_done(more=len(ids))  # planning done: the polls are what remain
        for feed_id in ids:
            poll_feed.delay(feed_id, True, run_id)
        return {"polls": len(ids)}
    if url:
        entries = [plan.entry_for_url(url, r.store.get(article_id(canonical_url(url))))]
    else:
        entries = [plan.entry_for_article(a) for a in r.store.iter_articles(since=since)]
    enqueue_entries(r, entries, run_id)
    if run:
        run.poll_done()
    return {"entries": len(entries)}
