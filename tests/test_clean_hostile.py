"""Issue 11 items 4 and 10: structured data and XML pages never cost the body or leak noise.

A bad JSON-LD hint costs only the hint; the input bound counts what can be text (not inline
scripts and styles); a page that is XML parses without a library warning reaching stderr.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import warnings

from tasks.clean import clean_html
from tasks.clean.dom import MAX_CHARS

URL = "https://news.example.com/2024/01/02/story"
STORY = "The council met on Tuesday, and it voted to approve the new budget for the year. " * 6
PAGE = "<html><head><title>Budget passes</title>{head}</head><body><article><h1>Budget passes</h1><p>{story}</p></article></body></html>"


def test_jsonld_nested_10000_deep_costs_only_the_hint():
    deep = '{"a":' * 10_000 + "1" + "}" * 10_000
    head = f'<script type="application/ld+json">{deep}</script>'
    article = clean_html(PAGE.format(head=head, story=STORY), URL)
    assert "council met" in article.body
    assert article.title == "Budget passes"


def test_deep_jsonld_beside_a_good_block_keeps_the_good_one():
    deep = "[" * 10_000 + "]" * 10_000
    good = '{"@type": "NewsArticle", "headline": "From JSON-LD", "author": {"name": "Ann Lee"}}'
    head = (
        f'<script type="application/ld+json">{deep}</script>'
        f'<script type="application/ld+json">{good}</script>'
    )
    article = clean_html(PAGE.format(head=head, story=STORY), URL)
    assert article.title == "From JSON-LD" and article.authors == ("Ann Lee",)
    assert "council met" in article.body


def test_big_inline_script_in_head_does_not_push_the_body_out():
    script = "<script>var data = '" + "x" * 3_200_000 + "';</script>"
    style = "<style>" + ".a{color:red}" * 10_000 + "</style>"
    html = PAGE.format(head=script + style, story=STORY)
    assert len(html) > MAX_CHARS
    article = clean_html(html, URL)
    assert "council met" in article.body


def test_text_past_the_bound_is_still_cut():
    filler = "<p>" + "filler words " * 50 + "</p>"
    html = "<html><body><article><p>" + STORY + "</p>" + filler * 6000 + "<p>TAILMARK</p>"
    assert len(html) > MAX_CHARS
    article = clean_html(html + "</article></body></html>", URL)
    assert "council met" in article.body and "TAILMARK" not in article.body


def test_xml_page_gives_no_warning():
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed</title>'
        f"<item><title>Budget</title><description>{STORY}</description></item></channel></rss>"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(Exception):  # only warnings are asserted here
            clean_html(xml.encode(), URL)
    assert [str(w.message) for w in caught] == []


def test_xml_page_prints_nothing_on_stderr():
    code = (
        "from tasks.clean import clean_html\n"
        "from tasks.errors import NoContentError\n"
        'xml = b\'<?xml version="1.0"?><feed><entry><title>T</title>'
        "<summary>" + "Some words of a summary here. " * 10 + "</summary></entry></feed>'\n"
        "try:\n    clean_html(xml, 'https://a.example.com/x')\n"
        "except NoContentError:\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_attribute_named_like_a_namespace_is_harmless():
    html = (
        '<html><body><a {count}="" class="share" href="/s">Share</a><article>'
        f"<p>{STORY}</p></article></body></html>"
    )
    assert "council met" in clean_html(html, URL).body


def test_unclosed_button_does_not_swallow_the_story():
    # The parser nests everything after a <button> without its </button> inside it.
    html = (
        '<html><body><header><div class="menu"><button class="menu-button">'
        '<div class="inner"><svg></svg><div></button></div><div class="logo">Site</div>'
        f"</header><main><article><h1>Budget</h1><p>{STORY}</p><p>{STORY}</p>"
        "</article></main></body></html>"
    )
    assert "council met" in clean_html(html, URL).body
