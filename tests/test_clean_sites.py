"""Per-site selector overrides: the sites file, host matching, and applying a rule."""

from __future__ import annotations

import pytest

from tasks.clean import clean_html
from tasks.clean.sites import SitesFileError, load_sites

SITES = """
[[sites]]
host = "example-news.com"
body = "div.story-body"
drop = [".inline-promo"]

[[sites]]
host = "other.example.org"
body = "#text"
"""
STORY = "The harbour authority approved the new ferry terminal on Monday, after a long debate."
PAGE = f"""<html><body>
<div class="teasers"><p>{"A much longer teaser text about another story, with commas, and more. " * 8}</p></div>
<div class="story-body"><p>{STORY}</p><div class="inline-promo"><p>Read our weekly newsletter, it is free and it is good.</p></div></div>
</body></html>"""  # noqa: E501


@pytest.fixture
def sites(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text(SITES, "utf-8")
    return load_sites(path)


def test_rule_for_host_and_subdomains(sites):
    assert sites.rule_for("example-news.com").host == "example-news.com"
    assert sites.rule_for("www.Example-News.com").host == "example-news.com"
    assert sites.rule_for("a.b.other.example.org").host == "other.example.org"
    assert sites.rule_for("notexample-news.com") is None
    assert sites.rule_for("example.org") is None
    assert sites.rule_for("com") is None


def test_rule_selects_body_and_drops(sites):
    article = clean_html(PAGE, "https://www.example-news.com/2024/story", sites=sites)
    assert article.body == STORY
    plain = clean_html(PAGE, "https://elsewhere.example/2024/story", sites=sites)
    assert "teaser" in plain.body and STORY not in plain.body


def test_rule_that_matches_nothing_falls_back(sites):
    html = PAGE.replace("story-body", "article-text")
    article = clean_html(html, "https://example-news.com/x", sites=sites)
    assert "teaser" in article.body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[sites]]\nhost = "a.com"\nbody = "div[["\n',
            "sites entry 1 (host 'a.com'): 'body' is not a valid CSS selector",
        ),
        (
            '[[sites]]\nhost = "a.com"\n',
            "sites entry 1 (host 'a.com'): 'body' must be a non-empty CSS selector",
        ),
        (
            '[[sites]]\nhost = "a.com"\nbody = "p"\ndrop = "x"\n',
            "'drop' must be a list of CSS selectors",
        ),
        ('[[sites]]\nhost = "a.com"\nbody = "p"\nbodyy = "x"\n', "unknown key(s) bodyy"),
        ('[[sites]]\nhost = "https://a.com/"\nbody = "p"\n', "'host' must be a host name"),
        (
            '[[sites]]\nhost = "a.com"\nbody = "p"\n[[sites]]\nhost = "A.com"\nbody = "p"\n',
            "sites entry 2 (host 'A.com'): host 'a.com' appears twice",
        ),
        ("[[sites]\n", "not valid TOML"),
        ("[feeds]\nx = 1\n", "expected only [[sites]] tables"),
    ],
)
def test_bad_file_names_file_and_entry(tmp_path, text, message):
    path = tmp_path / "sites.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(SitesFileError) as err:
        load_sites(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(SitesFileError, match="cannot read"):
        load_sites(tmp_path / "nope.toml")
