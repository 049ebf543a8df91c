"""tasks.fetch.http against a hostile server on 127.0.0.1: classified errors, deadline, bounded memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tasks.errors import BadUrl, ServerError, TooLarge, TooManyRedirects, WrongContentType
from tasks.fetch.http import HttpClient, check_content_type
from tests.hostile import CASES, Case, hostile_settings, install, run_case
from tests.httpserver import LocalServer, Reply, quiet

DEADLINE = 2.0
RSS_LIMIT_MB = 300
BAD_GZIP = Case("gzip that is not gzip", "/bad-gzip", "http")


@pytest.fixture(scope="module")
def hostile():
    with quiet(LocalServer()) as server:
        install(server)
        yield server


@pytest.fixture
def client():
    http = HttpClient(hostile_settings(fetch_deadline=DEADLINE))
    yield http
    http.close()


def reset_peak_rss() -> None:
    """Start this process's peak RSS over from its current RSS (Linux: clear_refs 5), so a
    case is measured alone, whatever the tests before it held at their peak."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """This process's peak RSS since the last reset_peak_rss (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


@pytest.mark.integration
@pytest.mark.parametrize(
    "case", [c for c in CASES if c.expect != "disallowed"], ids=lambda c: c.path
)
def test_hostile_case(hostile, client, case):
    reset_peak_rss()
    started = time.monotonic()
    outcome, result = run_case(client, case, hostile.url(case.path))
    elapsed = time.monotonic() - started
    assert outcome == case.expect, result
    assert elapsed < DEADLINE + 0.5
    if not case.slow:
        assert elapsed < 2.0
    assert peak_rss_mb() < RSS_LIMIT_MB


@pytest.mark.integration
def test_slow_cases_are_cut_at_the_deadline_not_before(hostile):
    http = HttpClient(hostile_settings(fetch_deadline=1.5, fetch_connect_timeout=1.0))
    for path in ("/drip", "/drip-headers", "/hang"):
        started = time.monotonic()
        outcome, _ = run_case(http, next(c for c in CASES if c.path == path), hostile.url(path))
        assert outcome == "timeout"
        assert 1.4 < time.monotonic() - started < 2.0


@pytest.mark.integration
def test_retry_after_seconds_and_date(hostile, client):
    with pytest.raises(ServerError) as err:
        client.get(hostile.url("/429"))
    assert (err.value.status, err.value.retry_after, err.value.transient) == (429, 7.0, True)
    with pytest.raises(ServerError) as err:
        client.get(hostile.url("/503"))
    assert err.value.status == 503 and 100 < err.value.retry_after <= 121


@pytest.mark.integration
def test_bodies_and_declared_encodings_are_returned_as_is(hostile, client):
    wrong = client.get(hostile.url("/wrong-charset"))
    assert (wrong.body, wrong.encoding) == ("<p>caf\xe9</p>".encode("latin-1"), "utf-8")
    missing = client.get(hostile.url("/no-charset"))
    assert (missing.body, missing.encoding) == ("<p>caf\xe9</p>".encode(), None)
    assert client.get(hostile.url("/empty")).body == b""
    assert client.get(hostile.url("/garbage")).body == bytes(range(256)) * 256
    feed = client.get(hostile.url("/feed"), kind="feed")
    assert feed.body.count(b"<item>") == 50_000 and feed.content_type == "application/rss+xml"


@pytest.mark.integration
def test_caps_per_kind_and_per_call(hostile, client):
    with pytest.raises(WrongContentType):
        client.get(hostile.url("/feed"), kind="page")
    small = HttpClient(hostile_settings(feed_max_bytes=1024 * 1024))
    outcome, _ = run_case(small, next(c for c in CASES if c.path == "/feed"), hostile.url("/feed"))
    assert outcome == "too_large"
    assert client.get(hostile.url("/garbage"), max_bytes=65536).status == 200
    with pytest.raises(TooLarge):
        client.get(hostile.url("/garbage"), max_bytes=65535)


@pytest.mark.integration
def test_redirects_are_recorded_and_limited(http_server):
    for i in range(5):
        http_server.route(f"/r{i}", Reply(301 if i else 308, {"Location": f"/r{i + 1}"}))
    http_server.route("/r5", Reply(200, {"Content-Type": "text/html"}, b"<p>here"))
    client = HttpClient(hostile_settings())
    page = client.get(http_server.url("/r0"))
    assert page.url == http_server.url("/r5") and page.body == b"<p>here"
    assert page.redirects == ((308, http_server.url("/r1")),) + tuple(
        (301, http_server.url(f"/r{i}")) for i in range(2, 6)
    )
    with pytest.raises(TooManyRedirects):
        HttpClient(hostile_settings(fetch_max_redirects=4)).get(http_server.url("/r0"))


@pytest.mark.integration
def test_headers_sent_and_304(http_server):
    http_server.route("/feed", Reply(304, {"ETag": '"v1"'}))
    settings = hostile_settings(user_agent="newsworker/9 (+https://example.org/bot)")
    page = HttpClient(settings).get(
        http_server.url("/feed"), kind="feed", headers={"If-None-Match": '"v1"'}
    )
    assert (page.status, page.body, page.headers["etag"]) == (304, b"", '"v1"')
    sent = http_server.hits("/feed")[0].headers
    assert sent["user-agent"] == "newsworker/9 (+https://example.org/bot)"
    assert sent["if-none-match"] == '"v1"' and "rss" in sent["accept"]


@pytest.mark.integration
def test_missing_content_type_is_left_to_the_parser(http_server):
    http_server.route("/x", Reply(200, {}, b"<rss/>"))
    client = HttpClient(hostile_settings())
    assert client.get(http_server.url("/x"), kind="feed").body == b"<rss/>"
    assert client.get(http_server.url("/x"), kind="page").body == b"<rss/>"


@pytest.mark.parametrize(
    ("kind", "content_type", "ok"),
    [
        ("page", "text/html; charset=utf-8", True),
        ("page", "application/xhtml+xml", True),
        ("page", "application/pdf", False),
        ("page", "application/json", False),
        ("feed", "application/rss+xml", True),
        ("feed", "application/atom+xml", True),
        ("feed", "text/xml", True),
        ("feed", "application/feed+json", True),
        ("feed", "text/html", True),  # mislabelled feeds are common; the parser decides
        ("feed", "text/plain", True),
        ("feed", "image/png", False),
        ("robots", "text/html", True),
        ("page", "", True),
    ],
)
def test_content_types(kind, content_type, ok):
    if ok:
        check_content_type(kind, content_type, "http://x/")
    else:
        with pytest.raises(WrongContentType):
            check_content_type(kind, content_type, "http://x/")


@pytest.mark.parametrize(
    "url", ["ftp://x/", "file:///etc/passwd", "/relative", "http://", "http://x:99999/"]
)
def test_bad_urls(url):
    with pytest.raises(BadUrl):
        HttpClient(hostile_settings()).get(url)


@pytest.mark.integration
def test_redirect_to_a_non_http_scheme_is_refused(http_server):
    http_server.route("/x", Reply(302, {"Location": "file:///etc/passwd"}))
    with pytest.raises(BadUrl):
        HttpClient(hostile_settings()).get(http_server.url("/x"))


@pytest.mark.integration
def test_cookies_are_not_kept_between_requests(http_server):
    http_server.route(
        "/set", Reply(200, {"Content-Type": "text/html", "Set-Cookie": "seen=3; Path=/"}, b"x")
    )
    client = HttpClient(hostile_settings())
    client.get(http_server.url("/set"))
    client.get(http_server.url("/set"))
    assert "cookie" not in http_server.hits("/set")[1].headers


@pytest.mark.integration
def test_a_body_that_does_not_decompress_is_a_permanent_http_error(http_server):
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    http_server.route("/bad-gzip", Reply(200, headers, b"\x1f\x8b\x08\x00 this is not gzip at all"))
    outcome, result = run_case(
        HttpClient(hostile_settings()), BAD_GZIP, http_server.url("/bad-gzip")
    )
    assert outcome == "http" and not result.transient


def test_classify_raw_network_exceptions():
    import ssl

    from tasks.fetch.http import classify

    assert classify(TimeoutError("x"), "u", False).kind == "timeout"
    assert classify(ConnectionResetError("x"), "u", False).kind == "connect"
    assert classify(ssl.SSLError("x"), "u", False).kind == "tls"
    assert classify(ConnectionResetError("x"), "u", True).kind == "timeout"
