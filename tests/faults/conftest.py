"""Fixtures of the fault suite: a redis-server of the test's own, stores, the news site."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tasks.store import open_store
from tests.conftest import TEST_POSTGRES_URL, read_articles
from tests.faults.procs import RedisServer


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (nothing else uses it; the test may kill it). The
    fault tests never touch the machine's Redis: they break and flush their own."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/articles.db"


@pytest.fixture
def pg_schema():
    """A PostgreSQL schema of the test's own, dropped afterwards."""
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(TEST_POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def stored_once(store_url: str, stories) -> None:
    """Every story stored, each exactly once (one row, revision 1), with its own body."""
    articles = read_articles(store_url)
    by_title = {a.title: a for a in articles}
    assert len(articles) == len(by_title) == len(stories), sorted(by_title)
    store = open_store(store_url)
    try:
        for story in stories:
            article = by_title[story.title]
            assert article.body == story.body
            assert store.stats(article.id)["revision"] == 1, story.title
    finally:
        store.close()
