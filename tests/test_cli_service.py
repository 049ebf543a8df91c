"""The read-side commands on a real store: export (JSON Lines / text, filters), show, clean."""

from __future__ import annotations

import json

import pytest

from tasks.dedupe import content_hash
from tasks.models import Article, article_id
from tasks.store import open_store
from tests.newssite import make_story, page_html
from worker.cli import main


def article(n: int, feed: str, published: str) -> Article:
    story = make_story(n, feed)
    url = f"https://news.example.com/{feed}/{n}"
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=story.title,
        body=story.body,
        fetched_at="2026-11-02T00:00:00+00:00",
        content_hash=content_hash(story.body),
        word_count=len(story.body.split()),
        published_at=published,
        source="Example News",
        feed_id=feed,
        authors=("Ana Lima",),
        tags=("city",),
    )


@pytest.fixture
def filled(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path}/articles.db"
    monkeypatch.setenv("NEWS_STORE_URL", url)
    store = open_store(url)
    items = [
        article(1, "world", "2026-10-01T10:00:00+02:00"),
        article(2, "world", "2026-11-01T10:00:00+00:00"),
        article(3, "sport", "2026-11-02T09:00:00-05:00"),
    ]
    for item in items:
        store.upsert(item, "2026-11-02T00:00:00+00:00")
    store.close()
    return items


def test_export_writes_the_records_as_json_lines(filled, capsys):
    assert main(["export"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["id"] for r in records) == sorted(a.id for a in filled)
    assert {Article.from_dict(r) for r in records} == set(filled)


def test_export_filters_by_feed_and_date(filled, capsys):
    assert main(["export", "--feed", "World", "--since", "2026-10-15"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == [filled[1].id]


def test_export_as_text_and_show_render_the_article(filled, capsys):
    assert main(["export", "--format", "text", "--feed", "sport"]) == 0
    assert capsys.readouterr().out.startswith(filled[2].render_text())
    assert main(["show", filled[2].id[:8]]) == 0
    assert capsys.readouterr().out == filled[2].render_text()
    assert main(["show", "0000000000"]) == 1
    assert "no article with id 0000000000" in capsys.readouterr().err


def test_clean_a_saved_page(tmp_path, capsys):
    story = make_story(7, "saved")
    page = tmp_path / "page.html"
    page.write_text(page_html(story))
    assert (
        main(["clean", str(page), "--url", "https://news.example.com/a", "--format", "json"]) == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["title"] == story.title and record["body"] == story.body
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav>Home</nav></body></html>")
    assert main(["clean", str(empty), "--url", "https://news.example.com/b"]) == 2
    assert capsys.readouterr().err.startswith("newsworker: ")


def test_clean_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["clean", str(tmp_path / "nope.html"), "--url", "https://x.example/"]) == 2
    assert (
        capsys.readouterr().err
        == f"newsworker: cannot read {tmp_path / 'nope.html'}: No such file or directory\n"
    )


def test_clean_applies_the_site_rules(tmp_path, capsys, monkeypatch):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><div class='story'><p>Only this paragraph is the story, as the site rule"
        " says, and it is long enough to count.</p></div><article><p>A much longer teaser "
        "that a general cleaner would pick, because it looks like an article with many words "
        "in it, on and on and on, longer than the story itself by far.</p></article></body></html>"
    )
    sites = tmp_path / "sites.toml"
    sites.write_text('[[sites]]\nhost = "news.example.com"\nbody = "div.story"\n')
    monkeypatch.setenv("NEWS_SITES_FILE", str(sites))
    assert (
        main(["clean", str(page), "--url", "https://www.news.example.com/a", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["body"].startswith("Only this paragraph")
    sites.write_text('[[sites]]\nhost = "news.example.com"\n')
    assert main(["clean", str(page), "--url", "https://news.example.com/a"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"newsworker: {sites}") and len(err.splitlines()) == 1


def test_a_bad_date_is_refused_by_the_parser(filled, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["export", "--since", "last tuesday"])
    assert stop.value.code == 2
    assert "argument --since: expected a date like 2026-11-01" in capsys.readouterr().err
