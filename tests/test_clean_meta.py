"""Metadata cases (JSON-LD blocks, @graph, arrays, malformed JSON; dates; authors) and the
byte-exact text rendering of ARTICLE_FORMAT.md §2."""

from __future__ import annotations

import pytest

from tasks.clean import clean_html
from tasks.clean.meta import clean_author, strip_site
from tasks.formats import parse_date
from tasks.models import Article

BODY = "<article><p>" + "A sentence of the story, with a comma and words. " * 4 + "</p></article>"


def _page(head: str, url: str = "https://news.example.com/world/story-1") -> Article:
    return clean_html(f"<html><head>{head}</head><body>{BODY}</body></html>", url)


def _ld(text: str) -> str:
    return f'<script type="application/ld+json">{text}</script>'


def test_several_blocks_first_article_object_wins():
    head = _ld('{"@type": "BreadcrumbList", "name": "Crumbs"}') + _ld(
        '{"@type": ["NewsArticle"], "headline": "Real headline", "datePublished": '
        '"2021-05-01T10:00:00Z", "author": {"@type": "Person", "name": "Ann Lee"}}'
    )
    article = _page(head)
    assert (article.title, article.published_at) == ("Real headline", "2021-05-01T10:00:00+00:00")
    assert article.authors == ("Ann Lee",)


def test_graph_with_references():
    head = _ld(
        '{"@graph": [{"@type": "Organization", "@id": "#o", "name": "Example Post"},'
        '{"@type": "Person", "@id": "#p", "name": "Bo Chen"},'
        '{"@type": "NewsArticle", "headline": "Graph story", "publisher": {"@id": "#o"},'
        '"author": [{"@id": "#p"}], "keywords": ["Trade", "Tariffs"], "articleSection": "Business",'
        '"image": {"@type": "ImageObject", "url": "/img/a.jpg"}}]}'
    )
    article = _page(head)
    assert (article.title, article.source, article.section) == (
        "Graph story",
        "Example Post",
        "Business",
    )
    assert article.authors == ("Bo Chen",) and article.tags == ("Trade", "Tariffs")
    assert article.image_url == "https://news.example.com/img/a.jpg"


def test_top_level_array_and_malformed_blocks():
    head = _ld("{not json at all") + _ld(
        '[{"@type": "WebSite", "name": "Site"}, {"@type": "Article", "headline": "Array story",'
        ' "dateModified": "2020-01-02 03:04:05+0100",}]'
    )
    article = _page(head)
    assert article.title == "Array story"
    assert article.updated_at == "2020-01-02T03:04:05+01:00"


def test_meta_fallbacks_and_canonical_host_rule():
    head = (
        '<meta property="og:title" content="Meta title - Example News">'
        '<meta property="og:site_name" content="Example News">'
        '<meta name="author" content="By Jo Park, Staff Writer">'
        '<link rel="canonical" href="https://evil.example.org/elsewhere">'
        '<meta property="og:locale" content="de_DE">'
    )
    article = _page(head, "https://www.news.example.com/2022/02/03/x?utm_source=a&id=5")
    assert (article.title, article.source) == ("Meta title", "Example News")
    assert article.authors == ("Jo Park",)
    assert article.canonical_url == "https://www.news.example.com/2022/02/03/x?id=5"
    assert article.published_at == "2022-02-03T00:00:00+00:00"  # from the URL path
    assert article.language == "de"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-09-06T17:05:12+09:00", "2019-09-06T17:05:12+09:00"),
        ("2019-09-06T08:05:12.123456789Z", "2019-09-06T08:05:12+00:00"),
        ("Fri, 06 Sep 2019 17:05:12 +0900", "2019-09-06T17:05:12+09:00"),
        ("20190906", "2019-09-06T00:00:00+00:00"),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Jane Doe", ["Jane Doe"]),
        ("Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("https://example.com/staff/jane", []),
        ("John Roe, Political Correspondent", ["John Roe"]),
    ],
)
def test_clean_author(raw, expected):
    assert clean_author(raw) == expected


def test_strip_site_suffix_and_prefix():
    assert (
        strip_site("Headline here now | The Japan Times", "The Japan Times", "japantimes.co.jp")
        == "Headline here now"
    )
    assert (
        strip_site("BBC News - Storm hits the coast", None, "bbc.co.uk") == "Storm hits the coast"
    )
    assert (
        strip_site("Left - right, a long-form essay", None, "x.example")
        == "Left - right, a long-form essay"
    )


def _article(**kw) -> Article:
    base = dict(
        id="i",
        url="u",
        canonical_url="u",
        title="Japan rejects offer",
        fetched_at="f",
        content_hash="h",
        word_count=4,
        body="First para.\n\nSecond para.",
        published_at="2019-09-06T17:05:12+09:00",
        source="The Japan Times",
    )
    return Article(**{**base, **kw})


def test_render_text_without_authors_section_or_tags():
    expected = (
        "Japan rejects offer\n\n  \u2022 September 6, 2019\n  \u2022 , The Japan Times\n\n"
        "First para.\n\n\nSecond para.\n"
    )
    assert _article().render_text() == expected


def test_render_text_with_authors_section_and_tags():
    article = _article(
        authors=("Ann Lee", "Bo Chen"),
        section="English Press",
        tags=("Ambassador", "G7 Summit"),
        published_at="2019-09-06T00:30:00+09:00",
    )
    expected = (
        "Japan rejects offer\n\n  \u2022 September 6, 2019\n  \u2022 Ann Lee, Bo Chen, The Japan Times\n"
        "  \u2022 English Press\n\nFirst para.\n\n\nSecond para.\n\n  \u2022 Ambassador\n  \u2022 G7 Summit\n"
    )
    assert article.render_text() == expected


def test_render_text_without_date():
    assert (
        _article(published_at=None)
        .render_text()
        .startswith("Japan rejects offer\n\n  \u2022 , The")
    )


def test_main_entity_of_page_gives_its_url_never_its_name():
    """mainEntityOfPage naming a WebPage node: its url is the canonical, not its title (read
    as a relative URL, the title made an id per folder)."""
    head = _ld(
        '{"@graph": [{"@type": "WebPage", "@id": "https://news.example.com/a/story#webpage",'
        ' "name": "Classificação da corrida", "url": "https://news.example.com/a/story"},'
        '{"@type": "NewsArticle", "headline": "Story", "mainEntityOfPage": '
        '{"@id": "https://news.example.com/a/story#webpage"}}]}'
    )
    article = _page(head, "https://news.example.com/a/story?utm_source=feed")
    assert article.canonical_url == "https://news.example.com/a/story"
    named_only = _ld('{"@type": "NewsArticle", "mainEntityOfPage": {"name": "Some title"}}')
    assert _page(named_only).canonical_url == "https://news.example.com/world/story-1"
