"""Small pure helpers of feed parsing: the RawEntry carrier, HTML to plain text, dates to
ISO 8601 with their offset, relative links made absolute. No I/O.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser

from config.settings import DAY
from tasks.formats import parse_date


@dataclass(frozen=True)
class RawEntry:
    """An entry as a feed format gives it, before identity is assigned (tasks.feed.identity)."""

    entry_id: str | None = None
    link: str | None = None
    title: str | None = None
    published: str | None = None
    updated: str | None = None
    summary: str | None = None
    content: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None
    image_url: str | None = None


_SKIP = {"script", "style", "template", "noscript"}
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "blockquote",
    "section",
    "article",
    "figure",
    "figcaption",
    "pre",
    "table",
}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in _SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace folded."""
    if not html:
        return ""
    if "<" not in html:
        return _fold(unescape(html))
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return _fold("".join(parser.parts))


def _fold(text: str) -> str:
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def iso_date(raw: str | None, parsed=None) -> str | None:
    """A feed date as ISO 8601 with its own offset; feedparser's UTC tuple as the fallback."""
    found = parse_date(raw)
    if found is None and parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()
    return found


def timestamp(iso: str | None) -> float | None:
    """Unix seconds of an ISO 8601 date from iso_date, or None."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


SY_PERIODS = {
    "hourly": 3600,
    "daily": DAY,
    "weekly": 7 * DAY,
    "monthly": 30 * DAY,
    "yearly": 365 * DAY,
}


def sy_seconds(period: str | None, frequency: str | int | None) -> int | None:
    """sy:updatePeriod / sy:updateFrequency -> seconds between updates (RSS 1.0 syndication)."""
    if not period:
        return None
    span = SY_PERIODS.get(str(period).strip().lower())
    try:
        times = max(int(str(frequency).strip()), 1) if frequency not in (None, "") else 1
    except ValueError:
        times = 1
    return span // times if span else None
