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
