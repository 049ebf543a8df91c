"""Golden pages (tests/pages/*.html beside *.json expectations): body, metadata, chrome left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.clean import clean_html
from tasks.dedupe import content_hash
from tasks.models import article_id

PAGES = Path(__file__).parent / "pages"
CASES = sorted(p.stem for p in PAGES.glob("*.json"))
FIELDS = (
    "title",
    "published_at",
    "updated_at",
    "source",
    "section",
    "language",
    "image_url",
    "canonical_url",
)


def _clean(name: str):
    expected = json.loads((PAGES / f"{name}.json").read_text("utf-8"))
    html = (PAGES / f"{name}.html").read_bytes()
    article = clean_html(
        html,
        expected["url"],
        encoding=expected.get("encoding"),
        fetched_at="2024-01-01T00:00:00+00:00",
    )
    return article, expected


def test_there_are_golden_pages():
    assert {"japan_times", "liveblog", "paywall", "gallery", "portuguese"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_golden_metadata(name):
    article, expected = _clean(name)
    for field in FIELDS:
        if field in expected:
            assert getattr(article, field) == expected[field], field
    for field in ("tags", "authors"):
        if field in expected:
            assert list(getattr(article, field)) == expected[field], field


@pytest.mark.parametrize("name", CASES)
def test_golden_body(name):
    article, expected = _clean(name)
    paragraphs = article.paragraphs
    if "paragraph_count" in expected:
        assert len(paragraphs) == expected["paragraph_count"], paragraphs
    if "first" in expected:
        assert paragraphs[0] == expected["first"]
    if "last" in expected:
        assert paragraphs[-1] == expected["last"]
    for text in expected.get("must_contain", ()):
        assert text in article.body
    for text in expected.get("must_not_contain", ()):
        assert text not in article.body, text
    assert article.title not in paragraphs


@pytest.mark.parametrize("name", CASES)
def test_golden_record_is_consistent(name):
    article, _ = _clean(name)
    assert article.id == article_id(article.canonical_url)
    assert article.content_hash == content_hash(article.body)
    assert article.word_count == len(article.body.split())
    assert article.fetched_at == "2024-01-01T00:00:00+00:00"
    assert "\n\n\n" not in article.body and article.body == article.body.strip()
