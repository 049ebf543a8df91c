"""`newsworker run` as a user starts it: embedded Redis, worker, beat and Flower in one
foreground process; articles arrive; SIGTERM stops everything, nothing left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from config.settings import load_settings
from tasks.store import open_store
from tests.celeryproc import ROOT
from tests.newssite import feeds_toml, serve_site
from worker import service as supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "NEWS_DATA_DIR": str(tmp_path / "data"),
            "NEWS_STORE_URL": f"sqlite:///{tmp_path}/data/articles.db",
        },
        **extra,
    )
    return env


def test_run_refuses_a_redis_that_does_not_answer(tmp_path):
    env = base_env(tmp_path, NEWS_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    out = cli("run", env=env)
    assert out.returncode == 2
    assert "does not answer" in out.stderr and "Traceback" not in out.stderr


def test_run_refuses_a_bad_feeds_file(tmp_path):
    bad = tmp_path / "feeds.toml"
    bad.write_text('[[feeds]]\nname = "x"\nurl = "gopher://x"\n')
    out = cli("run", env=base_env(tmp_path, NEWS_FEEDS_FILE=str(bad)))
    assert out.returncode == 2
    assert out.stderr.strip().endswith("'url' must be an http(s) URL, got 'gopher://x'")


def wait_for(check, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        assert proc.poll() is None, f"newsworker run exited early ({proc.returncode})"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def count_articles(store_url: str) -> int:
    try:
        store = open_store(store_url)
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    try:
        return store.count()
    finally:
        store.close()


def test_run_on_embedded_defaults_collects_articles_and_stops_cleanly(tmp_path, http_server):
    stories = serve_site(http_server, rss_count=3, atom_count=2)
    feeds = tmp_path / "feeds.toml"  # a bad entry beside the good ones is refused alone
    feeds.write_text(feeds_toml(http_server) + '\n[[feeds]]\nname = "Bad"\nurl = "ftp://x/"\n')
    flower, metrics = free_port(), free_port()
    env = base_env(
        tmp_path,
        NEWS_FEEDS_FILE=str(feeds),
        NEWS_FETCH_ALLOW_PRIVATE="1",
        NEWS_FLOWER_PORT=str(flower),
        NEWS_METRICS_PORT=str(metrics),
        NEWS_HOST_RATE="50",
        NEWS_BEAT_TICK="1",
    )
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "run"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        store_url = env["NEWS_STORE_URL"]
        wait_for(lambda: count_articles(store_url) == len(stories), 90, "articles", proc)
        wait_for(lambda: port_open(flower), 60, "Flower", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{flower}/metrics", timeout=10) as resp:
            assert b"flower_" in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as resp:
            assert f"newsworker_store_articles {len(stories)}" in resp.read().decode()
        redis_url = (tmp_path / "data" / "embedded-redis.url").read_text().strip()
        redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        shown = cli("export", env=env)
        assert shown.returncode == 0 and len(shown.stdout.splitlines()) == len(stories)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert not port_open(flower) and not port_open(redis_port) and not port_open(metrics)
        # every child has a process group of its own, all in the session of `newsworker run`
        leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
        assert leftovers.stdout.strip() == ""
    finally:
        if proc.poll() is None:
            # every child has a process group of its own, all in the run's session
            subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)], check=False)
        log.close()
    console = (tmp_path / "run.log").read_text()
    assert "stopped" in console
    assert "entry refused, the others are polled:" in console and "feed #3 ('Bad')" in console
    # the console is our events: Celery's banner, per-tick lines and Flower's noise are not
    assert "polled feed=test-rss" in console and "article stored feed=" in console
    for noise in ("Sending due task", "-------------- ", "[tasks]", "Registered tasks", "ready."):
        assert noise not in console, noise


def test_restart_back_off_doubles_resets_when_stable_and_stops_a_crash_loop():
    child = supervisor.Child("worker", [])
    assert [supervisor.restart_delay(child, 1.0) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert supervisor.restart_delay(child, 300.0) == 1.0  # up 5 minutes: healthy again
    assert [supervisor.restart_delay(child, 0.5) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    with pytest.raises(supervisor.CrashLoop, match="worker keeps exiting .5 times in a row"):
        supervisor.restart_delay(child, 0.5)
    late = supervisor.Child("beat", [], quick_exits=5)
    assert supervisor.restart_delay(late, 100.0) == 1.0


def test_a_child_that_keeps_dying_is_restarted_then_stops_the_service(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(supervisor, "RESTART_FIRST", 0.05)
    monkeypatch.setattr(supervisor, "RESTART_MAX", 0.2)
    runs = tmp_path / "runs"
    dying = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"]
    service = supervisor.Service(load_settings({}, data_dir=str(tmp_path)))
    monkeypatch.setattr(service, "commands", lambda: [("beat", dying)])
    service.start(dict(os.environ))
    started = time.monotonic()
    assert service.watch([]) == 1
    service.stop()
    assert runs.read_text() == "x" * supervisor.CRASH_LOOP  # first run and 4 restarts
    assert service.children[0].restarts == supervisor.CRASH_LOOP - 1
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2 + 0.2  # the back-off was kept
    err = capsys.readouterr().err
    assert err.strip().endswith(
        "beat keeps exiting (5 times in a row within 60 s of starting), last exit code 3; stopping"
    )


def started_pids(log_path, name: str) -> list[int]:
    marker = f"started {name} (pid "
    text = log_path.read_text(errors="replace")
    return [
        int(line.split(marker, 1)[1].split(")")[0]) for line in text.splitlines() if marker in line
    ]


def test_run_restarts_a_killed_worker_and_articles_keep_arriving(tmp_path, http_server):
    stories = serve_site(http_server, rss_count=4, atom_count=2, page_delay=1.0)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(feeds_toml(http_server))
    env = base_env(
        tmp_path,
        NEWS_FEEDS_FILE=str(feeds),
        NEWS_FETCH_ALLOW_PRIVATE="1",
        NEWS_FLOWER_PORT="0",
        NEWS_METRICS_PORT=str(free_port()),
        NEWS_HOST_RATE="50",
        NEWS_BEAT_TICK="1",
        NEWS_WORKER_CONCURRENCY="1",
        NEWS_LEASE_TTL="5",
        NEWS_VISIBILITY_TIMEOUT="8",
        NEWS_LOG_LEVEL="info",
    )
    log_path = tmp_path / "run.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "run"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        store_url = env["NEWS_STORE_URL"]
        wait_for(lambda: count_articles(store_url) >= 1, 90, "a first article", proc)
        before = count_articles(store_url)
        assert before < len(stories)
        (first,) = started_pids(log_path, "worker")
        os.kill(first, signal.SIGKILL)  # the Celery worker's main process
        wait_for(lambda: len(started_pids(log_path, "worker")) == 2, 30, "a restart", proc)
        assert "worker exited with code -9; restarting in 1 s (restart 1)" in log_path.read_text()
        wait_for(lambda: count_articles(store_url) == len(stories), 120, "the rest", proc)
        assert proc.poll() is None  # the service never stopped
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
        assert leftovers.stdout.strip() == ""
    finally:
        if proc.poll() is None:
            # every child has a process group of its own, all in the run's session
            subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)], check=False)
        log.close()
    assert "stopped (restarts: worker 1)" in log_path.read_text()
