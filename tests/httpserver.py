"""A real HTTP server on 127.0.0.1 for the tests: routes map a path to a response or a handler.

    with LocalServer() as server:
        server.route("/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, body))
        server.route("/slow", lambda req: ...)   # a handler gets the Request, may write itself
        server.url("/feed.xml")
        server.requests  # every request seen: path, headers, arrival time

A handler may return a Reply, or write to ``req.handler.wfile`` itself and return None
(for drips, hangs and other misbehaviour).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str = b""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    at: float
    handler: BaseHTTPRequestHandler


Route = Reply | Callable[[Request], Reply | None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server's naming
                owner._serve(self)

            def do_HEAD(self) -> None:
                owner._serve(self)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, response: Route) -> None:
        self.routes[path] = response

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        req = Request(
            h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, time.time(), h
        )
        with self._lock:
            self.requests.append(req)
        route = self.routes.get(h.path) or self.routes.get(h.path.split("?", 1)[0])
        reply = route(req) if callable(route) else route
        if route is None:
            reply = Reply(404, {"Content-Type": "text/plain"}, b"not found")
        if reply is None:
            return
        body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
        h.send_response(reply.status)
        headers = {"Content-Length": str(len(body)), **reply.headers}
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def quiet(server: LocalServer) -> LocalServer:
    """Stop the server printing tracebacks when a client hangs up on it (hostile tests do)."""
    server._httpd.handle_error = lambda request, client_address: None
    return server


def serve_tls(server: LocalServer, certfile: str, keyfile: str) -> LocalServer:
    """Make server speak HTTPS with the given certificate (call before entering it)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    return server
