"""Data carriers that cross stage and queue boundaries: small frozen dataclasses with JSON forms.

This module owns the article record of ARTICLE_FORMAT.md (fields, JSON form, text rendering)
and the messages the tasks pass. It does no I/O and knows nothing of Celery or Redis.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def article_id(canonical_url: str) -> str:
    """Stable id of an article: the first 32 hex digits of SHA-256 of its canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def _from_dict(cls, data: dict[str, Any]):
    """Build a dataclass from a dict, ignoring unknown keys and turning lists into tuples."""
    known = {f.name for f in fields(cls)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
    return cls(**values)


def _to_dict(obj) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(obj).items()}


@dataclass(frozen=True)
class Article:
    """The article record of ARTICLE_FORMAT.md: the product of the service."""

    id: str
    url: str
    canonical_url: str
    title: str
    body: str
    fetched_at: str
    content_hash: str
    word_count: int
    published_at: str | None = None
    updated_at: str | None = None
    source: str = ""
    section: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    summary: str | None = None
    tags: tuple[str, ...] = ()
    image_url: str | None = None
    feed_id: str | None = None
    feed_url: str | None = None
    entry_id: str | None = None
    duplicate_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return _from_dict(cls, data)

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p.strip()]

    def render_text(self) -> str:
        """The text rendering of ARTICLE_FORMAT.md §2 (headline, bullets, paragraphs, tags)."""
        bullets = []
        date = format_date(self.published_at)
        if date:
            bullets.append(date)
        bullets.append(", ".join(self.authors) + ", " + self.source)
        if self.section:
            bullets.append(self.section)
        parts = [self.title, "", *(f"  \u2022 {b}" for b in bullets), ""]
        parts.append("\n\n\n".join(self.paragraphs))
        if self.tags:
            parts.append("")
            parts.extend(f"  \u2022 {t}" for t in self.tags)
        return "\n".join(parts) + "\n"


def format_date(iso: str | None) -> str | None:
    """`2019-09-06T17:05:12+09:00` -> `September 6, 2019`, in the date's own offset."""
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return f"{MONTHS[when.month - 1]} {when.day}, {when.year}"


@dataclass(frozen=True)
class FeedEntry:
    """One feed item as the poller hands it to `news.ingest_entry` (a JSON message)."""

    key: str  # identity hash of the entry (see tasks.dedupe.entry_key)
    feed_id: str
    feed_url: str
    entry_id: str | None = None  # the item's GUID / Atom id as the feed gave it
    link: str | None = None  # absolute URL of the story page, when the feed gives one
    title: str | None = None
    published: str | None = None  # ISO 8601 with offset
    updated: str | None = None
    summary: str | None = None  # plain text
    content: str | None = None  # the entry's own content (HTML), the fallback when no page
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None
    feed_title: str | None = None
    image_url: str | None = None
    recrawl: bool = False  # bypass "seen" marks (re-crawl), not the content hash

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedEntry:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class FetchedPage:
    """A response body as the fetcher returns it: decoded bytes plus what we learnt on the way."""

    url: str  # final URL, after redirects
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    encoding: str | None = None  # charset from the Content-Type header, if any
    redirects: tuple[tuple[int, str], ...] = ()  # (status, location) of each hop
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class Outcome(StrEnum):
    """What became of one entry; expected outcomes are return values, not exceptions."""

    STORED = "stored"  # a new article
    REVISED = "revised"  # an existing article whose content changed
    UNCHANGED = "unchanged"  # same content as stored: only touched
    DUPLICATE = "duplicate"  # stored with duplicate_of
    DROPPED_DUPLICATE = "dropped_duplicate"  # a duplicate not kept (NEWS_DUPLICATES=drop)
    SEEN = "seen"  # already seen
    LEASED = "leased"  # another worker is on it
    DEFERRED = "deferred"  # host over budget: retried later
    DISALLOWED = "disallowed"  # robots.txt says no
    FAILED = "failed"  # could not be fetched nor built from the feed
