"""A bad feeds-file entry is refused alone (issue 11 items 1, 2, 8): one line naming the file,
the entry, the field and why; the other entries stay in force, in the beat tick (real Redis),
in `status` and in the `feeds` commands; `feeds import-opml` validates before it writes."""

from __future__ import annotations

import pytest

from config.feeds import FeedsFileError, load_feeds, parse_feeds, read_feeds
from config.settings import load_settings
from tasks.poll.registry import FeedRegistry
from tasks.poll.stage import tick
from tests.conftest import TEST_REDIS_URL
from worker.cli import main

NOW = 1_700_000_000.0
GOOD = '[[feeds]]\nname = "Good"\nurl = "https://good.example.com/rss"\n'
BAD_ENTRIES = {
    "malformed url": ('[[feeds]]\nname = "Bad"\nurl = "http://[::1/x"\n', "'url' is malformed"),
    "list id": ('[[feeds]]\nname = "Bad"\nurl = "https://b.example.com/"\nid = [1]\n', "'id'"),
    "port 99999": (
        '[[feeds]]\nname = "Bad"\nurl = "https://b.example.com:99999/"\n',
        "Port out of range",
    ),
    "number id": ('[[feeds]]\nname = "Bad"\nurl = "https://b.example.com/"\nid = 7\n', "'id'"),
    "not a table": ("feeds = [1]\n", "expected a [[feeds]] table"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_a_bad_entry_is_one_named_line_and_the_others_stay(case):
    bad, field = BAD_ENTRIES[case]
    text = bad if bad.startswith("feeds =") else GOOD + bad
    load = read_feeds(text, "f.toml")
    assert [f.id for f in load.feeds] == ([] if bad.startswith("feeds =") else ["good"])
    (line,) = load.refused
    assert line.startswith("f.toml: feed #") and field in line and "\n" not in line
    with pytest.raises(FeedsFileError, match="f.toml: feed #"):
        parse_feeds(text, "f.toml")  # the strict reading is the same line, as FeedsFileError


@pytest.fixture
def env(monkeypatch, tmp_path, keys):
    monkeypatch.setenv("NEWS_FEEDS_FILE", str(tmp_path / "feeds.toml"))
    monkeypatch.setenv("NEWS_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("NEWS_REDIS_PREFIX", keys.prefix)
    monkeypatch.setenv("NEWS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "feeds.toml"


@pytest.mark.integration
def test_the_tick_keeps_polling_past_a_bad_entry(env, redis_client, keys, capsys):
    registry = FeedRegistry(redis_client, keys, load_settings({}))
    other = '[[feeds]]\nname = "Other"\nurl = "https://other.example.com/rss"\n'
    env.write_text(GOOD + other)
    tick(registry, str(env), NOW)
    # "Other" goes bad: it is refused, its last good version stays; "Good" still polls.
    env.write_text(GOOD + '[[feeds]]\nname = "Other"\nurl = "http://[::1/x"\n')
    assert sorted(tick(registry, str(env), NOW + 100)) == ["good", "other"]
    assert registry.feed("other").url == "https://other.example.com/rss"
    assert main(["status"]) == 0
    err = capsys.readouterr().err
    assert "feeds file loaded, 1 entry refused" in err
    assert f"{env}: feed #2 ('Other'): 'url' is malformed" in err
    env.write_text(GOOD + '[[feeds]]\nname = "New"\nurl = "https://n.example.com/"\nid = [1]\n')
    tick(registry, str(env), NOW + 200)  # a refused entry never seen before is not invented
    assert {f.id for f in registry.feeds()} == {"good"}
    env.write_text("[[feeds]\n")
    tick(registry, str(env), NOW + 300)
    assert main(["status"]) == 0
    assert "feeds file NOT loaded" in capsys.readouterr().err


def test_feeds_commands_end_in_one_line(env, capsys):
    env.write_text(GOOD + BAD_ENTRIES["list id"][0])
    assert main(["feeds", "list"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("good\t") and err.count("\n") == 1 and "'id' must be" in err
    assert main(["feeds", "add", "Third", "https://third.example.com/"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'id' must be" in err and "Traceback" not in err
    assert "Third" not in env.read_text()  # nothing written
    env.write_text(GOOD)
    assert main(["feeds", "add", "Third", "http://[::1/x"]) == 2
    assert "'url' is malformed" in capsys.readouterr().err
    assert main(["feeds", "add", "Third", "https://third.example.com:99999/"]) == 2
    assert "Port out of range" in capsys.readouterr().err


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
  <outline text="Fine" xmlUrl="https://fine.example.com/rss"/>
  <outline text="Passwords" xmlUrl="file:///etc/passwd"/>
  <outline text="Broken" xmlUrl="http://[::1/x"/>
  <outline text="Also fine" xmlUrl="https://also.example.com/rss"/>
</body></opml>
"""


def test_import_opml_validates_first_and_reports_what_it_skipped(env, capsys, tmp_path):
    env.write_text(GOOD)
    opml = tmp_path / "in.opml"
    opml.write_text(OPML)
    assert main(["feeds", "import-opml", str(opml)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "outline #2 ('Passwords'): 'url' must be an http(s) URL" in err
    assert "outline #3 ('Broken'): 'url' is malformed" in err
    assert "2 feed(s) added" in err and "2 skipped" in err
    assert [f.id for f in load_feeds(env)] == ["good", "fine", "also-fine"]
    assert "file://" not in env.read_text()


def test_import_opml_writes_nothing_into_a_broken_feeds_file(env, capsys, tmp_path):
    broken = GOOD + BAD_ENTRIES["list id"][0]
    env.write_text(broken)
    opml = tmp_path / "in.opml"
    opml.write_text(OPML)
    assert main(["feeds", "import-opml", str(opml)]) == 2
    assert "'id' must be" in capsys.readouterr().err
    assert env.read_text() == broken
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
