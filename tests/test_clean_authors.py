"""Authors: people only. No "By", roles, dates, URLs, e-mail addresses or the site's name."""

from __future__ import annotations

import json

import pytest

from tasks.clean import clean_html
from tasks.clean.meta import clean_author


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Written by Kim Park 3 hours ago", ["Kim Park"]),
        ("BY JOHN SMITH | Published March 12, 2020", ["JOHN SMITH"]),
        ("Maria Garcia - Updated: 12.03.2020 14:30", ["Maria Garcia"]),
        ("Jean Dupont, publié le 6 octobre 2021", ["Jean Dupont"]),
        ("Bo Chen on Tuesday", ["Bo Chen"]),
        ("Ann Lee ann.lee@paper.example", ["Ann Lee"]),
        ("Ann Lee (https://twitter.com/annlee)", ["Ann Lee"]),
        ("Peter Müller (Redakteur)", ["Peter Müller"]),
        ("Sam Ray is a reporter for the Daily Planet", ["Sam Ray"]),
        ("Jane Doe & Bo Chen, Staff Writers", ["Jane Doe", "Bo Chen"]),
        ("Staff Writer", []),
        ("2024-05-01", []),
        ("@janedoe", []),
        ("Par Jean Valjean", ["Jean Valjean"]),
        ("Dan May", ["Dan May"]),
    ],
)
def test_clean_author_cases(raw, expected):
    assert clean_author(raw) == expected


def test_site_name_is_no_author():
    assert clean_author("The Valley Courier", "The Valley Courier") == []
    assert clean_author("Valley Courier staff", "The Valley Courier") == ["Valley Courier staff"]


def _page(author: object, site: str = "Harbour Daily") -> str:
    ld = json.dumps({"@type": "NewsArticle", "headline": "Ferry returns", "author": author})
    story = "<p>" + "The ferry returned to service on Monday after repairs to its hull. " * 4
    return (
        f'<html><head><meta property="og:site_name" content="{site}">'
        f'<script type="application/ld+json">{ld}</script></head>'
        f"<body><article>{story}</p></article></body></html>"
    )


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ({"@type": "Organization", "name": "Harbour Daily"}, ()),
        ([{"name": "By Mara Quinn, Senior Reporter"}, {"name": "Harbour Daily"}], ("Mara Quinn",)),
        ({"name": "harbourdaily.example"}, ()),
        ("Mara Quinn | mara@harbourdaily.example | 12 May 2024", ("Mara Quinn",)),
        ([{"name": "Mara Quinn"}, {"name": "mara quinn"}], ("Mara Quinn",)),
    ],
)
def test_page_authors(author, expected):
    article = clean_html(_page(author), "https://www.harbourdaily.example/news/ferry")
    assert article.authors == expected
