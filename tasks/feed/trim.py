"""Capping a feed's items before it is parsed: a streaming scan of the XML bytes for item
boundaries, and the document cut down to the first and last ``keep`` items.

Why: feedparser builds every item of a document in Python (a 10 MiB feed of 113,000 items
took minutes and ~280 MB), so NEWS_FEED_MAX_ENTRIES must bound the parse, not only what is
taken after it. Feeds list items newest first or oldest first: the dates of the first and
last items decide which end is kept; without two readable, different dates both ends are
kept, and the poll takes the newest ``keep`` of them (tasks.poll.stage.newest). Pure, linear in
the bytes: one regex pass (re.finditer) over item tags, CDATA sections and comments; an
unterminated CDATA section or comment ends the scan (no item can follow it).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tasks.feed.text import timestamp
from tasks.formats import parse_date

# One pass of finditer over the tokens that matter: a CDATA section, a comment, or a whole
# item / entry tag (any namespace prefix: <rss:item>, <atom:entry>; <items> is another
# element). The attribute part is an unrolled loop, linear even when no '>' follows.
_TOKEN = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->"
    rb"|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])"
    rb"""[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""",
    re.S,
)


@dataclass(frozen=True)
class Trimmed:
    data: bytes
    items: int  # item / entry elements found in the document
    kept: int  # items left in data


def scan_limit(data: bytes) -> int:
    """Where the scan stops: at a CDATA section or comment that is never closed (nothing
    after it is markup). Without this, each such opener would make the lazy match run to the
    end of the document: quadratic on hostile input."""
    limit = len(data)
    for opener, closer in ((b"<![CDATA[", b"]]>"), (b"<!--", b"-->")):
        last_close = data.rfind(closer)
        unclosed = data.find(opener, last_close + len(closer) if last_close >= 0 else 0)
        if unclosed >= 0:
            limit = min(limit, unclosed)
    return limit


def item_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of every top-level item / entry element, in order. A miss
    (an item hidden from the scan) only means less is cut, never a cut inside an element."""
    spans: list[tuple[int, int]] = []
    depth = start = 0
    for match in _TOKEN.finditer(data, 0, scan_limit(data)):
        slash = match.group(1)
        if slash is None:  # CDATA or comment
            continue
        if slash:
            depth -= 1
            if depth == 0:
                spans.append((start, match.end()))
            elif depth < 0:
                depth = 0
        elif match.group(0).endswith(b"/>"):
            if depth == 0:
                spans.append((match.start(), match.end()))
        else:
            if depth == 0:
                start = match.start()
            depth += 1
    return spans


# The fast scan: item / entry start tags only (a list comprehension over finditer, about
# 2.6x faster than following every start and end tag), CDATA sections and comments skipped.
_START = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])", re.S
)
_CLOSED_BEFORE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>\s*\Z")
_BANG = ord("!")


def item_starts(data: bytes) -> list[int]:
    """Offsets of every item / entry start tag outside CDATA and comments (nested ones too)."""
    found = _START.finditer(data, 0, scan_limit(data))
    return [m.start() for m in found if data[m.start() + 1] != _BANG]


def _closed_before(data: bytes, pos: int) -> bool:
    """Whether an item / entry end tag (then only whitespace) comes right before pos."""
    return _CLOSED_BEFORE.search(data, max(0, pos - 256), pos) is not None


def trim_items(data: bytes, keep: int) -> Trimmed:
    """The document cut when it has more than 2 * keep items: to the ``keep`` at its newer
    end when the first and last items' dates tell which that is, else to both ends.

    Only whole elements are removed, so well-formed stays so: the fast scan's cut points are
    checked (an end tag right before each) and when a check fails (nested or odd markup) the
    exact scan of start and end tags decides."""
    starts = item_starts(data)
    n = len(starts)
    if n <= 2 * keep:
        return Trimmed(data, n, n)
    last_end = _end_of_item(data, starts[-1])
    a, b = _cut_points(data, starts, keep, last_end)
    head_ok = a == starts[0] or _closed_before(data, a)
    if last_end is not None and head_ok and _closed_before(data, b):
        return _without(data, a, b, starts)
    spans = item_spans(data)
    if len(spans) <= 2 * keep:
        return Trimmed(data, len(spans), len(spans))
    top = [start for start, _ in spans]
    a, b = _cut_points(data, top, keep, spans[-1][1])
    return _without(data, a, b, top)


def _cut_points(data: bytes, starts: list[int], keep: int, last_end: int | None) -> tuple[int, int]:
    """The one byte range [a, b) to remove: the older items, or the middle when undated."""
    n = len(starts)
    first, last = _item_time(data, starts[0]), _item_time(data, starts[-1])
    if first is not None and last is not None and first != last and last_end is not None:
        if first > last:  # newest first: keep the head
            return starts[keep], last_end
        return starts[0], starts[n - keep]  # oldest first: keep the tail
    return starts[keep], starts[n - keep]


def _without(data: bytes, a: int, b: int, starts: list[int]) -> Trimmed:
    removed = bisect.bisect_left(starts, b) - bisect.bisect_left(starts, a)
    return Trimmed(data[:a] + data[b:], len(starts), len(starts) - removed)


_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_DATE = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(?:pubDate|published|updated|date|modified|issued)\b[^>]*>"
    rb"\s*([^<]{1,64}?)\s*</"
)
DATE_WINDOW = 65_536  # bytes of an item searched for its date


def _end_of_item(data: bytes, start: int) -> int | None:
    match = _END.search(data, start)
    return match.end() if match else None


def _item_time(data: bytes, start: int) -> float | None:
    """Unix time of the first date element in the item starting at ``start``, or None."""
    match = _DATE.search(data, start, start + DATE_WINDOW)
    end = _END.search(data, start, start + DATE_WINDOW)
    if match is None or (end is not None and match.start() > end.start()):
        return None
    return timestamp(parse_date(match.group(1).decode("utf-8", "replace")))


def ends_of(items: list, keep: int) -> list:
    """The first and last ``keep`` of a list (JSON Feed items), the same rule as trim_items."""
    return items if len(items) <= 2 * keep else items[:keep] + items[-keep:]
