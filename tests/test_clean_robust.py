"""Any bytes in -> an Article or a NoContentError, in bounded time and memory."""

from __future__ import annotations

import contextlib
import os
import random
import time
import tracemalloc

import pytest

from tasks.clean import article_from_entry, clean_html
from tasks.errors import NoContentError
from tasks.models import FeedEntry

URL = "https://news.example.com/2024/01/02/story"
PARA = "<p>" + "The council met on Tuesday, and it voted to approve the new budget. " * 3 + "</p>"


def _bounded(html):
    """Clean html; return (article or None, seconds, peak MB of Python allocations).
    Time is measured on a plain run, memory on a second run under tracemalloc."""
    start = time.perf_counter()
    try:
        article = clean_html(html, URL)
    except NoContentError:
        article = None
    seconds = time.perf_counter() - start
    tracemalloc.start()
    with contextlib.suppress(NoContentError):
        clean_html(html, URL)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return article, seconds, peak


def test_huge_page_is_bounded():
    html = "<html><body><article>" + PARA * 100_000 + "</article></body></html>"
    assert len(html) > 20_000_000
    article, seconds, peak = _bounded(html)
    assert article is not None and "council met" in article.body
    assert seconds <= 2.0 and peak <= 200


def test_deep_nesting_is_bounded():
    html = "<html><body>" + "<div>" * 50_000 + PARA + "</div>" * 50_000 + "</body></html>"
    article, seconds, peak = _bounded(html)
    assert article is not None and "council met" in article.body
    assert seconds <= 2.0 and peak <= 200


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binary_garbage_is_no_content(seed):
    data = random.Random(seed).randbytes(300_000)
    article, seconds, _ = _bounded(data)
    assert seconds <= 2.0
    assert article is None  # NoContentError: binary data is not a page


@pytest.mark.parametrize("html", ["", b"", "   ", "<html></html>", b"\xff\xfe", "<p>", "\x00" * 10])
def test_empty_pages_raise_no_content(html):
    with pytest.raises(NoContentError):
        clean_html(html, URL)


@pytest.mark.parametrize("url", ["", "not a url", "http://[::1", "javascript:alert(1)"])
def test_odd_urls_never_crash(url):
    article = clean_html("<html><body>" + PARA + "</body></html>", url)
    assert "council met" in article.body


def test_random_tag_soup_never_raises_anything_else():
    rng = random.Random(7)
    pieces = [
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<a href='x'>",
        "</a>",
        "text, words. ",
        "<script>",
        "<!--",
        "-->",
        "<![CDATA[",
        "&amp;",
        "&#0;",
        "<br>",
        "\x00",
        "<li>",
    ]
    for _ in range(30):
        html = "".join(rng.choice(pieces) for _ in range(400))
        with contextlib.suppress(NoContentError):
            clean_html(html, URL)


def test_article_from_entry_uses_content_then_summary():
    entry = FeedEntry(
        key="k",
        feed_id="f1",
        feed_url="https://news.example.com/feed",
        entry_id="guid-1",
        link=URL,
        title="Budget approved",
        content="<p>First paragraph of the story, long enough to count.</p><p>Second one.</p>",
        published="2024-01-02T10:00:00+00:00",
        feed_title="Example News",
    )
    article = article_from_entry(entry, fetched_at="2024-01-02T11:00:00+00:00")
    assert article.paragraphs == [
        "First paragraph of the story, long enough to count.",
        "Second one.",
    ]
    assert (article.title, article.source, article.url) == ("Budget approved", "Example News", URL)
    assert (article.feed_id, article.entry_id) == ("f1", "guid-1")
    assert article.published_at == "2024-01-02T10:00:00+00:00"
    summary_only = FeedEntry(
        key="k", feed_id="f1", feed_url="https://news.example.com/feed", summary="Just  a\nsummary."
    )
    assert article_from_entry(summary_only).body == "Just a summary."
    assert article_from_entry(summary_only).url == "https://news.example.com/feed"


def test_article_from_entry_without_text_raises():
    with pytest.raises(NoContentError):
        article_from_entry(FeedEntry(key="k", feed_id="f", feed_url="https://x.example/feed"))


def test_entry_is_the_last_metadata_fallback():
    entry = FeedEntry(
        key="k",
        feed_id="f",
        feed_url="https://x.example/feed",
        title="Feed title",
        published="2024-03-01T08:00:00+02:00",
        authors=("By Ann Lee",),
        tags=("Politics",),
        language="fr",
        feed_title="X News",
    )
    article = clean_html("<html><body>" + PARA + "</body></html>", "https://x.example/a", entry)
    assert (article.title, article.source, article.language) == ("Feed title", "X News", "fr")
    assert article.published_at == "2024-03-01T08:00:00+02:00"
    assert article.authors == ("Ann Lee",) and article.tags == ("Politics",)
    assert os.environ.get("NEVER_SET_BY_TESTS") is None
