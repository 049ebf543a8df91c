"""The Prometheus endpoint: `GET /metrics` renders the counters tasks.metrics keeps in Redis.

Served by `newsworker metrics` (and, as a child, by `newsworker run`) on NEWS_METRICS_ADDRESS
and NEWS_METRICS_PORT, behind HTTP basic auth when NEWS_METRICS_BASIC_AUTH is set. It holds no
state: any number of them may run, each scrape reads Redis afresh, so the numbers are the
service-wide totals whatever worker or machine counted them. A thread per request (a slow
client never holds up a scrape); each scrape opens the store for its COUNT and closes it.
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

from config.settings import DEFAULT_REDIS_URL, Settings
from tasks import metrics
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def store_count(store_url: str) -> int | None:
    """Articles in the store, None when it cannot be opened (the scrape still answers)."""
    from tasks.store import open_store

    try:
        store = open_store(store_url)
    except Exception as exc:  # noqa: BLE001 - a store problem is shown, never fatal here
        log.warning("metrics: store not readable: %s", exc)
        return None
    try:
        return store.count()
    finally:
        store.close()


def scrape(client: redis.Redis, settings: Settings) -> str:
    from worker.app import QUEUES

    fams = metrics.families(
        client,
        Keys(settings.redis_prefix),
        settings,
        queues=QUEUES,
        store_articles=store_count(settings.store_url),
        now=time.time(),
    )
    return metrics.render(fams)


def authorized(header: str | None, basic_auth: str | None) -> bool:
    if not basic_auth:
        return True
    expected = "Basic " + base64.b64encode(basic_auth.encode()).decode()
    return header is not None and hmac.compare_digest(header.encode(), expected.encode())


def handler_for(render: Callable[[], str], basic_auth: str | None) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path.split("?")[0] != "/metrics":
                return self.reply(404, "not found: the metrics are at /metrics\n")
            if not authorized(self.headers.get("Authorization"), basic_auth):
                return self.reply(401, "authorization required\n", auth=True)
            try:
                body = render()
            except redis.RedisError as exc:
                return self.reply(503, f"Redis: {exc}\n")
            return self.reply(200, body, CONTENT_TYPE)

        def reply(self, code: int, text: str, ctype="text/plain", auth=False) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if auth:
                self.send_header("WWW-Authenticate", 'Basic realm="newsworker"')
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # scrapes are not events
            log.debug("metrics: " + format, *args)

    return Handler


def make_server(settings: Settings, redis_url: str | None = None) -> ThreadingHTTPServer:
    """The server, bound (raises OSError when the port is taken); serve_forever() runs it."""
    url = redis_url or settings.redis_url or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    handler = handler_for(lambda: scrape(client, settings), settings.metrics_basic_auth)
    server = ThreadingHTTPServer((settings.metrics_address, settings.metrics_port), handler)
    server.daemon_threads = True
    return server
