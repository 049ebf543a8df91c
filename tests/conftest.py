"""Shared fixtures: a real Redis on 127.0.0.1 under a key prefix of the test's own, a local
HTTP server. A missing service is a failure, never a skip."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import redis

from tasks.rediskeys import Keys
from tests.httpserver import LocalServer

# Tests use their own database number on the machine's Redis, and a unique key prefix per
# test so that concurrent runs never touch each other's keys.
TEST_REDIS_URL = os.environ.get("NEWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
# The pipeline tests' own database (broker + state), flushed by them: one per concurrent run.
E2E_REDIS_URL = os.environ.get("NEWS_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/8")
TEST_POSTGRES_URL = os.environ.get(
    "NEWS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _drop_prefix(client: redis.Redis, prefix: str) -> None:
    batch = [  # "{prefix:nd}:..." too: the duplicate index's keys carry a hash tag
        *client.scan_iter(match=f"{prefix}:*", count=1000),
        *client.scan_iter(match=f"{{{prefix}:*", count=1000),
    ]
    for i in range(0, len(batch), 500):
        client.delete(*batch[i : i + 500])


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the tests need Redis at {TEST_REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def keys(redis_client):
    """A Keys with a prefix of this test's own; its keys are deleted before and after."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    _drop_prefix(redis_client, prefix)
    yield Keys(prefix)
    _drop_prefix(redis_client, prefix)


@pytest.fixture
def count_commands(redis_client, monkeypatch):
    """Call it to start recording the names of the commands redis_client sends; returns the
    list they are appended to (round trips are design figures the tests check)."""

    def start() -> list[str]:
        sent: list[str] = []
        real = redis_client.execute_command

        def counting(*args, **options):
            sent.append(args[0])
            return real(*args, **options)

        monkeypatch.setattr(redis_client, "execute_command", counting)
        return sent

    return start


@pytest.fixture
def http_server():
    with LocalServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A store URL of each backend: SQLite in tmp_path, PostgreSQL in a schema of the test's
    own, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nested/dir/articles.db"  # absolute: sqlite:////tmp/...
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield f"{TEST_POSTGRES_URL}?schema={schema}"
    with psycopg.connect(TEST_POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def read_articles(store_url: str) -> list:
    """Every article in the store at store_url (opened and closed for the read)."""
    from tasks.store import open_store

    store = open_store(store_url)
    try:
        return list(store.iter_articles())
    finally:
        store.close()
