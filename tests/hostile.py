"""Hostile HTTP server behaviours for the fetcher's tests, built on tests.httpserver.LocalServer.

Each behaviour is a route (a Reply or a handler writing to the socket itself). `install`
puts every case on one server and returns the table of cases with the outcome the fetcher
must give: an error kind from tasks.errors, or "ok". Big bodies are written from one small
buffer, never built in memory, so the server's own memory stays small.
"""

from __future__ import annotations

import socket
import time
import zlib
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache

from tests.httpserver import LocalServer, Reply, Request

MIB = 1024 * 1024
FEED_ITEMS = 50_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + bytes(256) + b"%%EOF\n"


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    expect: str  # an IngestError kind, "ok", or "disallowed" (robots)
    kind: str = "page"
    slow: bool = False  # takes the whole deadline


def _safe_write(req: Request, data: bytes) -> bool:
    try:
        req.handler.wfile.write(data)
        req.handler.wfile.flush()
        return True
    except OSError:  # the client hung up: what a good fetcher does
        return False


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def drip(interval: float = 0.5, total: int = 10_000):
    """Headers at once, then one body byte every interval seconds."""

    def handler(req: Request) -> None:
        if not _safe_write(
            req, head(200, {"Content-Type": "text/html", "Content-Length": str(total)})
        ):
            return
        for _ in range(total):
            time.sleep(interval)
            if not _safe_write(req, b"x"):
                return

    return handler


def drip_headers(interval: float = 0.5, count: int = 1000):
    """The status line, then one header byte every interval seconds, never ending the head."""

    def handler(req: Request) -> None:
        if not _safe_write(req, b"HTTP/1.1 200 OK\r\nX-Slow: "):
            return
        for _ in range(count):
            time.sleep(interval)
            if not _safe_write(req, b"a"):
                return

    return handler


def hang(seconds: float = 15.0):
    """Accept, read the request, answer nothing."""

    def handler(req: Request) -> None:
        time.sleep(seconds)
        req.handler.close_connection = True

    return handler


def big_body(size: int, declared: bool = True, content_type: str = "text/html"):
    """A body of size bytes written from a 64 KiB buffer; undeclared = no length, close at end."""
    block = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"

    def handler(req: Request) -> None:
        headers = {"Content-Type": content_type}
        headers.update({"Content-Length": str(size)} if declared else {"Connection": "close"})
        req.handler.close_connection = True
        if not _safe_write(req, head(200, headers)):
            return
        for start in range(0, size, len(block)):
            if not _safe_write(req, block[: size - start]):
                return

    return handler


@lru_cache(maxsize=2)
def gzip_bomb_bytes(decoded: int = 256 * MIB) -> bytes:
    """gzip of `decoded` zero bytes (about 1000:1)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    parts = [packer.compress(zeros) for _ in range(decoded // MIB)]
    return b"".join(parts) + packer.flush()


def gzip_bomb(decoded: int = 256 * MIB) -> Reply:
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    return Reply(200, headers, gzip_bomb_bytes(decoded))


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, {"Location": location, "Content-Type": "text/plain"}, b"moved")


def closed_port() -> int:
    """A loopback port nobody listens on (bound then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def feed_body(items: int = FEED_ITEMS) -> bytes:
    parts = [
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Big</title>'
    ]
    for i in range(items):
        parts.append(
            b"<item><title>Item %d</title><link>https://example.com/n/%d</link>"
            b"<guid>n-%d</guid></item>" % (i, i, i)
        )
    parts.append(b"</channel></rss>\n")
    return b"".join(parts)


ROBOTS = "User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n"


def install(server: LocalServer, *, chain: int = 30) -> list[Case]:
    """Route every hostile behaviour on server; the cases with their expected outcomes."""
    html = {"Content-Type": "text/html"}
    routes = {
        "/drip": drip(),
        "/drip-headers": drip_headers(),
        "/hang": hang(),
        "/big": big_body(60 * MIB),
        "/big-undeclared": big_body(60 * MIB, declared=False),
        "/gzip-bomb": gzip_bomb(),
        "/loop/a": redirect("/loop/b"),
        "/loop/b": redirect("/loop/a"),
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-closed": redirect(f"http://127.0.0.1:{closed_port()}/"),
        "/429": Reply(429, {"Retry-After": "7"}, b"slow down"),
        "/503": Reply(503, {"Retry-After": formatdate(time.time() + 120, usegmt=True)}),
        "/404": Reply(404, html, b"gone"),
        "/410": Reply(410, html, b"gone for good"),
        "/pdf": Reply(200, {"Content-Type": "application/pdf"}, PDF),
        "/png": Reply(200, {"Content-Type": "image/png"}, PNG),
        "/wrong-charset": Reply(
            200, {"Content-Type": "text/html; charset=utf-8"}, "<p>caf\xe9</p>".encode("latin-1")
        ),
        "/no-charset": Reply(200, html, "<p>caf\xe9</p>".encode()),
        "/empty": Reply(200, html, b""),
        "/garbage": Reply(200, html, bytes(range(256)) * 256),
        "/feed": Reply(200, {"Content-Type": "application/rss+xml"}, feed_body()),
        "/robots.txt": Reply(200, {"Content-Type": "text/plain"}, ROBOTS),
        "/private/page": Reply(200, html, b"<p>secret</p>"),
        "/nested": Reply(200, html, b"<div>" * 50_000 + b"deep text" + b"</div>" * 50_000),
        "/text-node": Reply(200, html, b"<html><body><p>" + b"word " * 1_900_000 + b"</p>"),
        "/laughs": Reply(200, {"Content-Type": "application/rss+xml"}, BILLION_LAUGHS),
        "/xxe": Reply(200, {"Content-Type": "application/rss+xml"}, XXE),
    }
    for i in range(chain):
        routes[f"/chain/{i}"] = redirect(f"/chain/{i + 1}", 301)
    routes[f"/chain/{chain}"] = Reply(200, html, b"<p>end of chain</p>")
    for path, route in routes.items():
        server.route(path, route)
    return CASES


CASES = [
    Case("slow drip (1 byte / 0.5 s)", "/drip", "timeout", slow=True),
    Case("slow headers (drip)", "/drip-headers", "timeout", slow=True),
    Case("accept and hang", "/hang", "timeout", slow=True),
    Case("60 MB body, declared", "/big", "too_large"),
    Case("60 MB body, no length", "/big-undeclared", "too_large"),
    Case("gzip bomb 256 MiB", "/gzip-bomb", "too_large"),
    Case("redirect loop", "/loop/a", "redirects"),
    Case("30-hop redirect chain", "/chain/0", "redirects"),
    Case("redirect to 169.254.169.254", "/to-metadata", "blocked"),
    Case("redirect to closed port", "/to-closed", "connect"),
    Case("429 Retry-After: 7", "/429", "http_transient"),
    Case("503 Retry-After: HTTP date", "/503", "http_transient"),
    Case("404", "/404", "not_found"),
    Case("410", "/410", "not_found"),
    Case("PDF body", "/pdf", "content_type"),
    Case("PNG body", "/png", "content_type"),
    Case("wrong declared charset", "/wrong-charset", "ok"),
    Case("missing charset", "/no-charset", "ok"),
    Case("empty body", "/empty", "ok"),
    Case("binary garbage as HTML", "/garbage", "ok"),
    Case("feed of 50,000 items", "/feed", "ok", kind="feed"),
    Case("robots.txt disallows path", "/private/page", "disallowed"),
    Case("50,000 nested <div>s", "/nested", "ok"),
    Case("9.5 MB single text node", "/text-node", "ok"),
    Case("billion-laughs feed", "/laughs", "ok", kind="feed"),
    Case("XXE feed", "/xxe", "ok", kind="feed"),
]

LAUGH_LEVELS = "abcdefghij"  # each entity is ten of the one before: 10^9 "lol"s in &j;
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol">'
    + "".join(
        f'<!ENTITY {b} "{f"&{a};" * 10}">'
        for a, b in zip(LAUGH_LEVELS, LAUGH_LEVELS[1:], strict=False)
    )
    + ']><rss version="2.0"><channel><title>&j;</title><item><title>x</title></item></channel></rss>'
).encode()
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item></channel></rss>'
)


def hostile_settings(**overrides):
    """Small deadline, default caps, loopback opened (169.254.0.0/16 stays blocked)."""
    from config.settings import load_settings

    values = {"fetch_deadline": 3.0, "fetch_connect_timeout": 1.0}
    values["fetch_allow_networks"] = ("127.0.0.0/8",)
    return load_settings({}, **{**values, **overrides})


def run_case(client, case: Case, url: str, politeness=None):
    """(outcome, result): outcome is "ok", "disallowed" or the IngestError kind."""
    from tasks.errors import IngestError

    if case.expect == "disallowed":
        allowed = politeness.allowed(url, time.time())
        return ("ok" if allowed else "disallowed"), allowed
    try:
        return "ok", client.get(url, kind=case.kind)
    except IngestError as exc:
        return exc.kind, exc


POLITE_RATE, POLITE_BURST = 5.0, 2


def crawl_politely(redis_url: str, prefix: str, base: str, paths: list[str], worker: str) -> None:
    """One OS process fetching paths, waiting as a re-queued task would (rate 5/s, burst 2)."""
    import redis

    from tasks.errors import HostBusy
    from tasks.fetch.http import HttpClient
    from tasks.fetch.politeness import HostBudget
    from tasks.rediskeys import Keys

    settings = hostile_settings(host_rate=POLITE_RATE, host_burst=POLITE_BURST)
    budget = HostBudget(redis.Redis.from_url(redis_url), Keys(prefix), settings)
    http = HttpClient(settings, budget=budget)
    for path in paths:
        while True:
            try:
                http.get(base + path, headers={"X-Worker": worker})
                break
            except HostBusy as busy:  # the client took no token: wait as a re-queued task would
                time.sleep(busy.retry_after or 0.1)


def crawl_in_processes(
    server: LocalServer, prefix: str, paths: list[str], processes: int, redis_url: str | None = None
) -> list[int | None]:
    """Fetch paths from `processes` spawned OS processes sharing one host budget; exit codes."""
    import multiprocessing

    from tests.conftest import TEST_REDIS_URL

    spawn = multiprocessing.get_context("spawn")
    args = [
        (redis_url or TEST_REDIS_URL, prefix, server.url(""), paths[n::processes], str(n))
        for n in range(processes)
    ]
    workers = [spawn.Process(target=crawl_politely, args=a) for a in args]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    return [w.exitcode for w in workers]
