"""The article store against real SQLite (tmp_path) and real PostgreSQL (a schema of the
test's own, dropped afterwards): the same tests for both backends."""

from __future__ import annotations

import dataclasses
import multiprocessing
import uuid

import psycopg
import pytest

from tasks.dedupe import content_hash
from tasks.errors import StoreError
from tasks.models import Article, Outcome, article_id
from tasks.store import open_store
from tests.conftest import TEST_POSTGRES_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def store(store_url):
    store = open_store(store_url)
    yield store
    store.close()


def make(
    url: str = "https://example.com/a", body: str = "First paragraph.\n\nSecond one.", **kw
) -> Article:
    values = dict(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title="Título “quoted”",
        body=body,
        fetched_at="2024-05-02T10:00:00+00:00",
        content_hash=content_hash(body),
        word_count=len(body.split()),
        published_at="2024-05-02T08:30:00+09:00",
        source="Example",
        authors=("Ann Lee", "Bo Kim"),
        tags=("Economy", "日本"),
        feed_id="feed-1",
        feed_url="https://example.com/rss",
        entry_id="g-1",
    )
    values.update(kw)
    return Article(**values)


def test_upsert_new_then_same_again(store):
    article = make()
    assert store.upsert(article, "2024-05-02T10:00:00+00:00") is Outcome.STORED
    assert store.upsert(article, "2024-05-03T10:00:00+00:00") is Outcome.UNCHANGED
    assert store.count() == 1
    assert store.stats(article.id) == {
        "first_seen": "2024-05-02T10:00:00+00:00",
        "last_seen": "2024-05-03T10:00:00+00:00",
        "revision": 1,
    }
    assert store.revisions(article.id) == []


def test_round_trip_is_lossless(store):
    article = make(
        summary=None,
        section="Business",
        image_url="https://example.com/i.jpg",
        duplicate_of="f" * 32,
        updated_at="2024-05-02T09:00:00+09:00",
    )
    store.upsert(article, "2024-05-02T10:00:00+00:00")
    loaded = store.get(article.id)
    assert loaded == article
    assert Article.from_dict(loaded.to_dict()) == article
    assert store.get("0" * 32) is None and store.stats("0" * 32) is None


def test_changed_body_makes_a_revision_and_keeps_the_old(store):
    old = make()
    new = make(body="First paragraph, corrected.\n\nSecond one.", title="New title")
    store.upsert(old, "2024-05-02T10:00:00+00:00")
    assert store.upsert(new, "2024-05-04T10:00:00+00:00") is Outcome.REVISED
    assert store.get(old.id) == new
    assert store.revisions(old.id) == [old]
    stats = store.stats(old.id)
    assert stats["revision"] == 2 and stats["first_seen"] == "2024-05-02T10:00:00+00:00"
    assert store.upsert(new, "2024-05-05T10:00:00+00:00") is Outcome.UNCHANGED
    assert store.count() == 1


def test_iter_filters_by_feed_and_date(store):
    a = make("https://example.com/a", published_at="2024-05-01T23:30:00-05:00")  # May 2, 04:30 UTC
    b = make("https://example.com/b", published_at="2024-05-01T12:00:00+00:00", feed_id="feed-2")
    c = make("https://example.com/c", published_at=None, fetched_at="2024-04-20T00:00:00+00:00")
    for article in (a, b, c):
        store.upsert(article, "2024-05-02T10:00:00+00:00")
    assert [x.id for x in store.iter_articles()] == [c.id, b.id, a.id]
    assert [x.id for x in store.iter_articles(feed_id="feed-2")] == [b.id]
    assert [x.id for x in store.iter_articles(since="2024-05-02")] == [a.id]
    assert [x.id for x in store.iter_articles(since="2024-05-01T13:00:00+02:00")] == [b.id, a.id]
    assert [x.id for x in store.iter_articles(feed_id="feed-1", since="2024-04-01")] == [c.id, a.id]


def test_iter_pages_through_many(store):
    for i in range(1203):
        store.upsert(
            make(f"https://example.com/{i}", published_at=None), "2024-05-02T10:00:00+00:00"
        )
    assert len({a.id for a in store.iter_articles()}) == 1203


def _write_many(url: str, worker: int, queue) -> None:
    store = open_store(url)
    outcomes = []
    for i in range(40):
        article = make(f"https://example.com/shared-{i}")
        if worker % 2:
            article = dataclasses.replace(
                article, body=f"edit {worker}", content_hash=content_hash(f"edit {worker}")
            )
        outcomes.append(store.upsert(article, f"2024-05-02T10:00:0{worker}+00:00").value)
    store.close()
    queue.put(outcomes)


def test_several_processes_write_at_once(store_url):
    open_store(store_url).close()  # schema in place
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_write_many, args=(store_url, w, queue)) for w in range(4)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert all(proc.exitcode == 0 for proc in procs)
    store = open_store(store_url)
    assert store.count() == 40
    stored = sum(r.count("stored") for r in results)
    assert stored == 40  # every id inserted exactly once
    for i in range(40):
        one = article_id(f"https://example.com/shared-{i}")
        assert store.stats(one)["revision"] == 1 + len(store.revisions(one))
    store.close()


def test_bad_urls_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown store URL"):
        open_store("mysql://x/y")
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store("sqlite://relative.db")
    with pytest.raises(ValueError, match="schema"):
        open_store(f"{TEST_POSTGRES_URL}?schema=bad;name")
    with pytest.raises(StoreError) as info:
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert "\n" not in str(info.value) and "127.0.0.1:1" in str(info.value)


def test_sqlite_relative_path_and_wal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/sub/articles.db")
    store.upsert(make(), "2024-05-02T10:00:00+00:00")
    assert (tmp_path / "data" / "sub" / "articles.db").exists()
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_postgres_reconnects_after_the_server_drops_us():
    schema = f"test_{uuid.uuid4().hex[:12]}"
    store = open_store(f"{TEST_POSTGRES_URL}?schema={schema}")
    try:
        store.upsert(make(), "2024-05-02T10:00:00+00:00")
        with psycopg.connect(TEST_POSTGRES_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (store.conn.info.backend_pid,))
        with pytest.raises(StoreError):
            store.upsert(make("https://example.com/b"), "2024-05-02T10:00:00+00:00")
        assert (
            store.upsert(make("https://example.com/b"), "2024-05-02T10:00:00+00:00")
            is Outcome.STORED
        )
        assert store.count() == 2
    finally:
        store.close()
        with psycopg.connect(TEST_POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_nul_characters_are_stripped_not_refused(store):
    article = make(
        title="Headline\x00",
        body="Body\x00 text.",
        authors=("Ann\x00 Lee",),
        tags=("\x00Economy",),
        summary="Sum\x00mary",
    )
    assert store.upsert(article, "2024-05-02T10:00:00+00:00") is Outcome.STORED
    loaded = store.get(article.id)
    assert (loaded.title, loaded.body, loaded.summary) == ("Headline", "Body text.", "Summary")
    assert (loaded.authors, loaded.tags) == (("Ann Lee",), ("Economy",))
    assert store.upsert(article, "2024-05-03T10:00:00+00:00") is Outcome.UNCHANGED


def test_an_older_version_never_overwrites_a_newer_one(store):
    """A delayed store message (fetched earlier) arrives after a re-crawl stored a newer one."""
    newer = make(
        body="Corrected text.",
        content_hash=content_hash("Corrected text."),
        fetched_at="2024-05-03T10:00:00+00:00",
    )
    older = make(fetched_at="2024-05-03T11:00:00+02:00")  # 09:00 UTC: an hour before
    store.upsert(newer, "2024-05-03T10:00:00+00:00")
    assert store.upsert(older, "2024-05-03T12:00:00+00:00") is Outcome.UNCHANGED
    assert store.get(newer.id) == newer and store.revisions(newer.id) == []
    assert store.stats(newer.id)["last_seen"] == "2024-05-03T12:00:00+00:00"
    later = make(
        body="Third text.",
        content_hash=content_hash("Third text."),
        fetched_at="2024-05-04T10:00:00+00:00",
    )
    assert store.upsert(later, "2024-05-04T10:00:00+00:00") is Outcome.REVISED
    assert store.revisions(newer.id) == [newer]
