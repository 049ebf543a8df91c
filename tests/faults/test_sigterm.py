"""SIGTERM to a worker mid-run. To its main process (what `docker stop` and `newsworker run`
send): warm shutdown, the tasks in flight finish, queued ones stay queued, no page is fetched
twice. To its whole process group (systemd's default KillMode=control-group): the pool's
processes die at once and their tasks go back to the queue (acks_late, reject on worker lost)
and are redone. Either way the next worker brings every article in, each stored once."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.celeryproc import CeleryProcs, wait_until
from tests.conftest import read_articles
from tests.faults.conftest import stored_once
from tests.faults.procs import pipeline_env
from tests.newssite import feeds_toml, serve_site

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]


def page_hits(server) -> dict[str, int]:
    hits: dict[str, int] = {}
    for req in list(server.requests):
        if req.path.startswith("/news/"):
            hits[req.path] = hits.get(req.path, 0) + 1
    return hits


@pytest.mark.parametrize("target", ["main", "group"])
def test_sigterm_mid_run_loses_nothing(tmp_path, http_server, own_redis, sqlite_url, target):
    """target: the worker's main process only, or its whole process group (the pool's
    children get SIGTERM too, as with a container runtime killing every process)."""
    env = pipeline_env(tmp_path, http_server, own_redis.url, sqlite_url, feeds_toml(http_server))
    stories = serve_site(http_server, page_delay=1.0)
    procs = CeleryProcs(env, tmp_path)
    try:
        first = procs.start_worker("first")
        procs.start_beat()
        wait_until(lambda: len(read_articles(sqlite_url)) >= 3, 90, "a few stored", procs)
        in_flight = sum(page_hits(http_server).values()) - len(read_articles(sqlite_url))
        (os.killpg if target == "group" else os.kill)(first.pid, signal.SIGTERM)
        try:
            code = first.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker did not stop within 30 s of SIGTERM") from None
        procs.procs.pop("first")
        stored_then = len(read_articles(sqlite_url))
        assert stored_then < len(stories)
        procs.start_worker("second")
        wait_until(
            lambda: len(read_articles(sqlite_url)) >= len(stories), 120, "every story", procs
        )
    finally:
        procs.stop_all()
    assert code == 0, "warm shutdown"
    assert in_flight > 0  # SIGTERM did land mid-run
    hits = page_hits(http_server)
    if target == "main":  # warm shutdown: the tasks in flight finished, none is redone
        assert set(hits.values()) == {1}
    else:  # the pool's processes die at once: their tasks went back to the queue, redone once
        assert set(hits.values()) <= {1, 2}
        assert sum(1 for n in hits.values() if n == 2) <= 2  # at most one per pool process
    stored_once(sqlite_url, stories)
