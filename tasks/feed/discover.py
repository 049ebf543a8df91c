"""Feed discovery (pure functions): the feed URLs a page announces or usually has, and whether
a fetched page is a feed. `newsworker feeds discover` does the fetching."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from tasks.errors import IngestError
from tasks.feed.parse import parse_feed
from tasks.models import FetchedPage

COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/atom.xml", "/rss.xml", "/index.xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/xml",
    "text/xml",
)


class _Alternates(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        a = {k: (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if (
            tag == "link"
            and "alternate" in rel
            and a.get("type", "").lower() in FEED_TYPES
            and a.get("href")
        ):
            self.found.append(a["href"])


def feed_candidates(html: bytes, base: str) -> list[str]:
    """Feed URLs a page announces (<link rel="alternate">), then the usual paths."""
    parser = _Alternates()
    parser.feed(html.decode("utf-8", "replace"))
    urls = [urljoin(base, h) for h in parser.found] + [urljoin(base, p) for p in COMMON_PATHS]
    return list(dict.fromkeys(urls))


def is_feed(page: FetchedPage) -> bool:
    """Whether a fetched page parses as a feed."""
    try:
        parse_feed(page.body, url=page.url, headers=page.headers)
    except IngestError:
        return False
    return True


def describe_feed(page: FetchedPage) -> str:
    """'url  format  title  N entries' of a feed; FeedError when it is not one."""
    feed = parse_feed(page.body, url=page.url, headers=page.headers)
    return f"{page.url}\t{feed.format}\t{feed.title or ''}\t{len(feed.entries)} entries"
