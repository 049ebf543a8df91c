"""Body rules of issue 12: a short story is found whatever its template; closing site blurbs
(letters, follow us, newsletter, tips) are not article paragraphs, the story's own words are."""

from __future__ import annotations

import pytest

from tasks.clean import clean_html
from tasks.clean.body import byline_line, trim_blurbs
from tasks.errors import NoContentError

URL = "https://town.example.com/news/2024/02/01/library"
SENTENCES = [
    "The town library will open on Sundays from next month, the council said on Friday.",
    "A trial last winter drew more visitors than expected, most of them families.",
    "Opening hours will be from noon to five, and volunteers will staff the reading room.",
    "Anyone who wants to help can leave their name at the front desk.",
]
STORY = "".join(f"<p>{s}</p>" for s in SENTENCES)


def _body(html: str) -> str:
    return clean_html(html, URL).body


def test_short_story_in_an_aspnet_form():
    html = (
        '<html><body><form id="aspnetForm" method="post"><div class="header">'
        '<a href="/">Home</a></div><div id="ctl00_main"><h1>Library opens on Sundays</h1>'
        f"{STORY}</div></form></body></html>"
    )
    assert _body(html).split("\n\n") == SENTENCES


def test_short_story_under_a_wrapper_named_like_chrome():
    html = (
        '<html><body><div class="sidebar-layout"><div class="date-outer"><h2 class="date-header">'
        '1 Feb 2024</h2><div class="post-body">' + STORY + "</div></div></div></body></html>"
    )
    assert _body(html).split("\n\n") == SENTENCES


def test_short_story_is_not_taken_from_a_comment_thread():
    html = (
        "<html><body><article><p>Photo of the day.</p></article>"
        f'<div id="comments"><div class="comment-body">{STORY}</div></div></body></html>'
    )
    with pytest.raises(NoContentError):
        _body(html)


def test_a_longer_page_body_is_kept_as_it_was():
    long_story = STORY * 5
    html = (
        f'<html><body><article>{long_story}</article><div class="date-outer"><div class="x">'
        "<p>Other words of a sidebar widget that says something about the author here.</p>"
        "</div></div></body></html>"
    )
    assert "sidebar widget" not in _body(html)


def test_closing_blurbs_are_trimmed_and_the_story_kept():
    body = "\n\n".join(
        [
            *SENTENCES,
            "Have a news tip? Email newsroom@town.example.com.",
            "Follow us on Facebook and Instagram.",
        ]
    )
    assert trim_blurbs(body) == "\n\n".join(SENTENCES)


def test_blurb_words_inside_the_story_stay():
    middle = "The mayor said she would follow the debate on Facebook and Twitter."
    body = "\n\n".join([SENTENCES[0], middle, SENTENCES[1]])
    assert trim_blurbs(body) == body


def test_a_long_closing_paragraph_is_story_text():
    long_para = (
        "Residents who wrote letters to the editor about the plan were heard at the meeting, "
        "where the council spent two hours on questions about parking, shade and the cost "
        "of maintenance over the next twenty years, and agreed to publish the answers on the "
        "town's website before the vote next month, together with the engineers' reports and "
        "the responses of shop owners along Main Street who were consulted in the spring."
    )
    body = "\n\n".join([SENTENCES[0], long_para])
    assert len(long_para) > 400 and trim_blurbs(body) == body


def test_a_lone_paragraph_is_never_trimmed():
    assert trim_blurbs("Sign up for our newsletter.") == "Sign up for our newsletter."


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("By Phil Helsel", True),
        ("By Ana de la Cruz and Bo Chen", True),
        ("Por Ana Gómez y Luis Ruiz", True),
        ("05/10/2018 - Publicado por: Clarissa Borba - Categoria: Saúde", True),
        ("Published 6 October 2021 by Staff", True),
        ("By the way, the council met on 6 October 2021.", False),
        ("By Tuesday the water had receded from most streets.", False),
        ("The vote on 6 October 2021 was the first since the flood.", False),
    ],
)
def test_byline_lines(line, expected):
    assert byline_line(line) is expected


def test_byline_lines_only_at_the_ends():
    middle = "Published 6 October 2021 by Staff"
    body = "\n\n".join([*SENTENCES[:2], middle, *SENTENCES[2:]])
    html = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    assert middle in _body(html + "</article></body></html>")
    html = f"<html><body><article><p>By Phil Helsel</p>{STORY}</article></body></html>"
    assert _body(html).split("\n\n") == SENTENCES


@pytest.mark.parametrize(
    "blurb",
    [
        "Like this story? Share it with a friend!",
        "Let our news meet your inbox. The news and stories that matter, delivered weekday mornings.",
        "ATENÇÃO: Comentários ofensivos não serão aprovados pelo moderador.",
        "Want to share your view? Send your letters to letters@town.example.com.",
    ],
)
def test_more_closing_blurbs(blurb):
    body = "\n\n".join([*SENTENCES, blurb])
    assert trim_blurbs(body) == "\n\n".join(SENTENCES)


def test_short_story_written_straight_into_a_wrapper_named_like_chrome():
    text = "<br><br>".join(SENTENCES)
    html = f'<html><body><div class="date-outer">{text}</div></body></html>'
    assert _body(html).split("\n\n") == SENTENCES
