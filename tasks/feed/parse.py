"""Feed parsing: bytes in, a ParsedFeed (entries oldest first) out. Pure: no network, no Redis.

Owned here: the guard against XML entity bombs and external entities (checked before any XML
parser sees the bytes), the bytes-to-UTF-8 step (BOM, HTTP charset, XML declaration, then
detection), the mapping of feedparser's result (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) to FeedEntry,
and entry identity (``assign_keys``). JSON Feed is parsed by tasks.feed.jsonfeed.

feedparser only ever gets a BytesIO of our bytes and our response headers: given a str it
would fetch URLs or open files, which must never happen here.
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import feedparser

from config.feeds import FeedSource
from tasks import charset
from tasks.errors import FeedError
from tasks.feed.identity import assign_keys, oldest_first
from tasks.feed.jsonfeed import is_json, parse_json_feed
from tasks.feed.text import RawEntry, html_to_text, iso_date, sy_seconds
from tasks.feed.trim import trim_items
from tasks.formats import absolute_http as absolute
from tasks.formats import charset_param
from tasks.models import FeedEntry

# GUIDs / Atom ids are identifiers, not links: feedparser would resolve a relative one
# ("12345", "story-1") against the feed's URL, so every key would change when a feed moves
# (http -> https is the usual 301). Keep ids as the feed wrote them (FeedEntry.entry_id says
# so too); links are still resolved (tasks.feed.text.absolute).
_mixin = getattr(feedparser, "mixin", None)
if _mixin is not None and hasattr(_mixin._FeedParserMixin, "can_be_relative_uri"):
    _mixin._FeedParserMixin.can_be_relative_uri = _mixin._FeedParserMixin.can_be_relative_uri - {
        "id"
    }

log = logging.getLogger(__name__)

_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_XML_DECL_ENC = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)  # oldest first
    ttl: int | None = None  # seconds the feed says it stays fresh (<ttl>, sy:updatePeriod)
    bozo: str | None = None  # what was wrong with a feed we still used
    format: str = ""  # rss20, atom10, json11, ...


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    feed: FeedSource | None = None,
    max_entries: int | None = None,
) -> ParsedFeed:
    """Parse a feed's bytes (the URL only resolves relative links); FeedError when unusable,
    never another exception: whatever else hostile bytes make a step raise (a RecursionError,
    a TypeError on an odd value) is turned into a FeedError that names it.

    ``max_entries`` (NEWS_FEED_MAX_ENTRIES) bounds the work: of a document with more than
    twice that many items only the first and last ``max_entries`` are parsed at all
    (tasks.feed.trim), so the cost of a poll is bounded whatever the feed's length."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    keep = max_entries if max_entries and max_entries > 0 else None
    try:
        return _parse(body, url, lowered, feed, keep)
    except FeedError:
        raise
    except Exception as exc:  # noqa: BLE001 - these bytes are unusable, say why
        raise FeedError(
            f"the feed could not be parsed: {type(exc).__name__}: {exc}", url=url
        ) from exc


def _parse(
    body: bytes, url: str, headers: dict[str, str], feed: FeedSource | None, keep: int | None
) -> ParsedFeed:
    if not body or not body.strip():
        raise FeedError("empty body: no feed", url=url)
    if is_json(body, headers.get("content-type", "")):
        title, link, language, raw, fmt = parse_json_feed(body, url, keep)
        entries = build_entries(raw, url=url, feed=feed, feed_title=title, feed_language=language)
        return ParsedFeed(title, link, language, entries, None, None, fmt)
    refuse_entities(body, url)
    return _parse_xml(body, url, headers, feed, keep)


# --- the XML guard -----------------------------------------------------------------------


def refuse_entities(body: bytes, url: str) -> None:
    """FeedError when the DOCTYPE declares entities (billion laughs, quadratic blow-up, XXE).

    Two checks, both before any XML parser runs: the text before the first element tag (the
    "head" feedparser itself rewrites) must not contain ``<!ENTITY``, and the DOCTYPE's
    internal subset, walked declaration by declaration (comments and quoted strings
    skipped, so no ``]>`` inside a comment hides anything), must hold no entity declaration,
    no parameter-entity reference and nothing unparseable. Real feeds declare no entities;
    an external DTD reference alone (RSS 0.91) is fine, nothing fetches it. A DOCTYPE or
    ``<!ENTITY`` quoted inside an article (CDATA) is not in the prolog and does not count.
    """
    text = _ascii_view(body)
    first_tag = re.search(rb"<\w", text)
    head = text[: first_tag.start()] if first_tag else text
    found = head[head.find(b"<!ENTITY") :] if b"<!ENTITY" in head else _subset_problem(text)
    if found is None:
        return
    if not found.startswith(b"<!ENTITY"):
        raise FeedError(
            "refused: the feed's DOCTYPE is malformed or uses parameter entities", url=url
        )
    external = re.search(rb"\b(SYSTEM|PUBLIC)\b", found.split(b">", 1)[0]) is not None
    what = "an external entity (XXE)" if external else "XML entities (possible entity bomb)"
    raise FeedError(f"refused: the feed declares {what}", url=url)


_MISC = re.compile(rb"(\s+|<\?.*?\?>|<!--.*?-->)*", re.S)  # what may precede the DOCTYPE
_DECL = re.compile(rb"""<![A-Z]+(?:[^"'>]+|"[^"]*"|'[^']*')*>""")  # one markup declaration
_SUBSET_SKIP = re.compile(rb"(\s+|<\?.*?\?>|<!--.*?-->)+", re.S)


def _subset_problem(text: bytes) -> bytes | None:
    """The first entity declaration or oddity in the prolog's DOCTYPE subset, else None."""
    misc = _MISC.match(text)
    pos = misc.end() if misc else 0
    if not text.startswith(b"<!DOCTYPE", pos):
        return None
    head = re.compile(rb"""<!DOCTYPE(?:[^"'\[>]+|"[^"]*"|'[^']*')*""").match(text, pos)
    if head is None:
        return None
    pos = head.end()
    if text.startswith(b">", pos):
        return None
    if not text.startswith(b"[", pos):
        return text[pos : pos + 200] or b"unterminated DOCTYPE"
    return _walk_subset(text, pos + 1)


def _walk_subset(text: bytes, pos: int) -> bytes | None:
    while True:
        skip = _SUBSET_SKIP.match(text, pos)
        pos = skip.end() if skip else pos
        if text.startswith(b"]", pos):
            return None
        if text.startswith(b"<!ENTITY", pos):
            return text[pos : pos + 200]
        decl = _DECL.match(text, pos)  # ELEMENT, ATTLIST, NOTATION: harmless
        if not decl:
            return text[pos : pos + 200] or b"unterminated DOCTYPE"
        pos = decl.end()


def _ascii_view(body: bytes) -> bytes:
    """The body where ASCII markup can be searched, also for UTF-16/32 documents."""
    bom = charset.sniff_bom(body)
    if bom and bom.startswith("utf-16") or b"\x00" in body[:4]:
        for codec in ("utf-32", "utf-16"):
            try:
                return body.decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                continue
        return body.replace(b"\x00", b"")
    return body


# --- bytes to UTF-8 ----------------------------------------------------------------------


def to_utf8(body: bytes, content_type: str = "") -> tuple[bytes, str | None]:
    """UTF-8 bytes with the XML declaration saying so, and a warning when the declared
    encoding did not fit the bytes. Order: BOM, HTTP charset (RFC 7303), XML declaration,
    UTF-8, then detection; the last resort is Latin-1, which decodes anything."""
    bom = charset.sniff_bom(body)
    if bom:
        return _relabel(body.decode(bom, "replace").lstrip("\ufeff")), None
    match = _XML_DECL.match(body)
    labels = [charset_param(content_type), match and match.group(1).decode("ascii")]
    declared = [c for c in map(charset.normalize_label, labels) if c]
    for codec in [*declared, "utf-8"]:
        text = charset.strict_decode(body, codec)
        if text is not None:
            return _relabel(text), None
    guessed = charset.detect(body) or "latin-1"
    text = charset.strict_decode(body, guessed) or body.decode("latin-1")
    said = declared[0] if declared else "nothing (so UTF-8)"
    return _relabel(text), f"encoding: declared {said} but the bytes are {guessed}"


def _relabel(text: str) -> bytes:
    data = charset.without_surrogates(text).encode("utf-8")  # a UTF-7 feed can make them
    return _XML_DECL_ENC.sub(rb"\1utf-8\3", data, count=1)


# A character reference to a code point that is not a character (a surrogate, &#xD800;, or
# one beyond U+10FFFF) makes feedparser raise, and the whole feed would be refused.
_SURROGATE_REF = re.compile(rb"&#(?:[xX][0-9a-fA-F]+|[0-9]+);")


def without_surrogate_refs(data: bytes) -> bytes:
    """The XML with every reference to a surrogate or past U+10FFFF replaced by U+FFFD's."""
    if b"&#" not in data:
        return data
    return _SURROGATE_REF.sub(_replacement, data)


def _replacement(match: re.Match[bytes]) -> bytes:
    ref = match.group(0)[2:-1]
    value = int(ref[1:], 16) if ref[:1] in b"xX" else int(ref)
    return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else match.group(0)


# --- feedparser --------------------------------------------------------------------------


def _parse_xml(
    body: bytes, url: str, headers: dict[str, str], feed: FeedSource | None, keep: int | None
) -> ParsedFeed:
    data, warning = to_utf8(body, headers.get("content-type", ""))
    data = without_surrogate_refs(data)
    if keep is not None:
        data = _trimmed(data, keep, url)
    media = headers.get("content-type", "application/xml").split(";", 1)[0].strip()
    sent = {
        **headers,
        "content-type": f"{media or 'application/xml'}; charset=utf-8",
        "content-location": url,
    }
    try:
        result = feedparser.parse(io.BytesIO(data), response_headers=sent)
    except Exception as exc:  # noqa: BLE001 - a parser crash means these bytes are unusable
        raise FeedError(f"the feed parser failed: {type(exc).__name__}: {exc}", url=url) from exc
    bozo = _bozo_reason(result) if result.get("bozo") else None
    if not result.entries:
        _check_usable(body, result, bozo, headers, url)
    info = result.feed
    title = _plain(info.get("title"), info.get("title_detail"))
    language = info.get("language")
    raw = [_raw_entry(e, url) for e in result.entries]
    entries = build_entries(raw, url=url, feed=feed, feed_title=title, feed_language=language)
    reason = "; ".join(filter(None, [warning, bozo])) or None
    link = absolute(info.get("link"), url)
    return ParsedFeed(
        title, link, language, entries, _ttl(info), reason, result.get("version") or ""
    )


def _trimmed(data: bytes, keep: int, url: str) -> bytes:
    trimmed = trim_items(data, keep)
    if trimmed.kept < trimmed.items:
        log.info(
            "feed has %d items, only the first and last %d are parsed url=%s",
            trimmed.items,
            keep,
            url,
        )
    return trimmed.data


def _bozo_reason(result) -> str:
    exc = result.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else "malformed feed"


def _check_usable(body: bytes, result, bozo: str | None, headers: dict, url: str) -> None:
    """No entries: fine for a real (empty) feed; FeedError for HTML, garbage, broken XML."""
    if _HTML_START.match(body[:4096]) or (
        not result.get("version") and "html" in headers.get("content-type", "")
    ):
        raise FeedError("an HTML page, not a feed (try `newsworker feeds discover`)", url=url)
    if bozo:
        raise FeedError(f"not a usable feed: {bozo}", url=url)
    if not result.get("version"):
        raise FeedError("not a feed: no RSS, Atom or JSON Feed document found", url=url)


def _ttl(info) -> int | None:
    """Seconds from RSS <ttl> (minutes) or sy:updatePeriod/updateFrequency, the longer one."""
    hints = []
    ttl = str(info.get("ttl") or "").strip()
    if ttl.isdigit():
        hints.append(int(ttl) * 60)
    sy = sy_seconds(info.get("sy_updateperiod"), info.get("sy_updatefrequency"))
    if sy:
        hints.append(sy)
    return max(hints) if hints else None


def _plain(value: str | None, detail: Mapping | None = None) -> str | None:
    """Plain text of a feed text construct: HTML is reduced to its text, but an Atom
    ``type="text"`` value (feedparser: text/plain) is text already: "Using <script> tags"
    keeps its "<script>"."""
    if _is_plain(detail):
        return _fold_plain(value)
    text = html_to_text(value) if value and "<" in value else (value or "").strip()
    return text or None


def _is_plain(detail: Mapping | None) -> bool:
    return detail is not None and detail.get("type") == "text/plain"


def _fold_plain(value: str | None) -> str | None:
    return " ".join((value or "").split()) or None


def _raw_entry(e, url: str) -> RawEntry:
    contents = [_as_html(c) for c in e.get("content") or [] if c.get("value")]
    summary_html = e.get("summary") or None
    detail = e.get("title_detail") or {}
    plain_summary = _is_plain(e.get("summary_detail"))
    return RawEntry(
        entry_id=(e.get("id") or "").strip() or None,
        link=absolute(e.get("link"), url),
        title=_plain(e.get("title"), detail),
        published=iso_date(e.get("published"), e.get("published_parsed"))
        or iso_date(
            dict.get(e, "updated"), dict.get(e, "updated_parsed")
        ),  # dc:date, Atom 0.3 modified
        updated=_updated(e),
        summary=_summary(summary_html, plain_summary),
        content="\n".join(contents) or _as_html(e.get("summary_detail") or {}) or None,
        authors=_authors(e),
        tags=tuple(
            t.get("term") or t.get("label")
            for t in e.get("tags") or []
            if t.get("term") or t.get("label")
        ),
        language=detail.get("language") or None,
        image_url=absolute(_image(e), url),
    )


def _as_html(detail: Mapping) -> str:
    """The HTML of a text construct: a text/plain value is escaped, so its "<" stays text."""
    value = detail.get("value") or ""
    return html.escape(value, quote=False) if _is_plain(detail) else value


def _summary(value: str | None, plain: bool) -> str | None:
    if not value:
        return None
    return _fold_plain(value) if plain else html_to_text(value) or None


def _updated(e) -> str | None:
    """The entry's own update date (dict.get: feedparser's `updated` alias warns and lies)."""
    raw = dict.get(e, "updated")
    if not raw or raw == e.get("published"):
        return None
    return iso_date(raw, dict.get(e, "updated_parsed"))


def _authors(e) -> tuple[str, ...]:
    names = [a.get("name") for a in e.get("authors") or [] if a.get("name")]
    if not names and e.get("author"):
        names = [e.get("author")]
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _image(e) -> str | None:
    for media in (*(e.get("media_thumbnail") or []), *(e.get("media_content") or [])):
        if media.get("url") and media.get("medium", "image") == "image":
            return media["url"]
    for link in e.get("links") or []:
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/"):
            return link.get("href")
    return None


# --- identity and order ------------------------------------------------------------------


def build_entries(
    raw: list[RawEntry],
    *,
    url: str,
    feed: FeedSource | None,
    feed_title: str | None,
    feed_language: str | None,
) -> list[FeedEntry]:
    """FeedEntries with keys, duplicates within the document dropped, oldest first."""
    keyed = assign_keys(raw)
    out, seen = [], set()
    for key, r in keyed:
        if key in seen:
            continue
        seen.add(key)
        out.append(_entry(key, r, url, feed, feed_title, feed_language))
    return oldest_first(out)


def _entry(
    key: str,
    r: RawEntry,
    url: str,
    feed: FeedSource | None,
    feed_title: str | None,
    feed_language: str | None,
) -> FeedEntry:
    language = (feed.language if feed else None) or r.language or feed_language
    return FeedEntry(
        key=key,
        feed_id=feed.id if feed else "",
        feed_url=url,
        entry_id=r.entry_id,
        link=r.link,
        title=r.title,
        published=r.published,
        updated=r.updated,
        summary=r.summary,
        content=r.content,
        authors=r.authors,
        tags=r.tags,
        language=language,
        feed_title=feed_title,
        image_url=r.image_url,
    )
