"""NEWS_FEED_MAX_ENTRIES bounds the parse itself (issue 11 item 6): a feed under the byte cap
is cut to its first and last N items before feedparser sees it, in bounded time and memory;
`feeds check FILE` applies both caps. Atom type="text" titles stay text (item 7)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from xml.etree import ElementTree

import feedparser
import pytest

from tasks.feed.parse import parse_feed
from tasks.feed.trim import item_starts, trim_items
from tests.celeryproc import ROOT
from worker.cli import main


def rss(n: int, extra: bytes = b"") -> bytes:
    items = b"".join(
        b"<item><title>Item %d</title><link>https://e.example/%d</link><guid>%d</guid></item>"
        % (i, i, i)
        for i in range(n)
    )
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
    return head + extra + items + b"</channel></rss>"


def titles(data: bytes) -> list[str]:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [e.title for e in parsed.entries]


def test_trim_keeps_the_first_and_last_items_well_formed():
    cut = trim_items(rss(10), 2)
    assert (cut.items, cut.kept) == (10, 4)
    assert titles(cut.data) == ["Item 0", "Item 1", "Item 8", "Item 9"]
    same = trim_items(rss(4), 2)
    assert same.data == rss(4) and same.kept == 4


def dated(n: int, newest_first: bool) -> bytes:
    order = range(n - 1, -1, -1) if newest_first else range(n)
    items = "".join(
        f"<item><title>D{i}</title><guid>{i}</guid>"
        f"<pubDate>Mon, 01 Jan 2024 {i // 60:02d}:{i % 60:02d}:00 GMT</pubDate></item>"
        for i in order
    )
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("newest_first", [True, False])
def test_dates_decide_which_end_is_kept(newest_first):
    cut = trim_items(dated(100, newest_first), 10)
    assert (cut.items, cut.kept) == (100, 10)
    assert sorted(titles(cut.data)) == sorted(f"D{i}" for i in range(90, 100))


def test_trim_skips_cdata_and_comments_and_knows_namespaces():
    tricky = b"<![CDATA[ <item>not one</item> ]]><!-- <item> --><items/>"
    assert len(item_starts(rss(3, tricky))) == 3
    atom = (
        b'<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>t</a:title>'
        + b"".join(
            b"<a:entry><a:id>%d</a:id><a:title>E%d</a:title></a:entry>" % (i, i) for i in range(6)
        )
        + b"</a:feed>"
    )
    assert titles(trim_items(atom, 1).data) == ["E0", "E5"]


def test_trim_falls_back_to_the_exact_scan_on_nested_items():
    nested = rss(6).replace(
        b"<item><title>Item 1</title>", b"<item><item>x</item><title>Item 1</title>"
    )
    cut = trim_items(nested, 2)
    channel = ElementTree.fromstring(cut.data).find("channel")  # well-formed: parses strictly
    kept = [item.findtext("title") for item in channel.findall("item")]
    assert cut.kept == 4 and kept == ["Item 0", "Item 1", "Item 4", "Item 5"]


def test_an_unclosed_cdata_does_not_make_the_scan_quadratic():
    hostile = b"<rss><channel>" + b"<![CDATA[<item>" * 200_000
    started = time.perf_counter()
    assert item_starts(hostile) == []
    small = time.perf_counter() - started
    started = time.perf_counter()
    item_starts(hostile * 2)
    assert time.perf_counter() - started < 10 * max(small, 0.01)  # linear, not quadratic


def test_a_capped_parse_costs_about_what_its_entries_cost():
    """The ratio to parsing a feed of just the kept entries, measured in the same run."""
    huge, small = rss(113_000), rss(2_000)
    assert len(huge) < 10 * 1024 * 1024  # under the default byte cap
    started = time.perf_counter()
    assert len(parse_feed(small, url="https://e.example/rss").entries) == 2_000
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    feed = parse_feed(huge, url="https://e.example/rss", max_entries=1_000)
    capped = time.perf_counter() - started
    assert len(feed.entries) == 2_000
    assert {"Item 0", "Item 112999"} <= {e.title for e in feed.entries}
    assert capped < 4 * baseline, (capped, baseline)  # a full parse: ~55x


# The child's own peak: VmHWM of its address space. (ru_maxrss is not: Linux carries it over
# from the parent across the fork and exec, and a long pytest run is bigger than 150 MB.)
PEAK = """
import re, sys
from tasks.feed.parse import parse_feed
body = open(sys.argv[1], "rb").read()
feed = parse_feed(body, url="https://e.example/rss", max_entries=1000)
status = open("/proc/self/status").read()
print(len(feed.entries), int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
"""


def test_a_capped_parse_of_a_10_mib_feed_stays_under_150_mb(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(rss(113_000))
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    entries, peak_mb = map(int, out.stdout.split())
    assert entries == 2_000 and peak_mb <= 150, peak_mb


def test_a_json_feed_is_capped_too():
    items = [{"id": str(i), "url": f"https://e.example/{i}", "title": f"J{i}"} for i in range(50)]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    feed = parse_feed(body, url="https://e.example/f.json", max_entries=5)
    assert sorted(e.title for e in feed.entries) == sorted(
        f"J{i}" for i in [0, 1, 2, 3, 4, 45, 46, 47, 48, 49]
    )


def test_feeds_check_applies_both_caps(tmp_path, monkeypatch, capsys):
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(40))
    monkeypatch.setenv("NEWS_FEED_MAX_ENTRIES", "5")
    assert main(["feeds", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5 and "ok: 5 entries" in err
    monkeypatch.setenv("NEWS_FEED_MAX_BYTES", "1024")
    assert main(["feeds", "check", str(path)]) == 1
    assert "over NEWS_FEED_MAX_BYTES (1024 bytes)" in capsys.readouterr().err


ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title type="text">Tags &amp; &lt;b&gt;tips&lt;/b&gt;</title>
<entry><id>1</id><title type="text">Using &lt;script&gt; tags safely</title>
<summary type="text">Write &lt;p&gt; and &lt;br&gt;</summary><link href="https://e.example/1"/></entry>
<entry><id>2</id><title type="html">An &lt;em&gt;HTML&lt;/em&gt; title</title><link href="https://e.example/2"/></entry>
</feed>"""


def test_atom_plain_text_titles_stay_text():
    feed = parse_feed(ATOM, url="https://e.example/atom")
    assert feed.title == "Tags & <b>tips</b>"
    plain, html = sorted(feed.entries, key=lambda e: e.entry_id)
    assert plain.title == "Using <script> tags safely"
    assert plain.summary == "Write <p> and <br>"
    assert plain.content == "Write &lt;p&gt; and &lt;br&gt;"  # as HTML, the text is escaped
    assert html.title == "An HTML title"


@pytest.mark.integration
def test_a_poll_caps_while_parsing(redis_client, keys, http_server, caplog):
    from config.settings import load_settings
    from tasks.dedupe.seen import SeenIndex
    from tasks.fetch.http import HttpClient
    from tasks.poll.registry import FeedRegistry
    from tasks.poll.stage import poll_feed
    from tests.httpserver import Reply
    from tests.test_poll import NOW, Zero, add

    http_server.route("/big.xml", Reply(200, {"Content-Type": "application/rss+xml"}, rss(300)))
    settings = load_settings({}, fetch_allow_private=True, feed_max_entries=20)
    registry = FeedRegistry(redis_client, keys, settings)
    http = HttpClient(settings)
    with caplog.at_level("INFO", logger="tasks.feed.parse"):
        result = poll_feed(
            add(registry, http_server.url("/big.xml")),
            http=http,
            registry=registry,
            seen=SeenIndex(redis_client, keys, 60),
            settings=settings,
            now=NOW,
            rng=Zero(),
        )
    http.close()
    assert len(result.entries) == 20
    assert any(
        "feed has 300 items, only the first and last 20" in r.message for r in caplog.records
    )
