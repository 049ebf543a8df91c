"""The feeds file: [[feeds]] tables validated, each error naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.feeds import FeedsFileError, FeedSource, load_feeds, parse_feeds
from tests.celeryproc import ROOT


def test_the_default_feeds_file_is_valid_and_has_rss_and_atom_feeds():
    feeds = load_feeds(ROOT / "config" / "feeds.toml")
    assert len(feeds) >= 4
    assert len({f.id for f in feeds}) == len(feeds)
    assert all(f.url.startswith("https://") for f in feeds)


def test_a_table_with_every_key():
    (feed,) = parse_feeds(
        '[[feeds]]\nname = "Example World"\nurl = "https://example.org/rss"\n'
        'min_interval = 600\nmax_interval = 7200\ntags = ["world", "news"]\n'
        'language = "pt"\nenabled = false\n'
    )
    assert feed == FeedSource(
        "example-world",
        "Example World",
        "https://example.org/rss",
        600,
        7200,
        ("world", "news"),
        "pt",
        False,
    )
    assert FeedSource.from_json(feed.to_json()) == feed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[feeds]]\nurl = "https://a.example/rss"\n', "feed #1: 'name' must be"),
        ('[[feeds]]\nname = "A"\nurl = "ftp://a.example/rss"\n', "feed #1 ('A'): 'url' must be"),
        ('[[feeds]]\nname = "A"\nurl = "https://a/"\nmin_interval = 5\n', "'min_interval' must be"),
        ('[[feeds]]\nname = "A"\nurl = "https://a/"\ncolour = "red"\n', "unknown key(s) colour"),
        (
            '[[feeds]]\nname = "A"\nurl = "https://a/"\n[[feeds]]\nname = "a"\nurl = "https://b/"\n',
            "feed #2 ('a') has the same id as 'A'",
        ),
        ("[[feeds]\n", "not valid TOML"),
        ('[[feeds]]\nname = "A"\nurl = "https://a/"\nenabled = "yes"\n', "'enabled' must be"),
    ],
)
def test_bad_entries_are_named(text, message):
    with pytest.raises(FeedsFileError) as err:
        parse_feeds(text, "f.toml")
    assert str(err.value).startswith("f.toml: ")
    assert message in str(err.value)


def test_a_missing_file_says_which(tmp_path: Path):
    with pytest.raises(FeedsFileError, match="feeds file not found"):
        load_feeds(tmp_path / "nope.toml")
