"""Lone surrogates (issue 11 item 3): replaced by U+FFFD where text enters (pages, JSON-LD,
feeds), and the store never fails on them; the CLI prints a value, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from tasks import charset
from tasks.clean.article import clean_html
from tasks.feed.parse import parse_feed
from tasks.store import open_store
from tests.celeryproc import ROOT
from tests.test_store import make

BAD = "\ud800"
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>News &#xD800;</title>'
    b"<item><title>One &#xD800; two &#56320;</title><link>https://e.example/1</link>"
    b"<description>x &#xdbff; y</description></item>"
    b"<item><title>Fine &#xFFFD; &#233;</title><link>https://e.example/2</link></item>"
    b"</channel></rss>"
)
PAGE = (
    '<html><head><title>T</title><script type="application/ld+json">'
    '{"@type": "NewsArticle", "headline": "Bad \\ud800 title", "author": {"name": "A \\udfff"},'
    ' "description": "pair \\ud83d\\ude00 kept"}</script></head><body><article><h1>Bad title</h1>'
    + "<p>A paragraph long enough for the cleaner to call it the body of the story. " * 4
    + "</p></article></body></html>"
).encode()
JSON_FEED = (
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "J \\ud800",'
    b' "items": [{"id": "1", "url": "https://e.example/j", "title": "Lone \\udc00"}]}'
)


def encodable(*texts: str | None) -> bool:
    return all((t or "").encode("utf-8") is not None for t in texts)


def test_without_surrogates():
    assert charset.without_surrogates(f"a{BAD}b") == "a\ufffdb"
    assert charset.without_surrogates("\ud83d\ude00") == "\U0001f600"  # a split pair is joined
    text = "plain \ufeff text"
    assert charset.without_surrogates(text) is text
    nested = {"k\udfff": [[{"x": BAD}]] * 2, "n": 1}
    assert charset.without_surrogates_in(nested) == {"k\ufffd": [[{"x": "\ufffd"}]] * 2, "n": 1}


def test_a_utf7_page_decodes_without_surrogates():
    text = charset.decode_html(b"<p>+2AA-x</p>", "utf-7")
    assert text == "<p>\ufffdx</p>"


def test_an_rss_feed_with_surrogate_references_is_parsed_not_refused():
    feed = parse_feed(RSS, url="https://e.example/rss")
    assert feed.title == "News \ufffd"
    one, two = sorted(feed.entries, key=lambda e: e.link)
    assert one.title == "One \ufffd two \ufffd" and one.summary == "x \ufffd y"
    assert two.title == "Fine \ufffd é"


def test_a_json_feed_with_lone_surrogates():
    feed = parse_feed(JSON_FEED, url="https://e.example/feed.json")
    assert feed.title == "J \ufffd" and feed.entries[0].title == "Lone \ufffd"


def test_json_ld_with_a_lone_surrogate_gives_a_storable_article():
    article = clean_html(PAGE, "https://e.example/a")
    assert "\ufffd" in article.title and encodable(article.title, *article.authors)
    assert json.dumps(article.to_dict(), ensure_ascii=False).encode("utf-8")


@pytest.mark.integration
def test_the_store_never_fails_on_surrogates(store_url):
    store = open_store(store_url)
    try:
        body = "Body \udfff\ud800."  # low before high: two lone surrogates
        article = replace(make(title=f"Title {BAD}", authors=(f"A{BAD}",)), body=body)
        store.upsert(article, "2024-05-02T10:00:00+00:00")
        got = store.get(article.id)
        assert got.title == "Title \ufffd" and got.authors == ("A\ufffd",)
        assert got.body == "Body \ufffd\ufffd."
    finally:
        store.close()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def test_clean_and_feeds_check_print_a_value(tmp_path):
    page, feed = tmp_path / "page.html", tmp_path / "feed.xml"
    page.write_bytes(PAGE)
    feed.write_bytes(RSS)
    for fmt in ("json", "text"):
        out = cli("clean", "--url", "https://e.example/a", "--format", fmt, str(page))
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        assert "Bad \ufffd title" in out.stdout
    out = cli("feeds", "check", str(feed))
    assert out.returncode == 0, out.stderr
    assert "One \ufffd two \ufffd" in out.stdout and "ok: 2 entries" in out.stderr
