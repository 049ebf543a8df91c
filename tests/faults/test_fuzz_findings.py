"""What the fuzzing found, each kept as a plain example (each failed before its fix)."""

from __future__ import annotations

import pytest

from config.feeds import FeedsFileError, parse_feeds
from tasks.feed.parse import parse_feed

pytestmark = [pytest.mark.faults]


@pytest.mark.parametrize(
    "ref", ["&#xD800;", "&#XDFFF;", "&#55296;", "&#x110000;", "&#99999999999;"]
)
def test_a_reference_to_a_non_character_costs_only_that_character(ref):
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>News {ref}</title><item><title>Story {ref}</title>"
        "<link>http://127.0.0.1/news/1.html</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, url="http://127.0.0.1/rss.xml")
    assert parsed.title == "News \ufffd"
    assert [e.title for e in parsed.entries] == ["Story \ufffd"]


def test_good_references_are_untouched():
    body = (
        b'<rss version="2.0"><channel><title>A&#x41;&#66;&#x1F600;</title><item><title>t</title>'
        b"<link>http://127.0.0.1/n</link></item></channel></rss>"
    )
    assert parse_feed(body, url="http://127.0.0.1/rss.xml").title == "AAB\U0001f600"


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('url = "http://[::1/x"', "'url' is malformed"),
        ('url = "http://127.0.0.1/rss"\nid = [1]', "'id' must be a non-empty string"),
        ('url = "http://127.0.0.1/rss"\nid = 5', "'id' must be a non-empty string"),
    ],
)
def test_a_bad_feeds_file_entry_is_a_feeds_file_error_naming_it(table, says):
    with pytest.raises(FeedsFileError) as err:
        parse_feeds(f'[[feeds]]\nname = "Local"\n{table}\n', "feeds.toml")
    assert str(err.value).startswith("feeds.toml: feed #1 ('Local'): " + says)


@pytest.mark.parametrize("link", ["http://user:pw@h:99999/", "http://[::1/x", "https://h:-1/"])
def test_an_entry_with_a_link_that_does_not_parse_costs_only_that_entry(link):
    body = (
        '<rss version="2.0"><channel><title>News</title>'
        f"<item><title>Odd</title><link>{link}</link></item>"
        "<item><title>Fine</title><link>http://127.0.0.1/news/1.html</link></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, url="http://127.0.0.1/rss.xml")
    assert sorted(e.title for e in parsed.entries) == ["Fine", "Odd"]
    assert len({e.key for e in parsed.entries}) == 2
