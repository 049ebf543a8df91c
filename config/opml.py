"""OPML import and export of the feed list (pure: text in, text out).

Import: every outline with an ``xmlUrl`` is a feed; the titles of the outlines it is nested in,
and its ``category`` attribute ("/News/World,Tech"), become its tags. Export: feeds grouped
in one outline level by their first tag, all tags also in ``category``. The OPML is parsed
with defusedxml (no entities, no DTD fetching). ``new_feeds`` picks the outlines whose URLs
the feeds file does not have yet; ``toml_tables`` renders them as ``[[feeds]]`` tables to append.
"""

from __future__ import annotations

import json
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import ElementTree

from config.feeds import FeedsFileError, FeedSource, feed_from_table, feed_id_for


def parse_opml(text: str | bytes) -> list[FeedSource]:
    """The valid FeedSources of an OPML document (see read_opml)."""
    return read_opml(text)[0]


def read_opml(text: str | bytes, source: str = "OPML") -> tuple[list[FeedSource], list[str]]:
    """FeedSources of an OPML document, each validated as a feeds-file entry would be, and
    one line per outline skipped (a file:// or malformed xmlUrl...). FeedsFileError when the
    document as a whole is not usable OPML."""
    try:
        root = ElementTree.fromstring(text)
    except Exception as exc:  # noqa: BLE001 - ParseError and defusedxml's refusals alike
        raise FeedsFileError(f"not a usable OPML file: {exc}") from None
    body = root.find("body")
    if body is None:
        raise FeedsFileError("not an OPML file: no <body>")
    found: list[tuple[str, str, list[str]]] = []
    _walk(body, (), found)
    feeds, skipped = [], []
    for n, (name, url, tags) in enumerate(found, 1):
        table = {"name": name, "url": url, "tags": list(dict.fromkeys(tags))}
        try:
            feeds.append(feed_from_table(table, f"{source}: outline #{n}"))
        except FeedsFileError as exc:
            skipped.append(str(exc))
    return feeds, skipped


def _walk(node, path: tuple[str, ...], found: list[tuple[str, str, list[str]]]) -> None:
    """(name, xmlUrl, tags) of every feed outline, in document order."""
    for outline in node.findall("outline"):
        title = (outline.get("title") or outline.get("text") or "").strip()
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            _walk(outline, (*path, title) if title else path, found)
            continue
        found.append((title or url, url, [*path, *_categories(outline.get("category") or "")]))


def _categories(raw: str) -> list[str]:
    return [part.strip("/").split("/")[-1] for part in raw.split(",") if part.strip("/ ")]


def to_opml(feeds: list[FeedSource], title: str = "newsworker feeds") -> str:
    """An OPML 2.0 document of the feeds, grouped by their first tag."""
    root = Element("opml", version="2.0")
    SubElement(SubElement(root, "head"), "title").text = title
    body = SubElement(root, "body")
    groups: dict[str, Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            if feed.tags[0] not in groups:
                groups[feed.tags[0]] = SubElement(body, "outline", text=feed.tags[0])
            parent = groups[feed.tags[0]]
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        SubElement(parent, "outline", attrs)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="unicode") + "\n"


def new_feeds(existing: list[FeedSource], imported: list[FeedSource]) -> list[FeedSource]:
    """Imported feeds whose URL is not there yet, with ids unique against the existing ones."""
    urls = {f.url for f in existing}
    ids = {f.id for f in existing}
    out = []
    for feed in imported:
        if feed.url in urls:
            continue
        feed_id, n = feed.id, 2
        while feed_id in ids:
            feed_id, n = f"{feed.id}-{n}", n + 1
        ids.add(feed_id)
        urls.add(feed.url)
        out.append(FeedSource(feed_id, feed.name, feed.url, tags=feed.tags))
    return out


def toml_tables(feeds: list[FeedSource]) -> str:
    """``[[feeds]]`` tables for the feeds file (JSON strings are valid TOML basic strings)."""
    parts = []
    for feed in feeds:
        lines = ["[[feeds]]", f"name = {json.dumps(feed.name)}", f"url = {json.dumps(feed.url)}"]
        if feed.id != feed_id_for(feed.name):
            lines.append(f"id = {json.dumps(feed.id)}")
        if feed.tags:
            lines.append("tags = [" + ", ".join(json.dumps(t) for t in feed.tags) + "]")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
