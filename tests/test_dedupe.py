"""Pure tests of identity and duplicate detection: URL normalization, canonical choice, SimHash."""

from __future__ import annotations

import pytest

from tasks.dedupe.fingerprint import (
    bands,
    content_hash,
    hamming,
    near_dup_text,
    simhash,
    simhash_reference,
)
from tasks.dedupe.urls import canonical_url, choose_canonical, entry_key, registrable_domain
from tests.samples_dedupe import SAME_TEMPLATE_OTHER, SHORT_A, SHORT_B, WIRE, WIRE_SYNDICATED

URL_CASES = [
    # tracking parameters of the big referrers and mailers
    (
        "https://www.bbc.com/news/world-123?utm_source=twitter&utm_medium=social&utm_campaign=bbc",
        "https://www.bbc.com/news/world-123",
    ),
    (
        "https://www.theguardian.com/world/2024/x?CMP=share_btn_tw&fbclid=IwAR0abc",
        "https://www.theguardian.com/world/2024/x",
    ),
    (
        "https://example.com/a?gclid=Cj0K&msclkid=9f&yclid=1&_ga=2.1.2&mc_cid=abc&mc_eid=def",
        "https://example.com/a",
    ),
    (
        "https://www.nytimes.com/2024/05/01/us/story.html?smid=nytcore-ios-share&referringSource=articleShare",
        "https://www.nytimes.com/2024/05/01/us/story.html?referringSource=articleShare",
    ),
    ("https://example.com/a?_hsenc=p2A&_hsmi=123&mkt_tok=eyJ&igshid=MzRl", "https://example.com/a"),
    ("https://example.com/a?pk_campaign=x&mtm_source=y&UTM_Source=z", "https://example.com/a"),
    # remaining query sorted, repeated and blank values kept
    ("https://example.com/search?q=b&page=2&a=", "https://example.com/search?a=&page=2&q=b"),
    ("https://example.com/list?id=2&id=1", "https://example.com/list?id=1&id=2"),
    # scheme, host, port, fragment
    (
        "HTTPS://WWW.Example.COM:443/Path/Story?x=1#comments",
        "https://www.example.com/Path/Story?x=1",
    ),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com./a#top", "https://example.com/a"),
    # AMP and mobile variants
    ("https://www.example.com/news/story-1/amp/", "https://www.example.com/news/story-1/"),
    ("https://www.example.com/amp/news/story-1", "https://www.example.com/news/story-1"),
    ("https://www.example.com/news/story-1?amp=1", "https://www.example.com/news/story-1"),
    ("https://www.example.com/news/story-1?amp", "https://www.example.com/news/story-1"),
    ("https://www.example.com/news/story-1?outputType=amp", "https://www.example.com/news/story-1"),
    ("https://www.example.com/news/story-1.amp.html", "https://www.example.com/news/story-1.html"),
    ("https://amp.theguardian.com/world/2024/x", "https://www.theguardian.com/world/2024/x"),
    ("https://m.bbc.co.uk/news/world-1", "https://www.bbc.co.uk/news/world-1"),
    ("https://mobile.example.com/a", "https://www.example.com/a"),
    (
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story-1/amp/",
        "https://www.example.com/news/story-1/",
    ),
    (
        "https://www.google.com/amp/s/www.example.com/news/story-1.amp.html",
        "https://www.example.com/news/story-1.html",
    ),
    # not AMP / not mobile: left alone
    ("https://m.co/a", "https://m.co/a"),
    (
        "https://www.example.com/ampersand-story?amplitude=3",
        "https://www.example.com/ampersand-story?amplitude=3",
    ),
    ("https://www.example.com/news?amp=0", "https://www.example.com/news?amp=0"),
]


@pytest.mark.parametrize(("url", "expected"), URL_CASES)
def test_canonical_url_table(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent():
    for url, _ in URL_CASES:
        once = canonical_url(url)
        assert canonical_url(once) == once


def test_extra_tracking_params_from_settings():
    url = "https://example.com/a?src=rss&id=4&Ref=home"
    assert canonical_url(url) == "https://example.com/a?Ref=home&id=4&src=rss"
    assert canonical_url(url, extra_tracking=("src", "ref")) == "https://example.com/a?id=4"


def test_registrable_domain():
    assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("www.japantimes.co.jp") == "japantimes.co.jp"
    assert registrable_domain("edition.cnn.com") == "cnn.com"
    assert registrable_domain("example.com") == "example.com"


CANONICAL_CASES = [
    # AMP page declares the plain page: taken
    (
        "https://www.example.com/news/story-1/amp/?utm_source=x",
        "https://www.example.com/news/story-1/",
        "https://www.example.com/news/story-1/",
    ),
    # same site, other host: taken
    (
        "https://amp.example.com/story",
        "https://edition.example.com/2024/story?utm_medium=rss",
        "https://edition.example.com/2024/story",
    ),
    # relative canonical resolved against the fetched URL
    ("https://www.example.com/a/b?x=1", "/a/b-story", "https://www.example.com/a/b-story"),
    # another site (syndication partner, spam): the fetched URL wins
    ("https://www.example.com/a", "https://other-news.net/a", "https://www.example.com/a"),
    # home page as canonical of every page (template bug): ignored
    (
        "https://www.example.com/news/1",
        "https://www.example.com/",
        "https://www.example.com/news/1",
    ),
    # nothing declared / not http
    ("https://www.example.com/a#x", None, "https://www.example.com/a"),
    ("https://www.example.com/a", "  ", "https://www.example.com/a"),
    ("https://www.example.com/a", "javascript:void(0)", "https://www.example.com/a"),
]


@pytest.mark.parametrize(("fetched", "declared", "expected"), CANONICAL_CASES)
def test_choose_canonical(fetched, declared, expected):
    assert choose_canonical(fetched, declared) == expected


def test_amp_and_plain_page_are_one_identity():
    plain = choose_canonical("https://www.example.com/news/story-1?utm_source=rss", None)
    amp = choose_canonical("https://www.example.com/news/story-1/amp", None)
    assert plain == amp == "https://www.example.com/news/story-1"


def test_entry_key_identity_order():
    assert entry_key("guid-1", "https://a.com/x", "T", None) == entry_key(
        "guid-1", None, None, None
    )
    assert entry_key(None, "https://a.com/x?utm_source=y#f", None, None) == entry_key(
        None, "https://A.com/x", None, None
    )
    assert entry_key(None, None, "Title", "2024-01-01") != entry_key(
        None, None, "Title", "2024-01-02"
    )
    assert len(entry_key("g", None, None, None)) == 32


def test_content_hash_normalizes_whitespace_and_case():
    assert content_hash("Hello  World\n\nAgain") == content_hash("hello world again")
    assert content_hash("Hello world") != content_hash("Hello world!")


def test_simhash_is_64_bit_and_stable():
    value = simhash(WIRE)
    assert 0 <= value < 1 << 64
    assert simhash(WIRE) == value
    assert hamming(value, value) == 0
    assert hamming(0, (1 << 64) - 1) == 64


def test_simhash_counts_columns_as_the_textbook_loop_does():
    texts = ["", "one", "two words", WIRE, WIRE.upper() + " extra words at the end", "x " * 500]
    texts += [" ".join(f"w{i * j % 97}" for i in range(n)) for j, n in ((3, 40), (7, 400))]
    for text in texts:
        assert simhash(text) == simhash_reference(text), text[:40]


def test_simhash_small_edit_is_close_and_other_story_is_far():
    one_word = WIRE.replace("stubborn", "persistent")
    assert hamming(simhash(WIRE), simhash(one_word)) <= 3
    assert hamming(simhash(WIRE), simhash(SAME_TEMPLATE_OTHER)) >= 16


def test_near_dup_fingerprint_ignores_dateline_lede_and_credits():
    original, copy = simhash(near_dup_text(WIRE)), simhash(near_dup_text(WIRE_SYNDICATED))
    assert hamming(original, copy) <= 3
    assert "Reporting by" not in near_dup_text(WIRE_SYNDICATED)
    assert not near_dup_text(WIRE_SYNDICATED).startswith("LONDON")


def test_same_template_different_story_is_far():
    a, b = simhash(near_dup_text(WIRE)), simhash(near_dup_text(SAME_TEMPLATE_OTHER))
    assert hamming(a, b) > 10
    # short bodies sharing boilerplate are close: why they are never matched (min length)
    assert hamming(simhash(SHORT_A), simhash(SHORT_B)) < hamming(a, b)


def test_bands_pigeonhole():
    value = simhash(WIRE)
    parts = bands(value, 4)
    assert len(parts) == 4 and all(0 <= p < 1 << 16 for p in parts)
    flipped = value ^ (1 << 3) ^ (1 << 20) ^ (1 << 40)  # distance 3: one band still equal
    assert sum(a == b for a, b in zip(parts, bands(flipped, 4), strict=True)) >= 1
    assert bands(value, 7)[-1] < 1 << (64 - 9 * 6)
