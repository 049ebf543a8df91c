"""Peer extractors for the extraction benchmark: thin wrappers around trafilatura and readability.

Imported lazily (they live in the optional `bench` extra); each wrapper takes (html, url) and
returns the body text, the form the scorer and `newsworker bench extract` expect.
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
