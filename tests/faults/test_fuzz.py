"""Fuzzing (hypothesis): any bytes give the cleaner, the feed parser, the feeds file and OPML
a value or their documented error, never another exception. The values must be usable too:
JSON round trip of articles and entries, feeds with string fields.

Short in CI (profile ``faults-ci``, a few seconds per target); the long run and its figures
are in docs/faults.md (``NEWS_FUZZ_PROFILE=faults-long NEWS_FUZZ_EXAMPLES=N``)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.feeds import FeedsFileError, FeedSource, load_feeds, parse_feeds
from config.opml import parse_opml
from tasks.clean import clean_html
from tasks.errors import FeedError, IngestError, NoContentError
from tasks.feed.parse import parse_feed
from tasks.models import Article, FeedEntry
from tests.faults.fuzzing import feed_bytes, feeds_file_text, opml_bytes, page_bytes

pytestmark = [pytest.mark.faults]

CASES: Counter[str] = Counter()  # cases run per target (figures of tests/faults/fuzz_run.py)

CONTENT_TYPES = st.sampled_from(
    [
        "",
        "text/html",
        "text/html; charset=utf-8",
        "text/html; charset=nonsense",
        "application/rss+xml",
        "application/atom+xml; charset=latin-1",
        "application/feed+json",
        "application/json; charset=utf-16",
        "text/xml",
    ]
)


def no_hidden_crash(exc: IngestError) -> None:
    """The documented error, raised for a reason of its own: not a safety net wrapping a
    crash of some step (which would turn a page or feed with a small oddity into a loss)."""
    cause = exc.__cause__
    assert cause is None or isinstance(cause, IngestError), f"{type(cause).__name__}: {cause}"


@given(page=page_bytes(), encoding=st.sampled_from([None, "utf-8", "latin-1", "bogus"]))
def test_clean_html_gives_an_article_or_no_content(page, encoding):
    CASES["clean_html"] += 1
    try:
        article = clean_html(page, "http://127.0.0.1/news/a.html", encoding=encoding)
    except NoContentError as exc:
        no_hidden_crash(exc)
        return
    assert isinstance(article, Article) and article.body
    assert Article.from_dict(json.loads(json.dumps(article.to_dict()))) == article


@given(body=feed_bytes(), content_type=CONTENT_TYPES)
def test_parse_feed_gives_entries_or_a_feed_error(body, content_type):
    CASES["parse_feed"] += 1
    feed = FeedSource("fuzz", "Fuzz", "http://127.0.0.1/feed.xml")
    try:
        parsed = parse_feed(body, url=feed.url, headers={"Content-Type": content_type}, feed=feed)
    except FeedError as exc:
        no_hidden_crash(exc)
        return
    for entry in parsed.entries:
        assert isinstance(entry, FeedEntry) and entry.key
        assert FeedEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry


def valid_feed(feed: FeedSource) -> None:
    assert all(isinstance(v, str) and v for v in (feed.id, feed.name, feed.url))
    assert all(isinstance(t, str) for t in feed.tags)
    assert FeedSource.from_json(feed.to_json()) == feed


@given(text=feeds_file_text())
def test_feeds_file_gives_feeds_or_a_feeds_file_error(text):
    CASES["parse_feeds"] += 1
    try:
        feeds = parse_feeds(text, "feeds.toml")
    except FeedsFileError as exc:
        assert str(exc).startswith("feeds.toml")
        return
    assert len({f.id for f in feeds}) == len(feeds)
    for feed in feeds:
        valid_feed(feed)


@given(data=st.one_of(feeds_file_text().map(str.encode), st.binary(max_size=200)))
def test_feeds_file_as_bytes_on_disk(data):
    CASES["load_feeds"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feeds.toml"
        path.write_bytes(data)
        try:
            feeds = load_feeds(path)
        except FeedsFileError:
            return
    for feed in feeds:
        valid_feed(feed)


@given(data=st.one_of(opml_bytes(), st.binary(max_size=200)))
def test_opml_gives_feeds_or_a_feeds_file_error(data):
    CASES["parse_opml"] += 1
    try:
        feeds = parse_opml(data)
    except FeedsFileError:
        return
    for feed in feeds:
        valid_feed(feed)
