"""Publication and modification dates of an article page, as ISO 8601 with a UTC offset.

Owned here: the order of date sources (JSON-LD, article:published_time, <time datetime>,
common meta tags, a date in the URL path, the feed entry) and parsing the forms found in the
wild (ISO 8601 with or without offset, RFC 2822, compact dates). A date without an offset is
read as UTC, the only assumption that needs no guessing. Pure functions; never raises.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tasks.clean.dom import PageIndex
from tasks.clean.jsonld import text_value
from tasks.clean.meta import Meta
from tasks.formats import parse_date
from tasks.models import FeedEntry

PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "published_time",
    "article.published",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "date",
)
MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "modified_time",
    "last-modified",
    "dcterms.modified",
    "article.updated",
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/\-]?(0[1-9]|1[0-2])[/\-]?(0[1-9]|[12]\d|3[01])(?:/|$|[-_])"
)


def date_in_url(url: str) -> str | None:
    """A /2019/09/06/ or /20190906 date in the URL path, as midnight UTC."""
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        when = datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        return None
    return when.isoformat(timespec="seconds")


def _time_element(index: PageIndex) -> str | None:
    """<time datetime>: the one marked as publication date, else the first."""
    for when, hints in index.times:
        if "datepublished" in hints.lower() or "publish" in hints.lower():
            return when
    return index.times[0][0] if index.times else None


def published_of(index: PageIndex, meta: Meta, url: str, entry: FeedEntry | None) -> str | None:
    """The publication date, from the first source that gives a readable one."""
    sources = (
        text_value(meta.ld.get("datePublished")),
        meta.meta(*PUBLISHED_META[:2]),
        _time_element(index),
        meta.meta(*PUBLISHED_META[2:]),
        text_value(meta.ld.get("dateCreated")),
    )
    for raw in sources:
        parsed = parse_date(raw)
        if parsed:
            return parsed
    from_url, from_feed = date_in_url(url), parse_date(entry.published if entry else None)
    if from_url and from_feed and from_url[:10] == from_feed[:10]:
        return from_feed  # the same day, and the feed knows the time too
    return from_url or from_feed


def updated_of(meta: Meta, entry: FeedEntry | None) -> str | None:
    """The modification date: JSON-LD dateModified, modified-time metas, the feed's."""
    for raw in (
        text_value(meta.ld.get("dateModified")),
        meta.meta(*MODIFIED_META),
        entry.updated if entry else None,
    ):
        parsed = parse_date(raw)
        if parsed:
            return parsed
    return None
