"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1), parsed by us (feedparser does not
read JSON). Pure: bytes in, RawEntries out; FeedError when the bytes are not a JSON Feed.
"""

from __future__ import annotations

import json
from typing import Any

from tasks.charset import json_without_surrogates
from tasks.errors import FeedError
from tasks.feed.text import RawEntry, html_to_text, iso_date
from tasks.feed.trim import ends_of
from tasks.formats import absolute_http as absolute

VERSIONS = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
}


def is_json(body: bytes, content_type: str) -> bool:
    """JSON by media type or by the first character (a JSON Feed is an object)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.endswith(("/json", "+json")) or body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_json_feed(
    body: bytes, url: str, keep: int | None = None
) -> tuple[str | None, str | None, str | None, list[RawEntry], str]:
    """(title, home page, language, entries in document order, format) of a JSON Feed; with
    ``keep``, only the first and last ``keep`` items become entries (tasks.feed.trim)."""
    try:
        text = body.decode("utf-8-sig", "replace")
        doc = json_without_surrogates(text, json.loads(text))
    except ValueError as exc:
        raise FeedError(f"not valid JSON: {exc}", url=url) from None
    except RecursionError:  # "[" * 100000: the decoder recurses once per level
        raise FeedError("not a usable JSON Feed: nested too deeply", url=url) from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedError("JSON, but not a JSON Feed (no jsonfeed.org version)", url=url)
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError("JSON Feed without an 'items' list", url=url)
    fmt = VERSIONS.get(str(doc["version"]).rstrip("/"), "json")
    language = _str(doc.get("language"))
    if keep is not None:
        items = ends_of(items, keep)
    entries = [_entry(item, url, doc) for item in items if isinstance(item, dict)]
    return (
        _str(doc.get("title")),
        absolute(_str(doc.get("home_page_url")), url),
        language,
        entries,
        fmt,
    )


def _str(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # JSON Feed 1.0 ids were sometimes numbers
    return value.strip() or None if isinstance(value, str) else None


def _entry(item: dict, url: str, doc: dict) -> RawEntry:
    html = _str(item.get("content_html"))
    text = _str(item.get("content_text"))
    summary = _str(item.get("summary"))
    return RawEntry(
        entry_id=_str(item.get("id")),
        link=absolute(_str(item.get("url")) or _str(item.get("external_url")), url),
        title=_str(item.get("title")),
        published=iso_date(_str(item.get("date_published"))),
        updated=iso_date(_str(item.get("date_modified"))),
        summary=summary or (html_to_text(html)[:1000] if html else text and text[:1000]) or None,
        content=html or text,
        authors=_authors(
            item.get("authors") or item.get("author") or doc.get("authors") or doc.get("author")
        ),
        tags=_tags(item.get("tags")),
        language=_str(item.get("language")),
        image_url=absolute(_str(item.get("image")) or _str(item.get("banner_image")), url),
    )


def _authors(value: Any) -> tuple[str, ...]:
    """1.1 has a list of authors, 1.0 one author object."""
    people = value if isinstance(value, list) else [value]
    names = (_str(p.get("name")) for p in people if isinstance(p, dict))
    return tuple(name for name in names if name)  # a number as a name is kept as its text


def _tags(value: Any) -> tuple[str, ...]:
    """The item's string tags; anything but a list of strings gives none."""
    tags = value if isinstance(value, list) else []
    return tuple(t.strip() for t in tags if isinstance(t, str) and t.strip())
