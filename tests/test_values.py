"""The small value parsers shared by the fetcher, the poller and the cleaner."""

from __future__ import annotations

import pytest

from tasks.formats import absolute_http, charset_param, http_date, retry_after

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (30, 30.0),
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120.0),
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("1.5", None),
    ],
)
def test_retry_after_seconds_or_http_date(raw, expected):
    assert retry_after(raw, NOW) == (None if expected is None else pytest.approx(expected))


def test_http_date():
    assert http_date("Tue, 14 Nov 2023 22:13:20 GMT") == NOW
    assert http_date("Tue, 14 Nov 2023 22:13:20") == NOW  # no zone: read as UTC
    assert http_date("yesterday") is None and http_date(None) is None


def test_charset_param():
    assert charset_param('text/html; charset="Windows-1251"') == "windows-1251"
    assert charset_param("text/html;charset=utf-8;q=1") == "utf-8"
    assert charset_param("text/html") is None and charset_param(None) is None


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/a/b.html", "https://news.example.com/a/b.html"),
        ("c.html", "https://news.example.com/feed/c.html"),
        ("//cdn.example.com/x", "https://cdn.example.com/x"),
        ("mailto:x@example.com", None),
        ("javascript:alert(1)", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_absolute_http(link, expected):
    assert absolute_http(link, "https://news.example.com/feed/") == expected
