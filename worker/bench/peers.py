"""Peer extractors for the extraction benchmark: thin wrappers around trafilatura, readability
and htmldate.

Imported lazily (they live in the optional `bench` extra); each body wrapper takes (html, url)
and returns the body text, the form the scorer and `newsworker bench extract` expect; the
date wrapper takes (html bytes, url) and returns a YYYY-MM-DD day or None.
"""

from __future__ import annotations

import re

_TAGS = re.compile(r"<[^>]+>")


def trafilatura_body(html: str, url: str) -> str:
    """The body as trafilatura 2.x extracts it with its default settings."""
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def readability_body(html: str, url: str) -> str:
    """The body as readability-lxml extracts it, one block per paragraph."""
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    if not summary.strip():
        return ""
    tree = lxml.html.fromstring(summary)
    blocks = tree.xpath("//p|//h1|//h2|//h3|//h4|//li|//pre|//blockquote")
    texts = [" ".join(b.text_content().split()) for b in blocks]
    return "\n\n".join(t for t in texts if t) or " ".join(tree.text_content().split())


def htmldate_date(html: bytes, url: str) -> str | None:
    """The publication day as htmldate finds it (extensive search, original date): the date
    extractor trafilatura itself uses, run as ../shared/tools/score_dates.py runs it."""
    from htmldate import find_date

    return find_date(
        html.decode("utf-8", "replace"), original_date=True, extensive_search=True, url=url
    )
