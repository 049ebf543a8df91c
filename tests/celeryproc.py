"""Real Celery worker and beat processes for the pipeline tests, on a Redis database of the
tests' own (flushed before and after), with settings given as NEWS_* variables."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent


class CeleryProcs:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        broker = env.get("NEWS_BROKER_URL") or env["NEWS_REDIS_URL"]
        self.client = Celery("newsworker-test", broker=broker)
        self.client.conf.task_serializer = "json"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        cmd = [sys.executable, "-m", "celery", "-A", "worker.app", *args]
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_worker(
        self,
        name: str = "worker",
        concurrency: int = 2,
        pool: str = "prefork",
        queues: str = "feeds,pages,store",
    ) -> subprocess.Popen:
        """A worker (on all queues unless told): ``concurrency`` pool processes (prefork) or
        threads."""
        node = f"{name}-{uuid.uuid4().hex[:6]}@%h"
        return self._spawn(
            name,
            [
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-P",
                pool,
                "-l",
                "info",
                "-n",
                node,
                "-E",
            ],
        )

    def start_beat(self, name: str = "beat") -> subprocess.Popen:
        """A beat; a second one needs a name of its own (its own schedule file and log)."""
        schedule = self.workdir / f"{name}-schedule"
        return self._spawn(name, ["beat", "-l", "info", "-s", str(schedule)])

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group: no warm shutdown, no goodbye."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def kill_main(self, name: str) -> None:
        """SIGKILL the worker's main process only (its pool processes are orphaned)."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def pool_processes(self, name: str) -> list[int]:
        """The pids of a prefork worker's pool processes (its children)."""
        pid = self.procs[name].pid
        children: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
        return children

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()

    def send(self, task: str, *args, queue: str) -> None:
        self.client.send_task(task, args=list(args), queue=queue)

    def logs(self, whole: bool = False) -> str:
        """The processes' logs (the last 4,000 characters of each unless whole)."""
        return "\n".join(
            f"--- {p.name} ---\n" + p.read_text(errors="replace")[0 if whole else -4000 :]
            for p in sorted(self.workdir.glob("*.log"))
        )


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    procs: CeleryProcs,
    explain: Callable[[], str] | None = None,
) -> None:
    """Wait for ``check``; on a timeout fail with ``explain()`` (the state that matters)
    and the processes' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for name, proc in procs.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} died (code {proc.returncode})\n{procs.logs()}")
        time.sleep(0.25)
    state = ""
    if explain is not None:
        try:
            state = explain()
        except Exception as exc:  # noqa: BLE001 - the diagnosis must not hide the timeout
            state = f"(no diagnosis: {type(exc).__name__}: {exc})"
    raise AssertionError(f"timed out waiting for {what}\n{state}\n{procs.logs()}")


def broker_state(url: str, prefix: str = "news") -> str:
    """What a stuck recovery looks like from Redis: queue lengths, every unacked message
    (task, entry, age of its delivery), the unacked mutex, leases with their TTL, crash
    counts and the failed list."""
    client = redis.Redis.from_url(url)
    try:
        now = time.time()
        lines = ["--- broker state ---"]
        for queue in ("feeds", "pages", "store"):
            lines.append(f"queue {queue}: {client.llen(queue)}")
        index = dict(client.zrange("unacked_index", 0, -1, withscores=True))
        unacked = client.hgetall("unacked")
        lines.append(f"unacked: {len(unacked)} (index {len(index)})")
        for tag, raw in unacked.items():
            try:
                message, exchange, routing_key = json.loads(raw)
                headers = message.get("headers", {})
                task = headers.get("task")
                body = json.loads(base64.b64decode(message["body"]))
                about = json.dumps(body[:2])[:200]
                eta = headers.get("eta")
                redelivered = headers.get("redelivered")
            except Exception as exc:  # noqa: BLE001
                task, about, eta, redelivered = "?", repr(exc), None, None
                exchange = routing_key = "?"
            score = index.get(tag)
            age = f"{now - score:.1f}s" if score is not None else "not in index"
            lines.append(
                f"  {tag.decode()} {task} to {exchange}/{routing_key} delivered {age} ago "
                f"eta={eta} redelivered={redelivered} {about}"
            )
        orphans = set(index) - set(unacked)
        if orphans:
            lines.append(f"in unacked_index only: {sorted(t.decode() for t in orphans)}")
        lines.append(f"unacked_mutex: ttl {client.pttl('unacked_mutex')} ms")
        for key in client.scan_iter(f"{prefix}:lease:*"):
            lines.append(f"lease {key.decode()}: ttl {client.pttl(key)} ms {client.get(key)!r}")
        for key in client.scan_iter(f"{prefix}:crashes:*"):
            lines.append(f"crashes {key.decode()}: {client.get(key)!r}")
        for record in client.lrange(f"{prefix}:failed", 0, -1):
            lines.append(f"failed: {record.decode()[:300]}")
        return "\n".join(lines)
    finally:
        client.close()


def flush_db(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def pipeline_settings(
    redis_url: str, store_url: str, feeds_file: Path, data_dir: Path
) -> dict[str, str]:
    """NEWS_* settings of a fast pipeline run on the tests' local servers: private hosts
    allowed, a generous host rate, a 1 s beat tick, short leases and visibility timeout."""
    return {
        "NEWS_REDIS_URL": redis_url,
        "NEWS_STORE_URL": store_url,
        "NEWS_FEEDS_FILE": str(feeds_file),
        "NEWS_DATA_DIR": str(data_dir),
        "NEWS_FETCH_ALLOW_PRIVATE": "1",
        "NEWS_HOST_RATE": "40",
        "NEWS_HOST_BURST": "10",
        "NEWS_BEAT_TICK": "1",
        "NEWS_LEASE_TTL": "5",
        "NEWS_VISIBILITY_TIMEOUT": "8",
    }
