"""An entry's life (tasks.ingest.entry) with its real services: Redis (seen, leases, rate
buckets, duplicates, failed list), the HTTP client, and a local server. Each step of one
entry, and what it leaves behind."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from config.settings import load_settings
from tasks.dedupe import entry_key
from tasks.dedupe.duplicates import DuplicateIndex
from tasks.dedupe.seen import Leases, SeenIndex
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import HostBudget, Politeness
from tasks.ingest.entry import (
    Again,
    Delivery,
    Done,
    EntryServices,
    Store,
    expect,
    overdue,
    run,
    stored,
)
from tasks.ingest.inflight import InFlight
from tasks.models import FeedEntry, Outcome
from tests.httpserver import Reply
from tests.newssite import make_story, page_html

pytestmark = pytest.mark.integration

HTML = {"Content-Type": "text/html; charset=utf-8"}
GRACE = 18.0  # seconds an entry in flight may show no sign of life (vt 8 + 10)


@pytest.fixture
def make_services(redis_client, keys):
    clients = []

    def build(**overrides) -> EntryServices:
        base = {
            "fetch_allow_private": True,
            "host_rate": 50.0,
            "host_burst": 10,
            "fetch_deadline": 3.0,
        }
        settings = load_settings({}, **(base | overrides))
        http = HttpClient(settings, budget=HostBudget(redis_client, keys, settings))
        clients.append(http)
        return EntryServices(
            redis=redis_client,
            keys=keys,
            http=http,
            politeness=Politeness(redis_client, keys, settings, http),
            seen=SeenIndex(redis_client, keys, settings.seen_ttl),
            leases=Leases(redis_client, keys, 60),
            duplicates=DuplicateIndex(redis_client, keys, ttl=settings.neardup_ttl),
            fetch_retries=settings.fetch_retries,
            retry_backoff=settings.fetch_retry_backoff,
            inflight=InFlight(redis_client, keys, GRACE),
        )

    yield build
    for http in clients:
        http.close()


def ingest(entry: FeedEntry, svc: EntryServices, now: float, **delivery):
    return run(Delivery(entry, **delivery), svc, now)


def entry_for(url: str, content: str | None = None, guid: str = "g-1") -> FeedEntry:
    return FeedEntry(
        key=entry_key(guid, url, None, None),
        feed_id="f",
        feed_url="http://f/",
        entry_id=guid,
        link=url,
        title="From the feed",
        content=content,
    )


def test_a_page_becomes_an_article_ready_to_store(make_services, http_server):
    story = make_story(1, "ingest")
    http_server.route("/a.html", Reply(200, HTML, page_html(story)))
    svc = make_services()
    entry = entry_for(http_server.url("/a.html"))
    step = ingest(entry, svc, time.time())
    assert isinstance(step, Store) and step.token
    assert step.article.title == story.title and step.article.body == story.body
    assert step.article.feed_id == "f" and step.article.entry_id == "g-1"
    assert svc.leases.take(entry.key) is None  # still ours until the article is stored
    stored(svc, step.article, entry.key, step.token, time.time())
    assert svc.seen.is_seen(entry.key, time.time())
    assert svc.leases.take(entry.key)  # given up by the store


def test_a_missing_page_falls_back_to_the_feeds_content(make_services, http_server):
    entry = entry_for(http_server.url("/gone.html"), "<p>The feed had the whole story.</p>")
    step = ingest(entry, make_services(), time.time())
    assert isinstance(step, Store)
    assert step.article.body == "The feed had the whole story."
    assert step.article.title == "From the feed"


def test_a_blocked_address_falls_back_too(make_services, http_server):
    entry = entry_for(http_server.url("/a.html"), "<p>Only in the feed.</p>")
    svc = make_services(fetch_allow_private=False)
    step = ingest(entry, svc, time.time())
    assert isinstance(step, Store) and step.article.body == "Only in the feed."
    assert http_server.hits("/a.html") == []


def test_nothing_to_build_is_a_failure_on_the_failed_list(make_services, http_server, keys):
    svc = make_services()
    entry = entry_for(http_server.url("/gone.html"))
    step = ingest(entry, svc, time.time())
    assert step == Done(Outcome.FAILED)
    (record,) = [json.loads(x) for x in svc.redis.lrange(keys.failed, 0, -1)]
    assert record["entry"]["key"] == entry.key and record["error"]["kind"] == "not_found"
    assert svc.seen.is_seen(entry.key, time.time())
    assert svc.leases.take(entry.key)  # free again


def test_transient_failures_are_retried_then_fall_back_once(make_services, http_server):
    http_server.route("/down.html", Reply(503, HTML, "down"))
    svc = make_services(fetch_retries=2, fetch_retry_backoff=10.0)
    entry = entry_for(http_server.url("/down.html"), "<p>The feed's own words.</p>")
    now = time.time()
    first = ingest(entry, svc, now)
    assert isinstance(first, Again) and first.label == "error_http_transient"
    assert 5.0 <= first.delay <= 10.0 and first.delivery.failures == 1
    assert first.delivery.not_before == pytest.approx(now + first.delay)
    early = run(first.delivery, svc, now + 1)  # a clamped countdown woke it early
    assert isinstance(early, Again) and early.delivery == first.delivery
    second = run(first.delivery, svc, first.delivery.not_before)
    assert isinstance(second, Again) and second.delivery.failures == 2
    last = run(second.delivery, svc, second.delivery.not_before)
    assert isinstance(last, Store) and last.article.body == "The feed's own words."
    assert len(http_server.hits("/down.html")) == 3  # first try + 2 retries


def test_robots_disallowed_pages_are_never_fetched(make_services, http_server):
    http_server.route(
        "/robots.txt",
        Reply(200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private/\n"),
    )
    svc = make_services()
    entry = entry_for(http_server.url("/private/a.html"), "<p>feed text</p>")
    assert ingest(entry, svc, time.time()) == Done(Outcome.DISALLOWED)
    assert http_server.hits("/private/a.html") == []
    assert svc.seen.is_seen(entry.key, time.time())


def test_seen_and_leased_entries_are_left_alone(make_services, http_server):
    svc = make_services()
    now = time.time()
    seen = entry_for(http_server.url("/a.html"), guid="seen")
    svc.seen.mark_seen(seen.key, now)
    assert ingest(seen, svc, now) == Done(Outcome.SEEN)
    busy = entry_for(http_server.url("/a.html"), guid="busy")
    assert svc.leases.take(busy.key)
    step = ingest(busy, svc, now)
    assert isinstance(step, Again) and 0 < step.delay <= svc.leases.ttl
    assert http_server.hits("/a.html") == []


def test_a_lease_outlives_a_dead_holder_by_its_ttl_only(redis_client, keys):
    alive, dead = Leases(redis_client, keys, 1.2), Leases(redis_client, keys, 1.2)
    assert alive.take("a") and dead.take("d")
    dead._held.clear()  # its heartbeat no longer renews: as if the process were killed
    time.sleep(2.0)
    assert alive.take("a") is None  # renewed every ttl / 4 while its holder lives
    assert dead.take("d")  # lapsed: the redelivered run takes it over


def test_only_the_holder_gives_a_lease_up(redis_client, keys):
    leases = Leases(redis_client, keys, 30)
    token = leases.take("e")
    leases.give_up("e", "someone-else")
    assert leases.take("e") is None
    leases.give_up("e", token)
    assert leases.take("e")


def test_a_host_without_tokens_defers(make_services, http_server):
    http_server.route("/a.html", Reply(200, HTML, page_html(make_story(2, "ingest"))))
    svc = make_services(host_rate=0.01, host_burst=2)  # robots.txt and one page
    now = time.time()
    assert isinstance(ingest(entry_for(http_server.url("/a.html"), guid="1"), svc, now), Store)
    second = entry_for(http_server.url("/a.html"), guid="2")
    step = ingest(second, svc, now)
    assert isinstance(step, Again) and step.delay > 1 and step.label is None
    assert step.delivery.not_before == pytest.approx(now + step.delay)
    assert svc.leases.take(second.key)  # not held while it waits


def test_retry_after_pauses_the_host_for_every_worker(make_services, http_server):
    http_server.route("/busy.html", Reply(503, {"Retry-After": "120", **HTML}, "later"))
    svc = make_services()
    now = time.time()
    step = ingest(entry_for(http_server.url("/busy.html"), "<p>x</p>"), svc, now)
    assert isinstance(step, Again) and step.delay >= 120
    assert svc.politeness.budget.take(http_server.url("/other.html"), now + 1) > 100


def test_the_same_story_under_another_url_is_a_duplicate(make_services, http_server):
    story = make_story(3, "ingest")
    http_server.route("/one.html", Reply(200, HTML, page_html(story)))
    http_server.route("/two.html", Reply(200, HTML, page_html(story)))
    svc = make_services()
    one = entry_for(http_server.url("/one.html"), guid="1")
    first = ingest(one, svc, time.time())
    stored(svc, first.article, one.key, first.token, time.time())
    second = ingest(entry_for(http_server.url("/two.html"), guid="2"), svc, time.time())
    assert isinstance(first, Store) and isinstance(second, Store)
    assert second.article.duplicate_of == first.article.id


def test_a_recrawl_of_a_gone_page_keeps_the_stored_article(make_services, http_server):
    entry = entry_for(http_server.url("/gone.html"), "<p>A one-line teaser.</p>")
    step = ingest(replace(entry, recrawl=True), make_services(), time.time())
    assert step == Done(Outcome.FAILED)  # no teaser over the stored article


# --- entries in flight: a message the broker loses is sent again -------------------------


def in_flight(svc: EntryServices, now: float) -> dict[str, float]:
    """Entry key -> when the sweep looks at it next."""
    rows = svc.redis.zrange(svc.keys.inflight, 0, -1, withscores=True)
    return {key.decode(): score for key, score in rows}


def test_an_entry_whose_message_was_lost_is_sent_again_after_the_grace(make_services):
    svc = make_services()
    now = 1_000_000.0
    lost = entry_for("http://127.0.0.1:9/lost.html", guid="lost")
    expect(svc, [Delivery(lost, run_id="r1")], now)  # recorded, then its message vanished
    assert overdue(svc, now + GRACE - 1) == []  # the broker's own recovery comes first
    (again,) = overdue(svc, now + GRACE + 1)
    assert again == Delivery(lost, run_id="r1")
    # sent once: the next look backs off (2 grace), a concurrent sweep finds nothing
    assert overdue(svc, now + GRACE + 2) == []
    assert in_flight(svc, now)[lost.key] == pytest.approx(now + GRACE + 1 + 2 * GRACE)
    assert len(overdue(svc, now + GRACE + 2 + 2 * GRACE)) == 1


def test_an_entry_sent_after_the_oldest_queued_message_may_still_be_queued(make_services):
    svc = make_services()
    now = 1_000_000.0
    first, later = entry_for("http://h/1", guid="first"), entry_for("http://h/2", guid="later")
    expect(svc, [Delivery(first)], now)
    expect(svc, [Delivery(later)], now + 5)
    # the oldest message still in the broker's list was sent at now + 5: the first entry's
    # message was taken out of the list before it (lost), the later one may wait behind it
    (again,) = overdue(svc, now + 5 + GRACE + 1, queued_since=now + 5)
    assert again.entry == first
    assert overdue(svc, now + 5 + 2 * GRACE + 2, queued_since=None)[0].entry == later


def test_the_sweep_forgets_seen_entries_and_waits_for_leased_ones(make_services):
    svc = make_services()
    now = time.time()
    done, held = entry_for("http://h/a.html", guid="done"), entry_for("http://h/b", guid="held")
    expect(svc, [Delivery(done), Delivery(held)], now - 2 * GRACE)
    svc.seen.mark_seen(done.key, now)  # finished by another delivery of it
    assert svc.leases.take(held.key)  # a run holds it (or a dead run's lease runs out)
    assert overdue(svc, now) == []
    left = in_flight(svc, now)
    assert done.key not in left
    assert now < left[held.key] <= now + svc.leases.ttl + 1.0  # looked at when it ends


def test_each_try_says_when_the_next_sign_of_life_is_due(make_services, http_server):
    story = make_story(7, "ingest")
    http_server.route("/a.html", Reply(200, HTML, page_html(story)))
    svc = make_services()
    now = time.time()
    entry = entry_for(http_server.url("/a.html"), guid="tracked")
    expect(svc, [Delivery(entry)], now)
    assert in_flight(svc, now) == {entry.key: pytest.approx(now + GRACE)}
    busy = entry_for(http_server.url("/a.html"), guid="busy")
    assert svc.leases.take(busy.key)
    step = ingest(busy, svc, now)  # comes back later: due when its retry is
    assert isinstance(step, Again)
    assert in_flight(svc, now)[busy.key] == pytest.approx(now + step.delay + GRACE)
    step = ingest(entry, svc, now)  # handed to the store: due now, while the store runs
    assert isinstance(step, Store)
    assert in_flight(svc, now)[entry.key] == pytest.approx(now + GRACE)
    stored(svc, step.article, entry.key, step.token, now)  # the life ends: forgotten
    assert entry.key not in in_flight(svc, now)
    assert not svc.redis.hexists(svc.keys.inflight_deliveries, entry.key)
    seen_again = ingest(entry, svc, now)  # a duplicate delivery
    assert seen_again == Done(Outcome.SEEN) and entry.key not in in_flight(svc, now)
