"""Structured hints: the JSON-LD articleBody as a hint and as the last fallback."""

from __future__ import annotations

import json

from tasks.clean import clean_html
from tasks.clean.hints import LdBody, shingles

URL = "https://news.example.com/2024/05/06/story"
LINES = [
    "The city council voted on Tuesday to close the old library on Market Street next year.",
    "The building needs repairs that would cost more than a new branch, officials said.",
    "A public meeting on the plans will be held at the town hall on the first of June.",
]


def _page(body_html: str, article_body: str) -> str:
    ld = json.dumps(
        {"@type": "NewsArticle", "headline": "Library to close", "articleBody": article_body}
    )
    return (
        f'<html><head><script type="application/ld+json">{ld}</script></head>'
        f"<body>{body_html}</body></html>"
    )


def test_shingles_and_ldbody():
    assert shingles("One two") == {("one", "two")}
    assert len(shingles("a b c d e")) == 2
    assert LdBody.of("too short") is None
    assert LdBody.of("<p>" + "x " * 200 + "</p>") is None  # HTML is not used as text
    ld = LdBody.of("\n".join(LINES))
    assert ld is not None and ld.contained(LINES[1]) == 1.0 and ld.contained("other words") == 0
    assert ld.paragraphs() == "\n\n".join(LINES)


def test_fallback_when_page_has_no_container():
    html = _page('<div id="app"><noscript>Enable JavaScript</noscript></div>', "\n".join(LINES))
    assert clean_html(html, URL).body == "\n\n".join(LINES)


def test_page_paragraphs_win_over_articlebody_text():
    paras = "".join(f"<p>{line}</p>" for line in LINES)
    html = _page(f"<article>{paras}</article>", " ".join(LINES) + " Extra sentence in JSON only.")
    body = clean_html(html, URL).body
    assert body == "\n\n".join(LINES)


def test_articlebody_picks_the_agreeing_container():
    story = "".join(f"<p>{line}</p>" for line in LINES)
    teaser = "Another story, with commas, about a different topic, and many, many words. "
    teasers = "".join(f'<div class="card"><p>{teaser * 2}</p></div>' for _ in range(6))
    html = _page(
        f'<div class="river">{teasers}</div><div class="txt">{story}</div>', "\n".join(LINES)
    )
    assert clean_html(html, URL).body == "\n\n".join(LINES)
