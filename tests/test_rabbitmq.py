"""RabbitMQ as the broker (NEWS_BROKER_URL=amqp://...), Redis kept for all state, end to end:
real Celery workers on a RabbitMQ vhost of the test's own (created with rabbitmqctl, deleted
afterwards) on 127.0.0.1:5672. Every story is stored once; no message goes through Redis;
and a worker killed with SIGKILL has its unacked messages redelivered at once (no visibility
timeout to wait for), so a second worker finishes the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import redis

from tests.celeryproc import ROOT, CeleryProcs, flush_db, pipeline_settings, wait_until
from tests.conftest import E2E_REDIS_URL, read_articles
from tests.httpserver import quiet
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture
def vhost():
    name = f"newsworker-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    rabbitmqctl("delete_vhost", name)


def queues(vhost: str) -> dict[str, int]:
    out = rabbitmqctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name", "messages")
    return {name: int(n) for name, n in (line.split() for line in out.splitlines() if line)}


@pytest.fixture
def rabbit_env(tmp_path, http_server, vhost):
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(feeds_toml(http_server))
    store_url = f"sqlite:///{tmp_path}/articles.db"
    settings = pipeline_settings(E2E_REDIS_URL, store_url, feeds_file, tmp_path / "data")
    settings.pop("NEWS_VISIBILITY_TIMEOUT")  # a Redis transport option; RabbitMQ redelivers
    env = {"NEWS_BROKER_URL": AMQP + vhost, **settings}
    flush_db(E2E_REDIS_URL)
    procs = CeleryProcs(env, tmp_path)
    yield env, procs
    procs.stop_all()
    flush_db(E2E_REDIS_URL)


def test_rabbitmq_broker_with_redis_state_survives_a_killed_worker(rabbit_env, http_server, vhost):
    env, procs = rabbit_env
    quiet(http_server)  # the killed worker hangs up mid-response
    stories = serve_site(http_server, rss_count=6, atom_count=4, page_delay=1.0)
    store_url = env["NEWS_STORE_URL"]
    procs.start_worker("first", concurrency=1)
    procs.start_beat()

    def fetching_now() -> list[str]:
        """The page the first worker is fetching this instant (each takes 1 s to serve)."""
        pages = [r for r in list(http_server.requests) if r.path.startswith("/news/")]
        return [pages[-1].path] if pages and time.time() - pages[-1].at < 0.6 else []

    wait_until(
        lambda: len(read_articles(store_url)) >= 1 and bool(fetching_now()), 90, "a fetch", procs
    )
    (victim,) = fetching_now()
    procs.kill("first")  # SIGKILL in the middle of a fetch: its message is unacked
    killed_at = time.time()
    assert {"feeds", "pages", "store"} <= set(queues(vhost))
    assert len(read_articles(store_url)) < len(stories)
    procs.start_worker("second", concurrency=2)
    # Far sooner than NEWS_VISIBILITY_TIMEOUT (3600 s): RabbitMQ redelivers on disconnect.
    wait_until(lambda: len(read_articles(store_url)) >= len(stories), 60, "the rest", procs)
    again = [r.at for r in http_server.requests if r.path == victim][1:]
    assert len(again) == 1  # the killed run's entry was fetched again, once
    print(f"\nrabbitmq: the killed run's page fetched again {again[0] - killed_at:.1f} s after")
    articles = read_articles(store_url)
    assert len(articles) == len(stories) == len({a.title for a in articles})
    client = redis.Redis.from_url(E2E_REDIS_URL)
    assert not any(client.exists(q) for q in ("feeds", "pages", "store"))  # no Redis queues
    assert client.keys("_kombu*") == [] and client.dbsize() > 0  # state is in Redis
    client.close()
    pages = [r.path for r in http_server.requests if r.path.startswith("/news/")]
    assert len(set(pages)) == len(stories)
    status = cli_status(env)
    assert status.returncode == 0 and "queue pages: 0" in status.stdout.splitlines()
    gone = cli_status({**env, "NEWS_BROKER_URL": AMQP + "no-such-vhost"})
    assert gone.returncode != 0 and "Traceback" not in gone.stderr
    assert (
        gone.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "newsworker: broker at amqp://guest:**@127.0.0.1:5672/no-such-vhost does not answer"
        )
    )


def cli_status(env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "status"],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
