"""The SSRF guard: which resolved addresses we may connect to, enforced on every connection.

This module owns the address policy (private, loopback, link-local, multicast, reserved,
CGNAT and their IPv6 forms, site-local fec0::/10 included, are refused unless the operator
opens them; IPv4-mapped, 6to4 and Teredo addresses are judged by their IPv4 address) and a
requests adapter whose urllib3 connections resolve the host, check EVERY address, and connect
to the checked address itself. Checking after resolution, at connect time, is what keeps DNS
rebinding and redirects out: no name is resolved twice. The Host header, TLS SNI and
certificate checks still use the host name, because only the socket is ours.

It also owns the per-request deadline watchdog: sockets opened or reused for a request are
registered with the current thread's deadline, and shut down when it passes, so a server
that drips bytes cannot hold a worker past the deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.ssl_ import create_urllib3_context

from tasks.errors import BlockedAddress

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[Any, Any, Any, str, tuple]
Resolver = Callable[[str, int], list[AddrInfo]]

# Cloud metadata endpoints: blocked even with NEWS_FETCH_ALLOW_PRIVATE, unless an operator
# lists them in NEWS_FETCH_ALLOW_NETWORKS on purpose.
METADATA = frozenset(map(ipaddress.ip_address, ("169.254.169.254", "fd00:ec2::254")))
# Python's is_global does not cover these on every version (and calls 192.0.0.9 and .10
# global): CGNAT (RFC 6598) and the IETF protocol assignments 192.0.0.0/24 (RFC 6890), once
# a cloud metadata range (Oracle Cloud's 192.0.0.192). Named, so no version lets them through.
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NOT_PUBLIC_V4 = (CGNAT, ipaddress.ip_network("192.0.0.0/24"))


def default_resolver(host: str, port: int) -> list[AddrInfo]:
    """All TCP addresses of host (getaddrinfo)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class AddressPolicy:
    """Decides whether one IP address may be connected to (for a host name and port).

    ``allow_hosts`` ("host:port", as NEWS_FETCH_ALLOW_HOSTS normalises them) opens one service:
    a listed name opens whatever it resolves to at that port, metadata addresses excepted; a
    listed address opens that address at that port, metadata included (listed on purpose).
    """

    def __init__(
        self,
        allow_private: bool = False,
        allow_networks: Iterable[str] = (),
        allow_hosts: Iterable[str] = (),
    ) -> None:
        self.allow_private = allow_private
        self.allow_networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)
        self.allow_hosts = frozenset(h.lower() for h in allow_hosts)

    @classmethod
    def from_settings(cls, settings) -> AddressPolicy:
        return cls(
            settings.fetch_allow_private,
            settings.fetch_allow_networks,
            settings.fetch_allow_hosts,
        )

    def allows(
        self, address: str | IPAddress, host: str | None = None, port: int | None = None
    ) -> bool:
        ip = unmap(ipaddress.ip_address(address))
        if any(ip.version == net.version and ip in net for net in self.allow_networks):
            return True
        if port is not None and self.allow_hosts:
            if _endpoint(str(ipaddress.ip_address(address)), port) in self.allow_hosts:
                return True
            if host and _endpoint(host, port) in self.allow_hosts and ip not in METADATA:
                return True
        if ip in METADATA or ip.is_multicast or ip.is_unspecified:
            return False
        if is_public(ip):
            return True
        # 240.0.0.0/4 and broadcast are never a real server, even on a private network.
        return self.allow_private and not (ip.version == 4 and ip.is_reserved)


def _endpoint(host: str, port: int) -> str:
    """host:port as NEWS_FETCH_ALLOW_HOSTS writes it (IPv6 in brackets, lower case)."""
    host = host.strip("[]").lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def has_zone_id(host: str) -> bool:
    """An IPv6 literal with a zone id (fe80::1%eth0, %25 in a URL): interface-scoped, so
    never a server on the internet; refused as permanent, not retried as a name lookup."""
    return "%" in host


def unmap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries, else ip: IPv4-mapped (::ffff:a.b.c.d), 6to4
    (2002::/16, RFC 3056) or Teredo (2001::/32, RFC 4380: the client's address). A packet to
    a tunnel address ends at its IPv4 address (2002:7f00:1:: is 127.0.0.1), so it is judged
    by that address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip
    for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
        if inner is not None:
            return inner
    return ip


def is_public(ip: IPAddress) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, reserved...)."""
    if ip.version == 4 and any(ip in net for net in NOT_PUBLIC_V4):
        return False
    if ip.version == 6 and ip.is_site_local:  # fec0::/10: deprecated (RFC 3879), still private
        return False
    return ip.is_global and not (ip.is_reserved or ip.is_link_local or ip.is_loopback)


# --- the deadline watchdog -------------------------------------------------------------


class Deadline:
    """Shuts down every socket registered with it once `seconds` have passed (the process's
    one watchdog thread does it: a thread of its own per request cost ~100 us of CPU and a
    thread start for every fetch)."""

    def __init__(self, seconds: float) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False
        self.done = False  # the request ended: the watchdog drops it
        self._seconds = max(seconds, 0.0)

    def __enter__(self) -> Deadline:
        _current.deadline = self
        _watchdog().add(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc) -> None:
        self.done = True
        _current.deadline = None

    def register(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


class _Watchdog:
    """One daemon thread that expires the process's deadlines in time order. A finished
    request's deadline is dropped when it comes up (at most fetch_deadline later)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        threading.Thread(target=self._run, name="fetch-deadlines", daemon=True).start()

    def add(self, when: float, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._due, (when, next(self._order), deadline))
            if self._due[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].done or self._due[0][0] <= now):
                    deadline = heapq.heappop(self._due)[2]
                    if not deadline.done:
                        deadline._expire()
                self._cond.wait(self._due[0][0] - now if self._due else None)


_watchdog_of: tuple[int, _Watchdog] | None = None
_watchdog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    """This process's watchdog (a forked child starts its own: threads do not survive fork)."""
    global _watchdog_of
    current = _watchdog_of
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _watchdog_lock:
        if _watchdog_of is None or _watchdog_of[0] != os.getpid():
            _watchdog_of = (os.getpid(), _Watchdog())
        return _watchdog_of[1]


def _forget_watchdog_lock() -> None:
    global _watchdog_lock
    _watchdog_lock = threading.Lock()  # a fork may have caught it held by another thread


os.register_at_fork(after_in_child=_forget_watchdog_lock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing to cut
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


def _register(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.register(sock)


# --- guarded urllib3 connections ---------------------------------------------------------


class _GuardedMixin(HTTPConnection):
    """Replaces urllib3's resolve-and-connect with resolve, check every address, connect."""

    policy: AddressPolicy = AddressPolicy()
    resolver: Resolver = staticmethod(default_resolver)

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        if has_zone_id(host):
            raise BlockedAddress(f"{self.host}: an IPv6 zone id (a local interface) is refused")
        try:
            infos = type(self).resolver(host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        blocked = [
            info[4][0]
            for info in infos
            if not self.policy.allows(info[4][0], host=host, port=self.port)
        ]
        if blocked or not infos:
            log.warning("blocked address host=%s addresses=%s", self.host, blocked)
            raise BlockedAddress(f"{self.host} resolves to a blocked address {blocked}")
        sock = self._connect_any(infos)
        _register(sock)
        return sock

    def _connect_any(self, infos: list[AddrInfo]) -> socket.socket:
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        if isinstance(error, TimeoutError | socket.timeout):
            raise ConnectTimeoutError(self, f"connect to {self.host} timed out") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def request(self, *args, **kwargs):
        _register(self.sock)  # a reused keep-alive socket belongs to this request's deadline
        return super().request(*args, **kwargs)


class GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    pass


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection goes through the SSRF guard; TLS verified."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver = default_resolver,
        ca_bundle: str | None = None,
        **kwargs,
    ) -> None:
        attrs = {"policy": policy, "resolver": staticmethod(resolver)}
        http_conn = type("HTTPConn", (GuardedHTTPConnection,), attrs)
        https_conn = type("HTTPSConn", (GuardedHTTPSConnection,), attrs)
        self._pools = {
            "http": type("HTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("HTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }
        self._ca_bundle = ca_bundle
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        if self._ca_bundle:
            kwargs["ssl_context"] = _context_with(self._ca_bundle)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def send(self, request, **kwargs):  # type: ignore[override]
        kwargs["verify"] = True  # TLS is always verified, whatever a caller asks
        kwargs["proxies"] = {}  # a proxy would hide the real destination from the guard
        return super().send(request, **kwargs)


def _context_with(ca_bundle: str) -> ssl.SSLContext:
    """The default verifying context plus the operator's extra CA bundle."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.load_default_certs()
    context.load_verify_locations(cafile=ca_bundle)
    return context
