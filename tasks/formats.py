"""Small pure parsers and writers of the values that HTTP headers, feeds, pages and Redis
carry: dates as pages and feeds write them, HTTP dates, Retry-After, the charset parameter,
links made absolute, the host of a URL, ISO timestamps, Redis replies as text. One
implementation each, shared by the fetcher, the poller, the cleaner and the store; never raises."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

_COMPACT = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})$")
# An ISO date (and time) followed by what fromisoformat refuses ("...T16:02:50CDT",
# "2020-08-25|00h23"): the date and time are kept, the rest dropped.
_LEADING_ISO = re.compile(r"^((?:19|20)\d\d)-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?(?!\d)")
MIN_YEAR, MAX_YEAR = 1990, 2100  # dates outside are template garbage, not publication dates


def parse_date(raw: str | None) -> str | None:
    """An ISO 8601 string with offset for a date as pages write it, or None."""
    if not raw or len(raw) > 64:
        return None
    raw = raw.strip()
    when = _iso(raw) or _rfc2822(raw) or _compact(raw) or _leading_iso(raw)
    if when is None or not MIN_YEAR <= when.year <= MAX_YEAR:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat(timespec="seconds")


def _iso(raw: str) -> datetime | None:
    text = raw.replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d \d", raw) else raw
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text)  # more fraction digits than Python reads
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)  # +0900 -> +09:00
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rfc2822(raw: str) -> datetime | None:
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None


def _leading_iso(raw: str) -> datetime | None:
    match = _LEADING_ISO.match(raw)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _compact(raw: str) -> datetime | None:
    match = _COMPACT.match(raw)
    if not match:
        return None
    try:
        year, month, day = (int(g) for g in match.groups())
        return datetime(year, month, day)
    except ValueError:
        return None


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


def host_of(url: str) -> str:
    """The lower-cased host name of a URL; "" when it has none or does not parse."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def iso_time(now: float) -> str:
    """A Unix time as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def utc_iso(value: str) -> str:
    """An ISO date or datetime as a sortable UTC text (naive times are taken as UTC)."""
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = datetime.combine(date.fromisoformat(text), datetime.min.time())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def as_text(value: bytes | str | float) -> str:
    """A Redis reply (bytes) or value as text; undecodable bytes replaced."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
