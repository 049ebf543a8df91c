"""The Celery tasks, and only them: thin shells that take clients from tasks.services, call
the stage functions, and turn their results into follow-up tasks, retries and counters.
An entry's life (lease, seen mark, retries, fallback, failed list) is tasks.ingest.entry.

Every task is idempotent (acks_late): an entry becomes "seen" only after its article is
committed, so a worker killed at any point loses nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from celery import shared_task

from tasks import metrics
from tasks import services as task_services
from tasks.errors import TransientError
from tasks.formats import host_of, iso_time
from tasks.ingest import entry as entry_life
from tasks.ingest.entry import MAX_CRASHES, RETRY_CAP, backoff  # noqa: F401 - re-exported
from tasks.ingest.progress import RecrawlProgress
from tasks.models import Article, FeedEntry, Outcome
from tasks.poll import stage as poll
from tasks.services import Resources

log = logging.getLogger(__name__)


def count(r: Resources, feed_id: str | None, outcome: str) -> None:
    """The one helper that writes a feed's outcome counters (tasks.metrics)."""
    if feed_id:
        metrics.count(r.redis, r.keys, feed_id, outcome, time.time())


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
    metrics.beat_tick(r.redis, r.keys, time.time())
    for feed_id in due:
        poll_feed.delay(feed_id)
    resend_lost_entries(r)
    return len(due)


def resend_lost_entries(r: Resources) -> int:
    """The sweep of entries in flight (tasks.ingest.inflight): an entry with no sign of life
    long after it was due (its message lost by the broker) is sent again, unless it was sent
    after the oldest message still waiting in the Redis broker's pages or store list (it may
    be waiting behind it: a backlog is not a loss)."""
    broker = r.settings.broker_url
    if broker and broker.split("://", 1)[0].lower() not in ("redis", "rediss", "unix"):
        return 0  # RabbitMQ hands a dead consumer's messages back at once, and loses none
    now = time.time()
    queued = metrics.queue_info(r.redis, ("pages", "store"), now)  # the broker's lists
    ages = [q["oldest_age"] for q in queued.values() if q["oldest_age"] is not None]
    queued_since = now - max(ages) if ages else None
    again = entry_life.overdue(services(r), now, queued_since)
    for delivery in again:
        ingest_entry.apply_async(kwargs=delivery.to_kwargs())
    return len(again)


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
    metrics.poll(r.redis, r.keys, feed_id, result.status, host_of(feed.url))
    return {"feed": feed_id, "status": result.status, "new": len(result.entries)}


def enqueue_entries(r: Resources, entries: list[FeedEntry], run_id: str | None) -> None:
    if run := run_progress(r, run_id):
        run.grow(len(entries))
    # recorded in flight first: a message the broker loses is sent again by the sweep
    entry_life.expect(services(r), [entry_life.Delivery(e, run_id) for e in entries], time.time())
    for entry in entries:
        ingest_entry.delay(entry.to_dict(), run_id)


def services(r: Resources) -> entry_life.EntryServices:
    s = r.settings
    return entry_life.EntryServices(
        redis=r.redis,
        keys=r.keys,
        http=r.http,
        politeness=r.politeness,
        seen=r.seen,
        leases=r.leases,
        duplicates=r.duplicates,
        fetch_retries=s.fetch_retries,
        retry_backoff=s.fetch_retry_backoff,
        store_handover=float(s.visibility_timeout + s.lease_ttl),
        keep_duplicates=s.duplicates == "keep",
        extra_tracking=s.tracking_params,
        sites=r.sites,
        inflight=r.inflight,
    )


def countdown(seconds: float, settings) -> float:
    """A delay Celery can hold safely: at least 0.5 s, at most RETRY_CAP and half the
    visibility timeout (the Redis broker hands a message held longer than that to another
    worker, and the task would then run twice). A task woken early waits again
    (Delivery.not_before)."""
    return max(0.5, min(seconds, RETRY_CAP, 0.5 * settings.visibility_timeout))


@shared_task(bind=True, name="news.ingest_entry", ignore_result=True, max_retries=None)
def ingest_entry(
    self,
    entry_data: dict,
    run_id: str | None = None,
    failures: int = 0,
    not_before: float | None = None,
    slot: bool = False,
    slot_at: float | None = None,
) -> str:
    """One try of one entry (tasks.ingest.entry.run); its article goes to
    `news.store_article` with the entry's lease. ``slot`` and ``slot_at`` are ignored:
    messages of older workers carry them (no request slot is booked ahead any more)."""
    r = task_services.current()
    entry = FeedEntry.from_dict(entry_data)
    delivery = entry_life.Delivery(entry, run_id, failures, not_before)
    try:
        step = entry_life.run(delivery, services(r), time.time())
    except Exception as exc:  # Redis lost mid-way, a bug: nothing is marked seen, try again
        log.exception(
            "ingest crashed feed=%s url=%s entry=%s", entry.feed_id, entry.link, entry.key
        )
        if failures >= r.settings.fetch_retries:
            # to the failed list, not dropped: a feed that answers 304 never offers it again
            crash = TransientError(f"{type(exc).__name__}: {exc}", url=entry.link)
            step = entry_life.fail(services(r), entry, crash, time.time())
            count(r, entry.feed_id, step.outcome.value)
            progress(r, run_id, step.outcome.value)
            return step.outcome.value
        wait = backoff(failures, r.settings.fetch_retry_backoff)
        step = entry_life.Again(
            wait, entry_life.later(delivery, wait, time.time(), failures=failures + 1)
        )
        entry_life.track(services(r), delivery, step, time.time())
    if isinstance(step, entry_life.Again):
        if step.label:
            count(r, entry.feed_id, step.label)
        if step.busy:
            metrics.deferral(r.redis, r.keys, host_of(entry.link or ""))
        raise self.retry(
            args=(),
            kwargs=step.delivery.to_kwargs(),
            countdown=countdown(step.delay, r.settings),
            max_retries=None,
        )
    if isinstance(step, entry_life.Store):  # the storage task saves it, on its own queue
        entry_life.hand_over(services(r), entry.key, step.token)
        store_article.delay(step.article.to_dict(), entry.key, run_id, step.token)
        return Outcome.STORED.value
    count(r, entry.feed_id, step.outcome.value)
    progress(r, run_id, step.outcome.value)
    return step.outcome.value


STORE_RETRIES = 20  # tries of one upsert (back-off 5 s doubling, capped) before it is recorded
STORE_LOCK = threading.Lock()  # the threads of an I/O pool share the process's store


@shared_task(bind=True, name="news.store_article", ignore_result=True, max_retries=None)
def store_article(
    self,
    article_data: dict,
    entry_key: str | None = None,
    run_id: str | None = None,
    lease: str | None = None,
) -> str:
    """Upsert one article; only then is its entry marked seen and its lease (the token
    handed over by news.ingest_entry) given up. A store that keeps failing is retried with
    back-off, then the article goes to the failed list (retry-failed resends it)."""
    r = task_services.current()
    article = Article.from_dict(article_data)
    try:
        return save(r, article, entry_key, lease, run_id)
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
            wait = countdown(backoff(tries, 5.0), r.settings)
            if entry_key:  # a sign of life: the sweep does not fetch the entry again
                entry_life.sign_of_life(services(r), entry_key, time.time() + wait)
            raise self.retry(countdown=wait, max_retries=None) from None
        return record_store_failure(r, article, entry_key, exc, run_id)


def save(r: Resources, article: Article, entry_key: str | None, lease, run_id) -> str:
    """Upsert the article, then end its entry's life (seen, lease given up) and count it;
    raises when the store fails (nothing marked)."""
    now = time.time()
    with STORE_LOCK:  # one connection per process: one transaction at a time
        outcome = r.store.upsert(article, iso_time(now))
    entry_life.stored(services(r), article, entry_key, lease, now)
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
    if entry_key:  # retry-failed sends the article again: the entry's life ends here
        entry_life.forget(services(r), entry_key)
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
