"""The only module that does HTTP: one session, limits, the SSRF guard, and error mapping.

This module owns how a URL becomes a :class:`FetchedPage` or a classified
:class:`~tasks.errors.IngestError`: connect/read timeouts and a total deadline, a byte cap on
the decoded body (gzip bombs stop at the cap), the content-type allow-list per kind, redirects
followed by hand (every hop through the SSRF guard, loops detected) and TLS always verified.
With a budget (tasks.fetch.politeness.HostBudget, what every worker uses), every request it
sends, each redirect hop included, first takes a token for its host; a host over budget is
HostBusy before any connection is made. It must not parse what it fetches, nor retry: the
caller decides what to do with a transient error. It sleeps in one case only: a redirect hop
whose host has no token waits for the next one, within the fetch deadline, because giving up
would waste the token the first request spent and, on a busy host, a redirecting page would
spend tokens forever without arriving (measured: tests/test_politeness_e2e.py stalled).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import replace
from http.cookiejar import DefaultCookiePolicy
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from config.settings import Settings
from tasks import errors
from tasks.errors import BadUrl, FetchTimeout, TooLarge, TooManyRedirects, WrongContentType
from tasks.fetch.netguard import AddressPolicy, Deadline, GuardedAdapter, Resolver, default_resolver
from tasks.formats import charset_param, retry_after
from tasks.models import FetchedPage

log = logging.getLogger(__name__)

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024
HOST_POOLS = 128  # hosts whose idle connections a process keeps
# RFC 9309 §2.5: crawlers must parse at least 500 KiB of robots.txt; the rest may be dropped.
ROBOTS_MAX_BYTES = 512 * 1024
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Real feeds are often served as text/html or text/plain; the feed parser decides for those.
FEED_LOOSE_TYPES = frozenset({"text/html", "text/plain"})
ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,application/json;q=0.8,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.5",
}


class Budget(Protocol):
    """Per-host request budget: ``check(url)`` takes a token for url's host (0.0) or raises
    HostBusy; ``check(url, hop=True)`` returns the seconds until a token is due instead."""

    def check(self, url: str, *, hop: bool = False) -> float: ...


class HttpClient:
    """Fetches one URL at a time within the limits of Settings; one instance per process (or
    thread). ``budget``: the per-host token bucket every request takes from; None only where
    no host budget applies (one-off CLI fetches, tests of the client itself)."""

    def __init__(
        self,
        settings: Settings,
        *,
        budget: Budget | None = None,
        session: requests.Session | None = None,
        resolver: Resolver = default_resolver,
    ) -> None:
        self.settings = settings
        self.budget = budget
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxies or netrc from the environment
        # Stateless fetches: the same URL gives the same bytes on every worker, and metered
        # paywalls cannot count us through cookies.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = GuardedAdapter(
            AddressPolicy.from_settings(settings),
            resolver=resolver,
            ca_bundle=settings.ca_bundle,
            # keep-alive connections to this many hosts (requests keeps 10: a crawl over more
            # hosts than that closed and reopened its connections in turn)
            pool_connections=HOST_POOLS,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def get(
        self,
        url: str,
        *,
        kind: str = "page",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchedPage:
        """GET url; a FetchedPage for 2xx and 304, else a classified IngestError."""
        check_url(url)
        if kind not in ACCEPT:
            raise ValueError(f"unknown fetch kind {kind!r}")
        started = time.monotonic()
        deadline_at = started + self.settings.fetch_deadline
        with Deadline(self.settings.fetch_deadline) as deadline:
            try:
                response, redirects = self._follow(url, kind, headers, deadline_at)
                with closing(response):
                    page = self._page(response, kind, max_bytes, redirects, deadline_at)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise classify(exc, url, deadline.expired) from exc
            if deadline.expired:  # a cut socket can look like a short but complete response
                raise FetchTimeout("deadline passed", url=url)
        page = _with_elapsed(page, time.monotonic() - started)
        log.debug("fetched url=%s status=%s bytes=%d", url, page.status, len(page.body))
        return page

    def close(self) -> None:
        self.session.close()

    def _follow(
        self, url: str, kind: str, headers: Mapping[str, str] | None, deadline_at: float
    ) -> tuple[requests.Response, tuple[tuple[int, str], ...]]:
        """Send, following redirects by hand: at most fetch_max_redirects hops, no loops."""
        redirects: list[tuple[int, str]] = []
        seen = {url}
        while True:
            self._take_token(url, bool(redirects), deadline_at)
            response = self._send(url, kind, headers, deadline_at)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_CODES or not location:
                return response, tuple(redirects)
            response.close()
            url = urljoin(url, location.strip())
            redirects.append((response.status_code, url))
            check_url(url)
            if url in seen:
                raise TooManyRedirects(f"redirect loop back to {url}", url=url)
            if len(redirects) > self.settings.fetch_max_redirects:
                raise TooManyRedirects(f"more than {len(redirects) - 1} redirects", url=url)
            seen.add(url)

    def _take_token(self, url: str, hop: bool, deadline_at: float) -> None:
        """A token for url's host before the request: HostBusy for the first request; a
        redirect hop waits for its token (see the module docstring), HostBusy when that token
        is not due within the deadline."""
        if self.budget is None:
            return
        while (wait := self.budget.check(url, hop=hop)) > 0:
            if time.monotonic() + wait >= deadline_at:
                raise errors.HostBusy(
                    f"no token for a redirect hop within the deadline ({wait:.1f}s)",
                    url=url,
                    retry_after=wait,
                )
            time.sleep(wait)

    def _send(
        self, url: str, kind: str, headers: Mapping[str, str] | None, deadline_at: float
    ) -> requests.Response:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout("deadline passed during redirects", url=url)
        s = self.settings
        timeout = (min(s.fetch_connect_timeout, remaining), min(s.fetch_read_timeout, remaining))
        sent = {"User-Agent": s.user_agent, "Accept": ACCEPT[kind], **(headers or {})}
        return self.session.get(
            url, headers=sent, stream=True, allow_redirects=False, timeout=timeout
        )

    def _page(
        self,
        response: requests.Response,
        kind: str,
        max_bytes: int | None,
        redirects: tuple,
        deadline_at: float,
    ) -> FetchedPage:
        """The FetchedPage of a final response, or the error its status or headers mean."""
        url, status = response.url, response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status != 304 and not 200 <= status < 300:
            wait = retry_after(headers.get("retry-after"), time.time())
            raise errors.error_for_status(status, url, wait)
        content_type = headers.get("content-type", "")
        body = b""
        if status != 304:
            check_content_type(kind, content_type, url)
            body = read_body(response, self._cap(kind, max_bytes), deadline_at, kind == "robots")
        return FetchedPage(url, status, headers, body, charset_param(content_type), redirects)

    def _cap(self, kind: str, max_bytes: int | None) -> int:
        if max_bytes is not None:
            return max_bytes
        if kind == "robots":
            return ROBOTS_MAX_BYTES
        return self.settings.feed_max_bytes if kind == "feed" else self.settings.fetch_max_bytes


def read_body(
    response: requests.Response, cap: int, deadline_at: float, truncate: bool = False
) -> bytes:
    """The decoded body, streamed: TooLarge past cap (or cut there), FetchTimeout past deadline."""
    url = response.url
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"declared {declared} bytes, cap {cap}", url=url)
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > cap:
            if truncate:
                return bytes(body[:cap])
            raise TooLarge(f"body passed the cap of {cap} bytes", url=url)
        if time.monotonic() > deadline_at:
            raise FetchTimeout("deadline passed while reading the body", url=url)
    return bytes(body)


def check_url(url: str) -> None:
    """BadUrl unless url is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise BadUrl(f"bad URL: {exc}", url=url) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadUrl("not an absolute http(s) URL", url=url)


def check_content_type(kind: str, content_type: str, url: str) -> None:
    """WrongContentType unless the media type suits kind; a missing type is left to the parser."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or kind == "robots":
        return
    if kind == "page" and media in PAGE_TYPES:
        return
    if kind == "feed" and (media in FEED_LOOSE_TYPES or _xml_or_json(media)):
        return
    raise WrongContentType(f"{media} is not a {kind}", url=url)


def _xml_or_json(media: str) -> bool:
    return media.endswith(("/xml", "+xml", "/json", "+json"))


def classify(exc: Exception, url: str, expired: bool) -> errors.IngestError:
    """The IngestError a network exception stands for (one place for every network failure)."""
    if expired or isinstance(exc, requests.Timeout | TimeoutError):
        return FetchTimeout(f"timed out: {exc}" if not expired else "deadline passed", url=url)
    if isinstance(exc, requests.exceptions.SSLError | ssl.SSLError):
        return errors.TlsError(f"TLS failed: {exc}", url=url)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.URLRequired):
        return BadUrl(f"bad URL: {exc}", url=url)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return errors.HttpError(f"undecodable body: {exc}", url=url)
    return errors.ConnectError(f"connection failed: {exc}", url=url)


def _with_elapsed(page: FetchedPage, elapsed: float) -> FetchedPage:
    return replace(page, elapsed=elapsed)
