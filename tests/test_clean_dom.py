"""The light tree and the walk's records for tasks.clean.dates (one parse, no searches)."""

from __future__ import annotations

from tasks.clean.dom import El, parse, walk

PAGE = (
    "<html><head><title>T</title></head><body>"
    '<div class="byline"><span>Published</span> <span class="when">06.10.2021, 14:30</span></div>'
    "<h1>Headline</h1>"
    '<article><time datetime="2021-10-06T14:30:00Z">6 Oct</time>'
    '<span itemprop="datePublished">2021-10-06</span><abbr title="2021-10-06">Oct 6</abbr>'
    "<p>The council met on Tuesday, and it voted to approve the new budget.</p></article>"
    '<footer><p>Copyright 2024</p><time datetime="2024-01-01">2024</time></footer>'
    "</body></html>"
)


def test_times_and_their_elements_in_step():
    index = walk(parse(PAGE))
    assert sorted(w for w, _ in index.times) == ["2021-10-06T14:30:00Z", "2024-01-01"]
    assert len(index.time_tags) == len(index.times)
    by_when = {w: tag for (w, _), tag in zip(index.times, index.time_tags, strict=True)}
    live, footer = by_when["2021-10-06T14:30:00Z"], by_when["2024-01-01"]
    assert live.name == "time" and any(a.name == "article" for a in live.parents)
    assert footer.name == "time" and [a.name for a in footer.parents][:1] == ["footer"]


def test_date_strings_props_and_headline():
    index = walk(parse(PAGE))
    texts = [t for t, _, _ in index.date_texts]
    assert "06.10.2021, 14:30" in texts
    props = [(p, t.name) for p, t in index.date_props]
    assert ("datepublished", "span") in props and ("", "abbr") in props
    assert index.h1_tag is not None and index.h1_tag.get_text() == "Headline"
    when = next(t for t, tag, _ in index.date_texts if t.startswith("06.10"))
    tag = next(tag for t, tag, _ in index.date_texts if t == when)
    before = tag.previous_sibling
    assert isinstance(before, str) and before == " "
    assert isinstance(before, str) and isinstance(tag.parent.contents[0], El)


# The parse's two savings: stretches cut before it, and the lighter tree builder.

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402

from tasks.clean import dom  # noqa: E402

PAGES = Path(__file__).parent / "pages"


def test_strip_unused_cuts_scripts_styles_drawings_and_comments_keeps_json_ld():
    html = (
        "<p>a</p><script>var x = '<p>not text</p>';</script><STYLE>p{}</STYLE>"
        '<svg viewBox="0 0 1 1"><path d="M0"/><title>icon</title></svg><!-- a <p>note</p> -->'
        '<script type="application/ld+json">{"headline": "<svg> in JSON"}</script><p>b</p>'
    )
    out = dom.strip_unused(html)
    assert out == (
        '<p>a</p><script type="application/ld+json">{"headline": "<svg> in JSON"}</script><p>b</p>'
    )


@pytest.mark.parametrize(
    "html",
    [
        "<p>a</p><script>never closed <p>b</p>",
        "<p>a</p><!-- never closed <p>b</p>",
        "<p>a</p><svg><path/> <p>b</p>",
        "<p>a</p><script>x</script",
    ],
)
def test_strip_unused_keeps_an_unclosed_stretch_and_what_follows(html):
    assert dom.strip_unused(html) == html


def test_strip_unused_is_one_pass_over_many_unclosed_openings():
    html = "<p>story</p>" + "<script>" * 100_000
    assert dom.strip_unused(html) == html  # stops at the first: the rest is script text


def _light(index: dom.PageIndex) -> list:
    """The light tree as a list (adjacent texts joined, whitespace collapsed), with metadata."""
    out: list = []
    stack: list = [(index.soup, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if out and out[-1][0] == "text" and out[-1][1] == depth:
                node = out.pop()[2] + node
            out.append(("text", depth, node))
            continue
        out.append(("el", depth, node.name, sorted(node.attrs.items())))
        stack.extend((child, depth + 1) for child in reversed(node.contents))
    tree = [(k, d, " ".join(v[0].split())) if k == "text" else (k, d, *v) for k, d, *v in out]
    return [tree, index.metas, index.links, index.jsonld, index.title, index.times]


@pytest.mark.parametrize("name", sorted(p.name for p in PAGES.glob("*.html")))
def test_the_lighter_builder_gives_the_light_tree_of_beautifulsoups_own(name):
    html = dom.strip_unused((PAGES / name).read_bytes().decode("utf-8", "replace"))
    ours, stock = (dom.PageIndex(dom.El("[document]", {}, None)) for _ in range(2))
    dom._build(dom.soup_of(html), ours, set())
    dom._build(BeautifulSoup(html, "lxml", multi_valued_attributes=None), stock, set())
    assert _light(ours) == _light(stock)
    assert len(_light(ours)[0]) > 20


def test_the_lighter_builder_keeps_metadata_inside_navigation_and_footers():
    html = (
        "<body><nav><ul><li><a href='/'>Home</a></li></ul>"
        '<script type="application/ld+json">{"a": 1}</script></nav><p>Story text.</p>'
        '<footer><div class="x"><time datetime="2020-01-02">2 Jan</time>'
        '<meta itemprop="datePublished" content="2020-01-02"></div></footer>'
        "<svg><title>icon</title></svg></body>"
    )
    soup = dom.soup_of(html)
    nav, footer, svg = soup.find("nav"), soup.find("footer"), soup.find("svg")
    assert [t.name for t in nav.find_all(True)] == ["script"]
    assert nav.script.string == '{"a": 1}'
    assert [t.name for t in footer.find_all(True)] == ["time", "meta"]
    assert svg.contents == []
    index = walk(parse(html))
    assert index.jsonld == ['{"a": 1}'] and ("datepublished", "2020-01-02") in index.metas
    assert [w for w, _ in index.times] == ["2020-01-02"]


def _cyclic_garbage_after(work) -> int:
    """Objects the cyclic collector has to find after ``work`` (reference counting frees the
    rest at once)."""
    import gc

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        return len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_cleaned_page_leaves_its_trees_to_reference_counting():
    """Both trees are torn down after use: left to the cyclic collector, ~2,000 objects a
    page made each collection of a worker's heap walk them (20 % of the workers' CPU)."""
    from pathlib import Path

    from tasks.clean import clean_html

    pages = sorted(Path(__file__).parent.joinpath("pages").glob("*.html"))[:6]
    htmls = [p.read_text(encoding="utf-8") for p in pages]

    def clean_all() -> None:
        for i, html in enumerate(htmls):
            clean_html(html, f"https://news.example/{i}.html", fetched_at="2026-12-01T00:00:00Z")

    def parse_only() -> None:
        for html in htmls:
            walk(parse(html))  # the light tree kept whole, not released: its cycles remain

    left = _cyclic_garbage_after(clean_all)
    assert left <= 25 * len(htmls)  # lxml's parser and its target: ~20 objects a page
    assert _cyclic_garbage_after(parse_only) > 3 * left  # the probe sees the tree's cycles
