"""`newsworker feeds ...` and `newsworker status` through worker.cli.main, with a local server,
a temporary feeds file and the test's Redis prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.feeds import FeedSource, load_feeds
from config.settings import load_settings
from tasks.poll.registry import FeedRegistry
from tasks.poll.schedule import FeedState
from tests.conftest import TEST_REDIS_URL
from tests.httpserver import Reply
from worker.cli import main

FEEDS = Path(__file__).parent / "feeds"
XML = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWS_FETCH_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("NEWS_FETCH_RETRIES", "0")
    monkeypatch.setenv("NEWS_FEEDS_FILE", str(tmp_path / "feeds.toml"))
    monkeypatch.delenv("NEWS_REDIS_URL", raising=False)
    monkeypatch.setenv("NEWS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "feeds.toml"


def test_check_a_file(env, capsys):
    assert main(["feeds", "check", str(FEEDS / "rss20.xml")]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["id"] for x in lines] == ["story-1", "story-2", "story-3"]
    assert set(lines[0]) == {"id", "link", "title", "published"}
    assert err.startswith("ok: 3 entries, rss20")


@pytest.mark.parametrize(
    "source, reason",
    [
        (FEEDS / "broken.xml", "not a usable feed"),
        (FEEDS / "html_page.html", "HTML page"),
        (FEEDS / "bomb.xml", "XML entities"),
        ("/no/such/file.xml", "cannot read"),
        ("http://", "not usable"),
    ],
)
def test_check_unusable_is_one_line(env, capsys, source, reason):
    assert main(["feeds", "check", str(source)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and reason in err
    assert "Traceback" not in err


def test_check_a_url(env, capsys, http_server):
    http_server.route("/f.xml", Reply(200, XML, (FEEDS / "bozo_usable.xml").read_bytes()))
    assert main(["feeds", "check", http_server.url("/f.xml")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "warning: SAXParseException" in err


def test_discover(env, capsys, http_server):
    page = (FEEDS / "html_page.html").read_text().replace("https://news.example.com", "")
    http_server.route("/", Reply(200, {"Content-Type": "text/html"}, page))
    http_server.route("/feeds/all.rss", Reply(200, XML, (FEEDS / "rss20.xml").read_bytes()))
    http_server.route("/index.xml", Reply(200, XML, (FEEDS / "atom10.xml").read_bytes()))
    assert main(["feeds", "discover", http_server.url("/")]) == 0
    out, err = capsys.readouterr()
    urls = [line.split("\t")[0] for line in out.splitlines()]
    assert urls == [http_server.url("/feeds/all.rss"), http_server.url("/index.xml")]
    assert "2 feed(s) found" in err


def test_import_and_export_opml(env, capsys, tmp_path):
    env.write_text('[[feeds]]\nname = "Blog"\nurl = "https://blog.example.com/atom.xml"\n')
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="Tech">'
        '<outline text="Blog" xmlUrl="https://blog.example.com/atom.xml"/>'
        '<outline text="Другой блог" xmlUrl="https://other.example.com/rss"/>'
        "</outline></body></opml>"
    )
    assert main(["feeds", "import-opml", str(opml)]) == 0
    assert "1 feed(s) added" in capsys.readouterr().err
    assert [(f.name, f.tags) for f in load_feeds(env)] == [("Blog", ()), ("Другой блог", ("Tech",))]
    assert main(["feeds", "import-opml", str(opml)]) == 0  # twice: nothing more
    assert len(load_feeds(env)) == 2
    assert main(["feeds", "export-opml"]) == 0
    out = capsys.readouterr().out
    assert 'xmlUrl="https://other.example.com/rss"' in out and 'category="Tech"' in out
    assert main(["feeds", "list"]) == 0
    assert "other-example" not in capsys.readouterr().out  # ids come from names


def test_status_needs_redis(env, capsys):
    assert main(["status"]) == 2
    assert "NEWS_REDIS_URL is unset" in capsys.readouterr().err


def test_status_table(env, capsys, monkeypatch, redis_client, keys):
    monkeypatch.setenv("NEWS_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("NEWS_REDIS_PREFIX", keys.prefix)
    registry = FeedRegistry(redis_client, keys, load_settings({}))
    registry.sync(
        [
            FeedSource("a", "Alpha", "https://a.example.com/rss"),
            FeedSource("b", "Beta", "https://b.example.com/rss", enabled=False),
        ],
        1e9,
    )
    registry.save_state(
        FeedState(
            "a",
            last_poll=1e9,
            error_kind="not_found",
            error_status=404,
            error_message="HTTP 404",
            error_count=2,
            error_since=1e9,
        )
    )
    redis_client.hset(keys.feed_stats("a"), mapping={"stored": 3, "revised": 1, "failed": 2})
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines[0].index("STORED")
    assert lines[1][at:].split()[:2] == ["4", "2"]  # stored (new + revised), failed
    assert lines[0].split()[:2] == ["NAME", "STATE"]
    assert "failing x2" in lines[1] and "not_found 404: HTTP 404" in lines[1]
    assert "disabled" in lines[2]
    assert any(line.startswith("queue pages: ") for line in lines)


def test_add_disable_enable_keep_the_files_comments(env, capsys):
    env.write_text(
        '# my feeds\n[[feeds]]\n# the main one\nname = "Alpha"\nurl = "https://a.example.com/rss"\n'
    )
    assert main(["feeds", "add", "Beta News", "https://b.example.com/feed", "--tag", "tech"]) == 0
    assert main(["feeds", "disable", "alpha"]) == 0
    feeds = {f.name: f for f in load_feeds(env)}
    assert not feeds["Alpha"].enabled and feeds["Beta News"].enabled
    assert feeds["Beta News"].tags == ("tech",)
    assert "# my feeds" in env.read_text() and "# the main one" in env.read_text()
    assert main(["feeds", "enable", "beta-news"]) == 0 and main(["feeds", "enable", "Alpha"]) == 0
    assert all(f.enabled for f in load_feeds(env))
    capsys.readouterr()
    assert main(["feeds", "add", "alpha", "https://c.example.com/rss"]) == 2
    assert "same id as 'Alpha'" in capsys.readouterr().err
    assert main(["feeds", "disable", "Gamma"]) == 2
    assert capsys.readouterr().err == "newsworker: no feed named 'Gamma' in the feeds file\n"
    assert len(load_feeds(env)) == 2
