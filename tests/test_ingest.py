"""The ingest stage with its real services: Redis (seen, leases, rate buckets, duplicates),
the HTTP client, and a local server. Each outcome of one entry, and what it leaves behind."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from config.settings import load_settings
from tasks.dedupe import entry_key
from tasks.dedupe.duplicates import DuplicateIndex
from tasks.dedupe.seen import SeenIndex
from tasks.errors import HostBusy, ServerError
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import HostBudget, Politeness
from tasks.ingest.stage import IngestServices, ingest
from tasks.models import FeedEntry, Outcome
from tests.httpserver import Reply
from tests.newssite import make_story, page_html

pytestmark = pytest.mark.integration

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def make_services(redis_client, keys):
    clients = []

    def build(**overrides) -> IngestServices:
        base = {
            "fetch_allow_private": True,
            "host_rate": 50.0,
            "host_burst": 10,
            "fetch_deadline": 3.0,
        }
        settings = load_settings({}, **(base | overrides))
        http = HttpClient(settings, budget=HostBudget(redis_client, keys, settings))
        clients.append(http)
        return IngestServices(
            http=http,
            politeness=Politeness(redis_client, keys, settings, http),
            seen=SeenIndex(redis_client, keys, settings.seen_ttl),
            duplicates=DuplicateIndex(redis_client, keys, ttl=settings.neardup_ttl),
            lease_ttl=60,
        )

    yield build
    for http in clients:
        http.close()


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
    result = ingest(entry_for(http_server.url("/a.html")), make_services(), time.time())
    assert result.outcome is Outcome.STORED
    assert result.article.title == story.title and result.article.body == story.body
    assert result.article.feed_id == "f" and result.article.entry_id == "g-1"


def test_a_missing_page_falls_back_to_the_feeds_content(make_services, http_server):
    entry = entry_for(http_server.url("/gone.html"), "<p>The feed had the whole story.</p>")
    result = ingest(entry, make_services(), time.time())
    assert result.outcome is Outcome.STORED
    assert result.article.body == "The feed had the whole story."
    assert result.article.title == "From the feed"


def test_a_blocked_address_falls_back_too(make_services, http_server):
    entry = entry_for(http_server.url("/a.html"), "<p>Only in the feed.</p>")
    svc = make_services(fetch_allow_private=False)
    result = ingest(entry, svc, time.time())
    assert result.outcome is Outcome.STORED and result.article.body == "Only in the feed."
    assert http_server.hits("/a.html") == []


def test_nothing_to_build_is_a_failure_and_releases_the_lease(make_services, http_server):
    svc = make_services()
    entry = entry_for(http_server.url("/gone.html"))
    result = ingest(entry, svc, time.time())
    assert result.outcome is Outcome.FAILED and result.error.kind == "no_content"
    assert svc.seen.lease(entry.key, 5)  # free again


def test_robots_disallowed_pages_are_never_fetched(make_services, http_server):
    http_server.route(
        "/robots.txt",
        Reply(200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private/\n"),
    )
    svc = make_services()
    entry = entry_for(http_server.url("/private/a.html"), "<p>feed text</p>")
    result = ingest(entry, svc, time.time())
    assert result.outcome is Outcome.DISALLOWED
    assert http_server.hits("/private/a.html") == []
    assert svc.seen.is_seen(entry.key, time.time())


def test_seen_and_leased_entries_are_left_alone(make_services, http_server):
    svc = make_services()
    now = time.time()
    seen = entry_for(http_server.url("/a.html"), guid="seen")
    svc.seen.mark_seen(seen.key, now)
    assert ingest(seen, svc, now).outcome is Outcome.SEEN
    busy = entry_for(http_server.url("/a.html"), guid="busy")
    assert svc.seen.lease(busy.key, 60)
    assert ingest(busy, svc, now).outcome is Outcome.LEASED
    assert http_server.hits("/a.html") == []


def test_a_host_without_tokens_defers(make_services, http_server):
    http_server.route("/a.html", Reply(200, HTML, page_html(make_story(2, "ingest"))))
    svc = make_services(host_rate=0.01, host_burst=2)  # robots.txt and one page
    now = time.time()
    assert (
        ingest(entry_for(http_server.url("/a.html"), guid="1"), svc, now).outcome is Outcome.STORED
    )
    with pytest.raises(HostBusy) as busy:
        ingest(entry_for(http_server.url("/a.html"), guid="2"), svc, now)
    assert busy.value.retry_after > 1
    assert [r.path for r in http_server.requests] == ["/robots.txt", "/a.html"]
    assert svc.seen.lease(entry_key("2", http_server.url("/a.html"), None, None), 5)


def test_retry_after_pauses_the_host_for_every_worker(make_services, http_server):
    http_server.route("/busy.html", Reply(503, {"Retry-After": "120", **HTML}, "later"))
    svc = make_services()
    now = time.time()
    with pytest.raises(ServerError):
        ingest(entry_for(http_server.url("/busy.html"), "<p>x</p>"), svc, now)
    assert svc.politeness.budget.take(http_server.url("/other.html"), now + 1) > 100


def test_the_same_story_under_another_url_is_a_duplicate(make_services, http_server):
    story = make_story(3, "ingest")
    http_server.route("/one.html", Reply(200, HTML, page_html(story)))
    http_server.route("/two.html", Reply(200, HTML, page_html(story)))
    svc = make_services()
    first = ingest(entry_for(http_server.url("/one.html"), guid="1"), svc, time.time())
    second = ingest(entry_for(http_server.url("/two.html"), guid="2"), svc, time.time())
    assert first.outcome is Outcome.STORED
    assert second.outcome is Outcome.DUPLICATE
    assert second.article.duplicate_of == first.article.id


def test_a_recrawl_of_a_gone_page_keeps_the_stored_article(make_services, http_server):
    entry = entry_for(http_server.url("/gone.html"), "<p>A one-line teaser.</p>")
    result = ingest(replace(entry, recrawl=True), make_services(), time.time())
    assert result.outcome is Outcome.FAILED and result.article is None  # no teaser over it
    assert result.error.kind == "not_found"
