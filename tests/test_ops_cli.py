"""The operator pieces on their own, on a real Redis: the failed list commands on records the
tasks write, the metrics endpoint (auth, 404, the text format), the log formats and the
quieted Celery chatter."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
import urllib.error
import urllib.request

import pytest

from config.settings import load_settings
from tasks import jobs, metrics
from tasks.errors import NotFound
from tasks.ingest import entry as entry_life
from tasks.models import FeedEntry
from tasks.services import Resources
from tests.conftest import TEST_REDIS_URL
from tests.test_cli_service import article
from worker import logs
from worker.cli import main
from worker.cli.failed import record_id
from worker.metrics import make_server

pytestmark = pytest.mark.integration


@pytest.fixture
def service_env(monkeypatch, keys, tmp_path):
    monkeypatch.setenv("NEWS_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("NEWS_REDIS_PREFIX", keys.prefix)
    monkeypatch.setenv("NEWS_STORE_URL", f"sqlite:///{tmp_path}/articles.db")
    r = Resources(load_settings())
    yield r
    r.close()


def entry(n: int, feed: str) -> FeedEntry:
    return FeedEntry(
        key=f"{feed}-{n}",
        feed_id=feed,
        feed_url=f"https://news.example.com/{feed}/rss",
        entry_id=f"urn:{feed}:{n}",
        link=f"https://news.example.com/{feed}/{n}",
        title=f"Story {n}",
    )


def test_failed_list_show_drop(service_env, redis_client, keys, capsys):
    r = service_env
    entry_life.fail(
        jobs.services(r),
        entry(1, "world"),
        NotFound("404 Not Found", url="https://x/1"),
        time.time(),
    )
    entry_life.fail(
        jobs.services(r),
        entry(2, "sport"),
        NotFound("404 Not Found", url="https://x/2"),
        time.time(),
    )
    jobs.record_store_failure(r, article(3, "world", "2026-11-01"), None, OSError("disk"), None)
    raws = redis_client.lrange(keys.failed, 0, -1)
    ids = [record_id(raw) for raw in raws]
    capsys.readouterr()

    assert main(["failed", "list"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert [line.split()[0] for line in lines] == ids
    assert "not_found  https://news.example.com/world/1" in lines[0]
    assert " article  store  https://news.example.com/world/3" in lines[2]
    assert out.err == "3 failed record(s)\n"
    assert main(["failed", "list", "--feed", "World"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [ids[0], ids[2]]

    assert main(["failed", "show", ids[1][:6]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == ids[1] and shown["entry"]["feed_id"] == "sport"
    assert shown["error"]["kind"] == "not_found"

    assert main(["failed", "drop", ids[1]]) == 0
    assert redis_client.lrange(keys.failed, 0, -1) == [raws[0], raws[2]]
    assert main(["failed", "show", ids[1]]) == 2
    assert capsys.readouterr().err.endswith(
        f"no failed record with id {ids[1]} (see `newsworker failed list`)\n"
    )
    assert main(["failed", "drop", "--all"]) == 0
    assert capsys.readouterr().err == "newsworker: 2 failed record(s) dropped\n"
    assert redis_client.llen(keys.failed) == 0


@pytest.fixture
def endpoint(service_env, monkeypatch):
    settings = load_settings({}, metrics_port=0, metrics_basic_auth="ops:pw")
    settings = type(settings)(
        **{
            **settings.__dict__,
            "redis_url": TEST_REDIS_URL,
            "redis_prefix": service_env.keys.prefix,
            "store_url": service_env.settings.store_url,
        }
    )
    server = make_server(settings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_endpoint_auth_paths_and_counts(service_env, endpoint):
    r = service_env
    assert get(endpoint + "/metrics")[0] == 401
    assert get(endpoint + "/metrics", "ops:wrong")[0] == 401
    assert get(endpoint + "/", "ops:pw")[0] == 404
    metrics.count(r.redis, r.keys, "world", "stored", 1_000.0)
    metrics.count(r.redis, r.keys, "world", "stored", 1_001.0)
    metrics.count(r.redis, r.keys, "world", "error_timeout", 1_002.0)
    metrics.poll(r.redis, r.keys, "world", "not_modified", "news.example.com")
    metrics.poll(r.redis, r.keys, "world", "deferred", "news.example.com")
    metrics.deferral(r.redis, r.keys, 'odd"host\\')
    status, text = get(endpoint + "/metrics", "ops:pw")
    assert status == 200
    lines = text.splitlines()
    assert "# TYPE newsworker_articles_total counter" in lines
    assert 'newsworker_polls_total{feed="world",outcome="304"} 1' in lines
    assert 'newsworker_polls_total{feed="world",outcome="deferred"} 1' in lines
    assert 'newsworker_politeness_deferrals_total{host="news.example.com"} 1' in lines
    assert 'newsworker_politeness_deferrals_total{host="odd\\"host\\\\"} 1' in lines
    assert "newsworker_failed_entries 0" in lines and "newsworker_store_articles 0" in lines
    # no feed is registered here, so the per-feed families read only the registry's feeds
    assert not [line for line in lines if line.startswith("newsworker_articles_total{")]


def test_counting_http_client_counts_by_kind_and_outcome(service_env, http_server):
    from tests.httpserver import Reply

    r = service_env
    http_server.route("/p.html", Reply(200, {"Content-Type": "text/html"}, "<p>x</p>"))
    http_server.route("/gone.html", Reply(404, {"Content-Type": "text/html"}, "no"))
    client = metrics.CountingHttpClient(
        load_settings({}, fetch_allow_private=True), r.redis, r.keys
    )
    client.get(http_server.url("/p.html"), kind="page")
    with pytest.raises(NotFound):
        client.get(http_server.url("/gone.html"), kind="page")
    client.close()
    counts = dict(
        (f"{lab['kind']}|{lab['outcome']}", v)
        for lab, v in metrics.labelled(r.redis, r.keys.metrics("fetches"), "kind", "outcome")
    )
    assert counts == {"page|ok": 1, "page|not_found": 1}


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in (*logs.NOISY, *logs.NOISE_CRITICAL)}
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_the_same_keys(root_logging):
    out = io.StringIO()
    logs.configure("info", "json", stream=out)
    log = logging.getLogger("tasks.poll.stage")
    log.info("polled feed=%s url=%s status=%s new=%d", "world", "https://x/rss", "ok", 3)
    log.error(
        "entry failed (not_found) feed=%s url=%s entry=%s: gone", "world", "https://x/1", "k1"
    )
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    for record in (first, second):
        assert {"time", "level", "logger", "message", *logs.EVENT_KEYS} <= set(record)
    assert (first["feed"], first["url"], first["outcome"], first["entry"]) == (
        "world",
        "https://x/rss",
        "ok",
        None,
    )
    assert first["new"] == "3" and first["task_id"] is None
    assert (second["entry"], second["level"], second["outcome"]) == ("k1", "error", "failed")
    log.warning("poll failed feed=%s url=%s kind=not_found status=%s: HTTP 404", "w", "u", 404)
    log.info("article stored feed=%s url=%s id=%s", "world", "https://x/2", "abc")
    failed, stored = (json.loads(line) for line in out.getvalue().splitlines()[2:])
    assert (failed["outcome"], failed["status"], failed["kind"]) == ("error", "404", "not_found")
    assert (stored["outcome"], stored["feed"], stored["id"]) == ("stored", "world", "abc")


def test_text_lines_and_celery_chatter_only_at_debug(root_logging):
    out = io.StringIO()
    logs.configure("info", "text", stream=out)
    logging.getLogger("celery.beat").info("Scheduler: Sending due task poll-due-feeds")
    logging.getLogger("flower.inspector").error("Inspect method stats failed")
    logging.getLogger("celery.worker.consumer").error("Cannot connect to redis")
    logging.getLogger("tasks.jobs").info("article stored feed=world url=https://x/1 id=abc")
    text = out.getvalue()
    assert "Sending due task" not in text and "Inspect method" not in text
    assert "ERROR celery.worker.consumer: Cannot connect to redis" in text
    assert "INFO tasks.jobs: article stored feed=world url=https://x/1 id=abc" in text
    out = io.StringIO()
    logs.configure("debug", "text", stream=out)
    logging.getLogger("celery.beat").info("Scheduler: Sending due task poll-due-feeds")
    assert "Sending due task" in out.getvalue()


def test_health_refuses_an_unknown_check(service_env, capsys):
    assert main(["health", "--check", "redis,disk"]) == 1
    assert (
        capsys.readouterr().err
        == "unhealthy: unknown check disk (known: redis, store, worker, beat)\n"
    )


def test_a_queued_message_carries_its_age(monkeypatch):
    """worker.app stamps sent_at on every message; the queue report reads it back."""
    import time

    import redis
    from celery import Celery

    import worker.app  # noqa: F401 - connects the sent_at stamp to every app's publishing
    from tests.celeryproc import flush_db
    from tests.conftest import E2E_REDIS_URL

    flush_db(E2E_REDIS_URL)
    client = redis.Redis.from_url(E2E_REDIS_URL)
    # an app of its own: worker.app's may hold a broker pool of another test's Redis
    app = Celery("queue-age-test", broker=E2E_REDIS_URL)
    try:
        app.send_task("news.poll_feed", args=["world"], queue="feeds")
        time.sleep(0.3)
        app.send_task("news.poll_feed", args=["sport"], queue="feeds")
        info = metrics.queue_info(client, ["feeds", "pages"], time.time())
        assert info["pages"] == {"depth": 0, "oldest_age": None}
        assert info["feeds"]["depth"] == 2 and 0.3 <= info["feeds"]["oldest_age"] < 30
    finally:
        app.close()
        flush_db(E2E_REDIS_URL)
        client.close()
