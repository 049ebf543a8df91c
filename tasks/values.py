"""Small pure parsers of the values that HTTP headers, feeds and pages carry: HTTP dates,
Retry-After, the charset parameter, links made absolute. One implementation each, shared by
the fetcher, the poller and the cleaner."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit


def http_date(raw: str | None) -> float | None:
    """Unix seconds of an HTTP date (RFC 9110 §5.6.7), None when absent or malformed."""
    if not raw or not raw.strip():
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def retry_after(raw: str | float | None, now: float) -> float | None:
    """Seconds to wait from Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if isinstance(raw, int | float):
        return max(float(raw), 0.0)
    value = (raw or "").strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    return None if when is None else max(when - now, 0.0)


def charset_param(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, lower-cased, or None."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def absolute_http(link: str | None, base: str) -> str | None:
    """``link`` resolved against ``base``; None unless the result is an http(s) URL."""
    if not link or not link.strip():
        return None
    try:
        url = urljoin(base, link.strip())
        scheme = urlsplit(url).scheme
    except ValueError:  # a malformed IPv6 literal and the like
        return None
    return url if scheme in ("http", "https") else None
