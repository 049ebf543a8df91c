"""Golden cases of published_at / updated_at: structured data, bylines and datelines in
several languages, relative dates against the fetch time, dates in URLs, and the dates that
are never the story's (related stories, comments, copyright lines, "last updated")."""

from __future__ import annotations

import time

import pytest

from tasks.clean import clean_html
from tasks.clean.dates import date_in_url, dates_of, relative_date, text_date
from tasks.clean.dom import DATE_TEXTS_MAX, parse, walk
from tasks.clean.meta import read_meta
from tasks.formats import parse_date

URL = "https://news.example.org/politics/story-about-things"
FETCHED = "2021-10-09T12:00:00+00:00"
STORY = (
    "<p>The council met on a rainy evening to argue, at great length and with much feeling, "
    "about the new bridge, the old market, and the money that neither of them has.</p>"
    "<p>Residents who came to listen said they had heard the same arguments for years, and "
    "that they would keep coming until somebody finally decided something useful.</p>"
)


def page(head: str = "", top: str = "", after: str = "", lang: str = "en") -> str:
    return (
        f'<html lang="{lang}"><head><title>Bridge row</title>{head}</head><body>'
        f'<nav><a href="/">Home</a></nav><main><article><header><h1>Bridge row</h1>{top}'
        f"</header>{STORY}</article>{after}</main>"
        "<footer><p>© 2020 Example News. Last updated 1 January 2021.</p></footer></body></html>"
    )


def dates(html: str, url: str = URL) -> tuple[str | None, str | None]:
    article = clean_html(html, url, fetched_at=FETCHED)
    return article.published_at, article.updated_at


@pytest.mark.parametrize(
    ("top", "lang", "day"),
    [
        ('<p class="byline">Published 6 Oct 2021, 14:30</p>', "en", "2021-10-06T14:30"),
        ("<p>By Jane Doe | October 6, 2021</p>", "en", "2021-10-06"),
        ('<span class="datum">06.10.2021</span>', "de", "2021-10-06"),
        ("<p>Veröffentlicht am 6. Oktober 2021 um 9:15 Uhr</p>", "de", "2021-10-06T09:15"),
        ('<div class="meta">Publié le 6 octobre 2021</div>', "fr", "2021-10-06"),
        ('<div class="fecha">6 de octubre de 2021</div>', "es", "2021-10-06"),
        ('<span class="data">6 ottobre 2021</span>', "it", "2021-10-06"),
        ('<span class="data">6 de outubro de 2021</span>', "pt", "2021-10-06"),
        ('<span class="datum">6 oktober 2021</span>', "nl", "2021-10-06"),
        ('<span class="date">10/06/2021</span>', "en-US", "2021-10-06"),
        ('<span class="date">06/10/2021</span>', "en-GB", "2021-10-06"),
        ('<span class="date">2021.10.06. 14:05</span>', "ko", "2021-10-06T14:05"),
        ('<span class="date">06.10.21</span>', "de", "2021-10-06"),
    ],
)
def test_byline_dates_in_several_languages(top, lang, day):
    published, _ = dates(page(top=top, lang=lang))
    assert published is not None and published.startswith(day)


@pytest.mark.parametrize(
    ("phrase", "lang", "day"),
    [
        ("hace 3 días", "es", "2021-10-06"),
        ("vor 2 Stunden", "de", "2021-10-09T10:00"),
        ("3 days ago", "en", "2021-10-06"),
        ("il y a 1 jour", "fr", "2021-10-08"),
        ("2 giorni fa", "it", "2021-10-07"),
        ("3 dagen geleden", "nl", "2021-10-06"),
        ("gestern, 14:30 Uhr", "de", "2021-10-08"),
    ],
)
def test_relative_dates_count_back_from_the_fetch_time(phrase, lang, day):
    published, _ = dates(page(top=f'<span class="date">{phrase}</span>', lang=lang))
    assert published is not None and published.startswith(day)


def test_relative_date_needs_a_fetch_time():
    assert relative_date("vor 3 Tagen", None) is None
    assert relative_date("vor 3 Tagen", FETCHED).startswith("2021-10-06")


@pytest.mark.parametrize(
    ("url", "day"),
    [
        ("https://x.example/2021/10/06/bridge-row/", "2021-10-06"),
        ("https://x.example/news/2021-10-06-bridge-row", "2021-10-06"),
        ("https://x.example/news/20211006/bridge-row", "2021-10-06"),
        ("https://x.example/home/2017/7/12/bridge-row", "2017-07-12"),
        ("https://x.example/presse/~06-10-2021-bridge-row", "2021-10-06"),
        ("https://x.example/2021/10/bridge-row", None),  # a month is not a day
        ("https://x.example/story/2021/bridge-row", None),
        ("https://x.example/a?id=20211006", None),  # the query is not the path
    ],
)
def test_dates_in_urls(url, day):
    found = date_in_url(url)
    assert (found[:10] if found else None) == day


def test_url_date_is_used_when_the_page_gives_none():
    published, _ = dates(page(), "https://news.example.org/2021/10/06/bridge-row/")
    assert published.startswith("2021-10-06")


def test_related_story_date_is_not_the_story_date():
    related = (
        '<aside class="related-articles"><h2>More</h2><ul>'
        '<li><a href="/old">An old story</a> <span class="date">1 March 2019</span></li>'
        "</ul></aside>"
    )
    top = '<p class="byline">6 October 2021</p>'
    published, _ = dates(page(top=top, after=related))
    assert published.startswith("2021-10-06")
    published, _ = dates(page(after=related))
    assert published is None


def test_teaser_date_before_the_story_is_skipped():
    teasers = (
        '<div class="teaser"><span class="date">2 February 2020</span>'
        '<a href="/other">Another story</a></div>'
    )
    html = page(top='<span class="date">6 October 2021</span>').replace(
        "<main>", f"<main>{teasers}"
    )
    assert dates(html)[0].startswith("2021-10-06")


def test_comment_date_is_not_the_story_date():
    comments = (
        '<section id="comments"><div class="comment"><p class="comment-meta">'
        "7 October 2021 at 10:00</p><p>I was there and it was every bit as long as "
        "described, perhaps even longer than that.</p></div></section>"
    )
    assert dates(page(after=comments))[0] is None


def test_comment_time_element_is_not_the_story_date():
    comments = (
        '<ol class="commentlist"><li class="comment"><time datetime="2021-10-07T10:00:00Z">'
        "7 Oct</time><p>A reply that says very little of interest to anyone.</p></li></ol>"
    )
    top = '<time datetime="2021-10-06T08:00:00+02:00">6 Oct</time>'
    assert dates(page(top=top, after=comments))[0] == "2021-10-06T08:00:00+02:00"
    assert dates(page(after=comments))[0] is None


def test_copyright_year_and_updated_footer_are_not_dates():
    html = page(top="<p>© 2021 Example News</p>")
    assert dates(html) == (None, None)


def test_last_updated_line_gives_updated_at_not_published_at():
    top = '<p class="meta">Aktualisiert am 8. Oktober 2021</p>'
    published, updated = dates(page(top=top, lang="de"))
    assert published is None
    assert updated.startswith("2021-10-08")
    top = (
        '<p class="meta">Veröffentlicht am 6.10.2021</p><p class="meta">Aktualisiert: 8.10.2021</p>'
    )
    published, updated = dates(page(top=top, lang="de"))
    assert published.startswith("2021-10-06") and updated.startswith("2021-10-08")


def test_structured_data_comes_first():
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bridge row",'
        ' "datePublished": "2021-10-05T07:00:00+02:00", "dateModified": "2021-10-07T09:00:00Z"}'
        "</script>"
    )
    published, updated = dates(page(head=head, top='<span class="date">1 May 2020</span>'))
    assert published == "2021-10-05T07:00:00+02:00"
    assert updated == "2021-10-07T09:00:00+00:00"


@pytest.mark.parametrize(
    ("head", "top", "expected"),
    [
        (
            '<meta property="article:published_time" content="2021-10-06T08:00:00Z">',
            "",
            "2021-10-06T08:00",
        ),
        ('<meta property="og:pubdate" content="2021-10-06">', "", "2021-10-06T00:00"),
        ('<meta name="sailthru.date" content="2021-10-06 08:00:00">', "", "2021-10-06T08:00"),
        ("", '<time pubdate datetime="2021-10-06T08:00:00Z">6 Oct</time>', "2021-10-06T08:00"),
        ("", '<span itemprop="datePublished">06.10.2021 08:00</span>', "2021-10-06T08:00"),
        (
            "",
            '<abbr class="published" title="2021-10-06T08:00:00Z">6 Oct</abbr>',
            "2021-10-06T08:00",
        ),
    ],
)
def test_structured_sources(head, top, expected):
    assert dates(page(head=head, top=top))[0].startswith(expected)


def test_modified_meta_gives_updated_at():
    head = (
        '<meta property="article:published_time" content="2021-10-06T08:00:00Z">'
        '<meta property="article:modified_time" content="2021-10-08T08:00:00Z">'
    )
    assert dates(page(head=head)) == ("2021-10-06T08:00:00+00:00", "2021-10-08T08:00:00+00:00")


def test_the_url_day_beats_a_utc_time_a_day_later():
    # A page written in UTC-5 at 20:38 local time: its URL has the publisher's day.
    head = '<meta property="article:published_time" content="2020-04-14T00:38:07Z">'
    published, _ = dates(page(head=head), "https://x.example/news/20200413/bridge-row")
    assert published.startswith("2020-04-13")
    same, _ = dates(page(head=head), "https://x.example/news/20200414/bridge-row")
    assert same == "2020-04-14T00:38:07+00:00"


def test_dates_pages_write_that_fromisoformat_refuses():
    assert parse_date("2020-09-25T16:02:50CDT") == "2020-09-25T16:02:50+00:00"
    assert parse_date("2020-08-25|00h23") == "2020-08-25T00:00:00+00:00"
    assert parse_date("2020-13-45T00:00") is None


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Samstag, 19. Juli 2014", "de", "2014-07-19"),
        ("jeudi 27 juin 2019", "fr", "2019-06-27"),
        ("28. Jan. 2022", "de", "2022-01-28"),
        ("Oct. 6th, 2021", "en", "2021-10-06"),
        ("31.02.2021", "de", None),  # no such day
        ("Nr. 34", "de", None),
        ("1999-2021", "de", None),  # a span of years
    ],
)
def test_text_dates(text, lang, expected):
    found = text_date(text, lang)
    assert (found[:10] if found else None) == expected


def test_bad_input_gives_no_date_and_no_error():
    html = page(top='<span class="date">99.99.9999</span><time datetime="garbage">x</time>')
    assert dates(html) == (None, None)


def test_a_page_of_many_dates_is_bounded():
    rows = "".join(f"<tr><td>{d % 28 + 1}.03.2020</td><td>row</td></tr>" for d in range(20_000))
    html = page(top='<span class="date">6 October 2021</span>', after=f"<table>{rows}</table>")
    index = walk(parse(html))
    assert len(index.date_texts) == DATE_TEXTS_MAX  # the walk keeps the first ones only
    start = time.process_time()
    published, _ = dates_of(index, read_meta(index), URL, None, FETCHED)
    assert published.startswith("2021-10-06")
    assert time.process_time() - start < 0.5  # CPU seconds; a few ms unloaded


# A page without an <h1> (its headline an <h2>, <h4>...), nav and footer as usual.
def headless(top: str, after: str = "", lang: str = "de") -> str:
    return (
        f'<html lang="{lang}"><head><title>Bridge row</title></head><body>'
        f'<nav><a href="/">Home</a></nav><div class="page">{top}<h4>Bridge row</h4>'
        f'<div class="text">{STORY}</div>{after}</div>'
        "<footer><p>© 2020 Example News</p></footer></body></html>"
    )


@pytest.mark.parametrize(
    ("top", "lang"),
    [
        ('<div class="postdate"><span class="postday">26</span> Okt 2018</div>', "de"),
        (
            '<div class="entry-date"><span class="d">26</span><span class="m">Oct</span>'
            '<span class="y">2018</span></div>',
            "en",
        ),
    ],
)
def test_a_date_written_across_elements_of_a_date_container(top, lang):
    assert dates(page(top=top, lang=lang))[0].startswith("2018-10-26")


def test_a_split_date_in_a_related_list_is_not_the_story_date():
    related = (
        '<div class="related"><div class="date"><span class="day">3</span> Mar 2019</div>'
        '<a href="/old">An old story</a></div>'
    )
    assert dates(page(after=related))[0] is None


@pytest.mark.parametrize(
    ("text", "lang", "day"),
    [
        ("von Anna am 26/10/13, 15:48", "de", "2013-10-26"),
        ("by Ann on 10/26/13", "en-US", "2013-10-26"),
        ("par Anne le 06/10/21", "fr", "2021-10-06"),
    ],
)
def test_day_month_and_two_digit_year_with_slashes(text, lang, day):
    assert dates(page(top=f'<p class="author">{text}</p>', lang=lang))[0].startswith(day)


@pytest.mark.parametrize(
    "text", ["Open 24/7/365", "Score 3/4/5", "1/2/21/3", "12/05/1", "2/3/21.5"]
)
def test_slash_numbers_that_are_not_dates(text):
    assert text_date(text, "en") is None


def _ld(published: str, modified: str) -> str:
    return (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bridge row",'
        f' "datePublished": "{published}", "dateModified": "{modified}"}}</script>'
    )


def test_the_day_shown_by_the_headline_wins_when_the_page_data_names_it():
    # A re-dated story: readers see its modified day, and its data says it was modified then.
    head = _ld("2021-09-01T08:00:00Z", "2021-10-06T09:30:00Z")
    top = '<span class="date">6 October 2021</span>'
    published, updated = dates(page(head=head, top=top))
    assert published == "2021-10-06T09:30:00+00:00"
    assert updated == "2021-10-06T09:30:00+00:00"
    # JSON-LD and the meta tag disagree: the one readers see is the page's.
    head = (
        _ld("2021-10-04T07:00:00Z", "2021-10-20T07:00:00Z")
        + '<meta property="article:published_time" content="2021-10-06T08:00:00">'
    )
    assert dates(page(head=head, top=top))[0] == "2021-10-06T08:00:00+00:00"


def test_a_shown_day_the_page_data_does_not_name_does_not_beat_it():
    head = _ld("2021-10-05T07:00:00Z", "2021-10-07T09:00:00Z")
    top = '<span class="date">6 October 2021</span>'  # an event's date, a misread: not data
    assert dates(page(head=head, top=top))[0] == "2021-10-05T07:00:00+00:00"


def test_a_date_line_by_the_headline_beats_the_weak_metas():
    head = '<meta name="dc.date" content="2021-09-01">'  # often the CMS's page date
    published, _ = dates(page(head=head, top="<p>6 October 2021 | Politics</p>"))
    assert published.startswith("2021-10-06")
    assert dates(page(head=head))[0].startswith("2021-09-01")  # alone it is still read


def test_a_stand_line_by_the_headline_is_the_date_when_there_is_no_other():
    top = '<span class="info">Stand: 05. Februar 2020</span>'
    published, updated = dates(page(top=top, lang="de"))
    assert published.startswith("2020-02-05") and updated.startswith("2020-02-05")
    with_byline = '<p class="meta">Veröffentlicht am 3.2.2020</p>' + top
    assert dates(page(top=with_byline, lang="de"))[0].startswith("2020-02-03")


def test_a_stand_in_the_text_or_a_footer_is_not_the_date():
    source = "<p>Quelle: Bundesamt für Statistik (Stand: 28. November 2018)</p>"
    assert dates(page(after=source * 3, lang="de")) == (None, None)
    footer = '<div class="footer-note">Letzter Stand: 28. November 2018</div>'
    assert dates(page(top=footer, lang="de"))[0] is None


def test_a_page_without_h1_takes_its_first_date_line():
    published, _ = dates(headless("<p><em>01.11.2023 11:35</em></p>"))
    assert published == "2023-11-01T11:35:00+00:00"


def test_a_page_without_h1_skips_the_visits_today_date_and_copyright():
    today = '<div class="today">Mittwoch, 19. August 2020</div>'
    assert dates(headless(today)) == (None, None)
    assert dates(headless("<p>© 2021 Example News. Alle Rechte vorbehalten.</p>"))[0] is None
    long_line = (
        "<p>12.03.2019: an event long ago that the story mentions in a sentence much longer "
        "than any date line under a headline would ever be written.</p>"
    )
    assert dates(headless(long_line))[0] is None


def test_the_visits_today_date_by_the_headline_is_not_the_story_date():
    html = page(top="<p>A story.</p>").replace(
        "<main>", '<main><div class="header-today">Saturday, 9 October 2021</div>'
    )
    assert dates(html)[0] is None


def test_a_split_date_reads_only_a_short_container():
    big = "<span>x</span>" * 5000
    top = f'<div class="date"><span>26</span> Okt 2018 {big}</div>'
    start = time.process_time()
    assert dates(page(top=top, lang="de"))[0] is None  # not a date's container
    assert time.process_time() - start < 0.5
    deep = "<span>" * 3000 + "26" + "</span>" * 3000
    assert dates(page(top=f'<div class="date">{deep} Okt 2018</div>', lang="de"))[0] is None
