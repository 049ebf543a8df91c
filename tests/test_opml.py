"""OPML import/export: nested outlines and categories become tags; appending skips known URLs."""

from __future__ import annotations

import pytest

from config.feeds import FeedsFileError, FeedSource, parse_feeds
from config.opml import new_feeds, parse_opml, to_opml, toml_tables

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News">
    <outline text="World">
      <outline type="rss" text="BBC &quot;World&quot;" xmlUrl="https://bbc.example.com/world.xml" category="/Europe"/>
    </outline>
    <outline type="rss" text="Tech Daily" xmlUrl="https://tech.example.com/rss"/>
  </outline>
  <outline type="rss" title="Blog" text="ignored" xmlUrl="https://blog.example.com/atom.xml"/>
  <outline type="rss" text="Tech Daily" xmlUrl="https://tech2.example.com/rss"/>
</body></opml>"""


def test_import_nested_outlines_become_tags():
    feeds = parse_opml(OPML)
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        ('BBC "World"', "https://bbc.example.com/world.xml", ("News", "World", "Europe")),
        ("Tech Daily", "https://tech.example.com/rss", ("News",)),
        ("Blog", "https://blog.example.com/atom.xml", ()),
        ("Tech Daily", "https://tech2.example.com/rss", ()),
    ]


def test_append_skips_known_urls_and_makes_ids_unique():
    existing = [FeedSource("blog", "Blog", "https://blog.example.com/atom.xml")]
    added = new_feeds(existing, parse_opml(OPML))
    assert [f.id for f in added] == ["bbc-world", "tech-daily", "tech-daily-2"]
    loaded = parse_feeds(toml_tables(added))  # what we append is a valid feeds file
    assert [(f.id, f.name, f.tags) for f in loaded] == [(f.id, f.name, f.tags) for f in added]


def test_export_round_trip():
    feeds = new_feeds([], parse_opml(OPML))
    again = parse_opml(to_opml(feeds))
    assert [(f.name, f.url) for f in again] == [(f.name, f.url) for f in feeds]
    assert again[0].tags == ("News", "World", "Europe")  # group + category, deduplicated


@pytest.mark.parametrize(
    "text",
    ["<opml><head/></opml>", "not xml", '<!DOCTYPE x [<!ENTITY a "b">]><opml><body/></opml>'],
)
def test_bad_opml(text):
    with pytest.raises(FeedsFileError):
        parse_opml(text)
