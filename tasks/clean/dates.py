"""Publication and modification dates of an article page, as ISO 8601 with a UTC offset.

Owned here: the order of date sources and reading the dates that readers see. Structured
data first (JSON-LD, article:published_time and the other common meta tags, itemprop date
elements, ``<time datetime>``, hAtom ``<abbr class="published">``), then the byline or
dateline a reader sees ("Published 6 Oct 2021, 14:30", "06.10.2021", "6 octobre 2021",
"hace 3 días" against the fetch time), then a date in the URL path, then the feed entry.
Dates inside comments, related-story teasers, sidebars, footers, "last updated" or
copyright lines are never the publication date. When the day the page shows by its headline
differs from its structured date but its own data names that day too (dateModified, another
published meta), the shown day wins: the page stands by it. Everything read here was
collected by the one walk of tasks.clean.dom; the tree is only climbed from a candidate to
its ancestors (and a split date's short container read).

A date without an offset is read as UTC, the only assumption that needs no guessing. Pure
functions; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasks.clean.dom import PageIndex, Tag
from tasks.clean.jsonld import text_value
from tasks.clean.meta import Meta
from tasks.formats import MAX_YEAR, MIN_YEAR, parse_date
from tasks.models import FeedEntry

# Meta keys, strongest first. The first group outranks <time> elements; "date" and the
# Dublin Core dates are often the page's (or the CMS's) date, so they come after.
PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "article:published",
    "datepublished",
    "published_time",
    "article.published",
    "og:pubdate",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "pub_date",
    "sailthru.date",
    "parsely-pub-date",
    "og:article:published_time",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "date",
)
STRONG_META = 8  # the first keys of PUBLISHED_META, read before <time>
MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "modified_time",
    "last-modified",
    "lastmod",
    "dcterms.modified",
    "dc.date.modified",
    "article.updated",
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/\-_]?(0[1-9]|1[0-2])[/\-_]?(0[1-9]|[12]\d|3[01])(?:/|$|[-_.])"
    r"|/((?:19|20)\d{2})/([1-9])/(0?[1-9]|[12]\d|3[01])/"
    r"|/((?:19|20)\d{2})/(0?[1-9]|1[0-2])/([1-9])/"
)
_URL_DMY = re.compile(r"[/~_-](0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-((?:19|20)\d{2})(?=[-_/.]|$)")

# Month names (and their usual abbreviations) of en, de, fr, es, it, pt, nl.
_MONTH_NAMES = {
    1: "january jan januar jän jänner janvier janv enero ene gennaio gen janeiro januari",
    2: "february feb februar feber février févr fevrier fevr febrero febbraio fevereiro fev "
    "februari",
    3: "march mar märz maerz mrz mars marzo março marco maart mrt",
    4: "april apr avril avr abril abr aprile",
    5: "may mai mayo maggio mag maio mei",
    6: "june jun juni juin junio giugno giu junho",
    7: "july jul juli juillet juil julio luglio lug julho",
    8: "august aug août aout agosto ago augustus",
    9: "september sep sept septembre septiembre setiembre settembre set setembro",
    10: "october oct oktober okt octobre octubre ottobre ott outubro out",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember dez décembre déc decembre diciembre dic dicembre dezembro",
}
MONTHS = {name: num for num, names in _MONTH_NAMES.items() for name in names.split()}
_WORD = r"([a-zäéûçô]{3,10})\.?"
_YEAR = r"((?:19|20)\d\d)(?!\d)"
_TIME = re.compile(r"^[\s,.|/-]*(?:um|à|at|a las|alle|om|às|kl\.?)?\s*(\d{1,2})[:h.](\d\d)(?!\d)")
# Each: (regex, order of the groups as day/month/year, whether the month is a name).
_PATTERNS = (
    (re.compile(r"(?<![\d.])((?:19|20)\d\d)[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), "ymd", False),
    (re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?" + _YEAR), "dmy", False),
    (re.compile(r"(?<![\d./-])(\d{1,2})([/-])(\d{1,2})\2" + _YEAR), "slash", False),
    (
        re.compile(
            r"(?<!\d)(\d{1,2})(?:\.|st|nd|rd|th|er|º|°)?(?:\s+de)?[\s-]*" + _WORD + r",?"
            r"(?:\s+de)?[\s-]*" + _YEAR
        ),
        "dmy",
        True,
    ),
    (re.compile(r"\b" + _WORD + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR), "mdy", True),
    (re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d\d)(?![\d.])"), "dmy", False),
    (re.compile(r"(?<![\d./-])(\d{1,2})(/)(\d{1,2})/(\d\d)(?![\d./])"), "slash", False),
)
_UNITS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "stunde": 3600,
    "tag": 86400,
    "woche": 7 * 86400,
    "minuto": 60,
    "hora": 3600,
    "día": 86400,
    "dia": 86400,
    "semana": 7 * 86400,
    "heure": 3600,
    "jour": 86400,
    "semaine": 7 * 86400,
    "ora": 3600,
    "ore": 3600,
    "giorn": 86400,
    "settiman": 7 * 86400,
    "uur": 3600,
    "dag": 86400,
    "wek": 7 * 86400,
}
_NUM = r"(\d{1,2}|an?|one|ein(?:em|er)?|un[ae]?|uno|um[a]?|een)"
_UNIT = (
    r"(minute|hour|day|week|stunde|tag|woche|minuto|hora|día|dia|semana|heure|jour|semaine|"
    r"ora|ore|giorn|settiman|uur|dag|wek)"
)
_RELATIVE = (
    re.compile(_NUM + r"\s+" + _UNIT + r"[a-z]*\s+(?:ago|fa|geleden)\b"),
    re.compile(r"\b(?:vor|hace|il y a|há)\s+" + _NUM + r"\s+" + _UNIT),
)
_YESTERDAY = re.compile(r"\b(yesterday|gestern|hier|ayer|ieri|ontem|gisteren)\b")

# Words before a date that say it is not the publication date.
_NOT_PUBLISHED = re.compile(
    r"updat|aktualisiert|geändert|bearbeitet|modifi|mis à jour|mise à jour|actualiz|aggiorn|"
    r"bijgewerkt|atualizad|stand\b|zuletzt|last|letzte|©|copyright|\(c\)|print|druck|"
    r"abgerufen|accessed|retrieved|consultado|consulté|geboren|born|\bbis\b|\buntil\b"
)
# Words before a date that say it is the publication date.
_PUBLISHED = re.compile(
    r"publi|veröffentlicht|erschienen|posted|gepost|gepubliceerd|geplaatst|pubblicato|"
    r"publicado|datum|fecha|date\b|written|geschrieben|verfasst"
)
_UPDATED = re.compile(
    r"updat|aktualisiert|geändert|modifi|mis à jour|mise à jour|actualiz|aggiorn|bijgewerkt|"
    r"atualizad"
)
# German "Stand: 5. Februar 2020" ("as of"): the date of the version shown. Unlike
# "Aktualisiert" (updated) it implies no earlier publication, so by the headline it is the
# page's date when nothing else gives one.
_AS_OF = re.compile(r"\bstand\b")
_LAST = re.compile(r"last|zuletzt|letzte")  # "zuletzt Stand", "letzter Stand": a footer's
# Class/id names of the containers readers see a story's date in.
_DATE_HINT = re.compile(
    r"date|time|publi|posted|byline|meta|submitted|dateline|subline|datum|fecha|data|release|"
    r"stamp|info|author|header|kicker|zeit"
)
# Class/id names (whole words) of containers whose dates belong to other things than the
# story: always (comments, teasers, a header's "today" date of the visit), or unless named as
# a date or byline below (a footer or widget holds a story's byline as often as a sidebar's
# list).
_NOT_STORY = re.compile(
    r"(?:^|[\s_-])(comments?|commentlist|related|teasers?|recommend\w*|popular|trending|"
    r"sidebar|latest|similar|weitere|reply|replies|respond|reviews?|archives?|calendar|"
    r"kommentare?|commentaires?|comentarios?|newsticker|ticker|aside|promo|teaser\w*|"
    r"sidebar\w*|secondary|today|current[-_]?(?:date|time))(?:$|[\s_-])"
)
_WEAK_NOT_STORY = re.compile(
    r"(?:^|[\s_-])(footer|widgets?|more|others?|also|next|prev|previous|banner)(?:$|[\s_-])"
)
# Tags whose dates are other things' (a page footer, a sidebar, a list of links), unless
# the element or one below it is named as a date or byline.
_NOT_STORY_TAGS = frozenset({"footer", "nav", "aside", "figure", "figcaption", "li", "dt"})
_NEAR_H1_BEFORE, _NEAR_H1_AFTER = 40, 80  # elements around the first <h1>: the story's head
_BYLINE_BEFORE, _BYLINE_AFTER = 150, 700  # a named date further away is an event's, a teaser's
_CONTEXT_DEPTH = 14
# An unnamed element near the <h1> is a byline when its date comes first and it is short.
_NEAR_LEAD, _NEAR_MAX = 16, 90
_SPLIT_MAX = 40  # characters of a date container read whole when its parts are elements


def date_in_url(url: str) -> str | None:
    """A /2019/09/06/, /2019-09-06-, /20190906 or ~06-09-2019- date in the URL path."""
    path = url.split("?", 1)[0]
    match = _URL_DATE.search(path)
    if match:
        return _iso(*(int(g) for g in match.groups() if g))
    match = _URL_DMY.search(path)
    if match:
        day, month, year = map(int, match.groups())
        return _iso(year, month, day)
    return None


def _iso(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> str | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC).isoformat(timespec="seconds")
    except ValueError:
        return None


def _month_first(lang: str | None) -> bool:
    """Whether an ambiguous 03/04/2021 is month first: American English pages only."""
    lang = (lang or "").lower().replace("_", "-")
    return lang in ("en", "en-us")


def text_date(text: str, lang: str | None = None) -> str | None:
    """The first absolute date in a short text as readers write it, or None."""
    found = _first_date(" ".join(text.lower().split()), lang)
    return found[1] if found else None


def _first_date(low: str, lang: str | None) -> tuple[int, str] | None:
    """(position, ISO date) of the first absolute date in a normalized text."""
    best: tuple[int, str] | None = None
    for regex, order, named in _PATTERNS:
        for match in regex.finditer(low):
            found = _from_match(match, order, named, lang, low[match.end() :])
            if found and (best is None or match.start() < best[0]):
                best = (match.start(), found)
            if found:
                break
    return best


def _from_match(match: re.Match, order: str, named: bool, lang, rest: str) -> str | None:
    groups = match.groups()
    if order == "slash":
        first, _, second, year_text = groups
        a, b = int(first), int(second)
        if a > 12 or (b <= 12 and not _month_first(lang)):
            day_text, month_text = first, second
        else:
            day_text, month_text = second, first
    elif order == "ymd":
        year_text, month_text, day_text = groups
    elif order == "dmy":
        day_text, month_text, year_text = groups
    else:
        month_text, day_text, year_text = groups
    month = MONTHS.get(month_text.rstrip(".")) if named else int(month_text)
    if not month:
        return None
    year = int(year_text)
    year += 2000 if year < 100 else 0  # 31.10.23
    time = _TIME.match(rest)
    hour, minute = (int(time.group(1)), int(time.group(2))) if time else (0, 0)
    if hour > 23 or minute > 59:
        hour = minute = 0
    return _iso(year, month, int(day_text), hour, minute)


def relative_date(text: str, now: str | None) -> str | None:
    """ "3 days ago", "vor 2 Stunden", "hace 3 días", "il y a 1 jour", "yesterday"... as
    the date they name counted back from now (the fetch time), or None."""
    if not now:
        return None
    try:
        anchor = datetime.fromisoformat(now)
    except ValueError:
        return None
    low = " ".join(text.lower().split())
    for regex in _RELATIVE:
        match = regex.search(low)
        if match:
            raw, unit = match.groups()
            count = int(raw) if raw.isdigit() else 1
            when = anchor - timedelta(seconds=count * _UNITS[unit])
            return when.astimezone(UTC).isoformat(timespec="seconds")
    if _YESTERDAY.search(low):
        return (anchor - timedelta(days=1)).astimezone(UTC).isoformat(timespec="seconds")
    return None


def _names(tag: Tag) -> str:
    attrs = tag.attrs
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''} {attrs.get('itemprop') or ''}"


def story_of(index: PageIndex) -> frozenset[int]:
    """The elements holding the page's first <h1>: whatever their names, they hold the story."""
    tag = index.h1_tag
    return frozenset(id(a) for a in tag.parents) if tag is not None else frozenset()


def context_of(tag: Tag, story: frozenset[int] = frozenset()) -> tuple[bool, bool]:
    """(inside a container of something else than the story, inside a date-like container
    within a few levels): a climb from tag to its ancestors, never a search. story: the
    ids of the headline's ancestors (story_of)."""
    hinted = suspect = False
    depth = 0
    node: Tag | None = tag
    while node is not None and depth < _CONTEXT_DEPTH:
        if node.name in ("body", "html", "[document]"):
            break
        if id(node) in story:
            break  # reached the headline's container
        if node.name == "a" and not hinted:
            return True, hinted  # a link's date is the linked page's
        names = _names(node).lower()
        named = len(names) > 2
        if named and _NOT_STORY.search(names):
            return True, hinted
        if named and depth < 4 and _DATE_HINT.search(names):
            hinted = True
        if named and not hinted and _WEAK_NOT_STORY.search(names):
            return True, hinted
        suspect = suspect or node.name in _NOT_STORY_TAGS
        node, depth = node.parent, depth + 1
    return suspect and not hinted, hinted


def _candidates(index: PageIndex) -> list[tuple[str, Tag, int]]:
    """The walk's date strings in document order (the walk records a parent's strings last
    to first)."""
    ranked = sorted(enumerate(index.date_texts), key=lambda e: (e[1][2], -e[0]))
    return [item for _, item in ranked]


def _before(low: str, pos: int, tag: Tag) -> str:
    """The words a date follows: its string up to the date, after its element's preceding
    sibling ("Aktualisiert:", "Published", "©")."""
    prev = tag.previous_sibling
    label = prev.get_text(" ") if isinstance(prev, Tag) else str(prev or "")
    return f"{label[-40:].lower()} {low[:pos]}"[-60:]


@dataclass(slots=True)
class Seen:
    """The dates a reader sees, by how sure they are to be the story's publication date."""

    byline: str | None = None  # in a date-like container or after a "published" label
    near: str | None = None  # a short line that starts with a date, next to the headline
    far: str | None = None  # in a date-like container far from the headline
    relative: str | None = None  # "vor 3 Stunden", counted back from the fetch time
    updated: str | None = None  # after an "updated" label
    as_of: str | None = None  # a "Stand: 5. Februar 2020" line by the headline
    lead: str | None = None  # on a page without <h1>: its first short line led by a date


def seen_dates(index: PageIndex, now: str | None) -> Seen:
    """The dates a reader sees, skipping other things' dates (comments, teasers, links,
    sidebars) and the words that mark a date as not the publication's."""
    seen = Seen()
    lang, story, h1_at = index.lang, story_of(index), index.h1_at
    for text, tag, order in _candidates(index):
        other, hinted = context_of(tag, story)
        if other:
            continue
        low = " ".join(text.lower().split())
        first = _first_date(low, lang)
        if first is None and hinted:
            low, first = _split_date(tag, low, lang)
        if first is None:
            if seen.relative is None and hinted:
                seen.relative = relative_date(low, now)
            continue
        found, label = first[1], _before(low, first[0], tag)
        offset = order - h1_at
        head = h1_at >= 0 and -_NEAR_H1_BEFORE <= offset <= _NEAR_H1_AFTER
        if _UPDATED.search(label):
            seen.updated = seen.updated or found
        elif _AS_OF.search(label):
            if not head or first[0] > _NEAR_LEAD or len(low) > _NEAR_MAX or _LAST.search(label):
                continue  # "Quelle: ... (Stand: 28. November 2018)": a figure's date
            seen.updated = seen.updated or found
            seen.as_of = seen.as_of or found
        elif not _NOT_PUBLISHED.search(label):
            _rank(seen, found, hinted or _PUBLISHED.search(label) is not None, offset, h1_at)
            _rank_near(seen, found, first[0], low, offset, h1_at)
            if h1_at < 0 and seen.lead is None:
                seen.lead = found if first[0] <= _NEAR_LEAD and len(low) <= _NEAR_MAX else None
        if seen.byline and seen.updated:
            break
    return seen


def _split_date(tag: Tag, low: str, lang: str | None) -> tuple[str, tuple[int, str] | None]:
    """A date written across elements of a date container (<span class="day">26</span>
    Okt 2018): the short text of the string's element, else of its parent."""
    for node in (tag, tag.parent):
        whole = _short_text(node, _SPLIT_MAX) if node is not None else None
        if whole is None:
            break
        first = _first_date(whole, lang)
        if first is not None:
            return whole, first
    return low, None


def _short_text(tag: Tag, limit: int) -> str | None:
    """The normalized text of an element, or None when it is longer than limit characters
    (read up to the limit only: a pruned subtree's text is not in the walk's statistics)."""
    parts: list[str] = []
    size, seen, stack = 0, 0, list(reversed(tag.contents))
    while stack:
        item, seen = stack.pop(), seen + 1
        if seen > limit:
            return None  # more elements and strings than a date has parts
        if isinstance(item, str):
            size += len(item.strip())
            if size > limit:
                return None
            parts.append(item)
        else:
            stack.extend(reversed(item.contents))
    return " ".join(" ".join(parts).lower().split())


def _rank(seen: Seen, found: str, hinted: bool, offset: int, h1_at: int) -> None:
    if not hinted:
        return
    if h1_at < 0 or -_BYLINE_BEFORE <= offset <= _BYLINE_AFTER:
        seen.byline = seen.byline or found
    else:
        seen.far = seen.far or found


def _rank_near(seen: Seen, found: str, pos: int, low: str, offset: int, h1_at: int) -> None:
    head = h1_at >= 0 and -_NEAR_H1_BEFORE <= offset <= _NEAR_H1_AFTER
    if head and seen.near is None and pos <= _NEAR_LEAD and len(low) <= _NEAR_MAX:
        seen.near = found


def _time_element(index: PageIndex, want: str) -> str | None:
    """The first <time datetime> of the story (outside other things' containers): for
    "publish" one not marked as updated, for "modif" one marked as modified or updated."""
    story = story_of(index)
    for (when, hints), tag in zip(index.times, index.time_tags, strict=False):
        hints = hints.lower()
        updated = _UPDATED.search(hints) is not None
        if updated != (want == "modif") or not parse_date(when) or context_of(tag, story)[0]:
            continue
        return when
    return None


def _prop_date(index: PageIndex, props: tuple[str, ...], classes: str) -> str | None:
    """itemprop date elements (content, datetime or text) and hAtom <abbr title>."""
    for prop, tag in index.date_props:
        attrs = tag.attrs
        if prop in props or (not prop and classes in (attrs.get("class") or "")):
            raw = str(attrs.get("content") or attrs.get("datetime") or attrs.get("title") or "")
            found = parse_date(raw) or text_date(raw or tag.get_text(" "), index.lang)
            if found and not context_of(tag, story_of(index))[0]:
                return found
    return None


def dates_of(
    index: PageIndex, meta: Meta, url: str, entry: FeedEntry | None, now: str | None = None
) -> tuple[str | None, str | None]:
    """(published_at, updated_at) of a walked page. now (the fetch time) anchors relative
    dates; the feed entry is the last fallback of both."""
    seen = seen_dates(index, now)
    return _published(index, meta, url, entry, seen), _updated(index, meta, entry, seen)


def _published(
    index: PageIndex, meta: Meta, url: str, entry: FeedEntry | None, seen: Seen
) -> str | None:
    """Structured data, a byline, a date line by the headline, the weaker metas, the URL,
    the rest of what readers see, then the feed."""
    from_url = date_in_url(url)
    for raw in (
        text_value(meta.ld.get("datePublished")),
        meta.meta(*PUBLISHED_META[:STRONG_META]),
        _prop_date(index, ("datepublished",), "published"),
        _time_element(index, "publish"),
        seen.byline,
        seen.near,
        meta.meta(*PUBLISHED_META[STRONG_META:]),
        text_value(meta.ld.get("dateCreated")),
    ):
        parsed = parse_date(raw)
        if parsed:
            return _url_day(_shown(parsed, meta, seen), from_url)
    from_feed = parse_date(entry.published if entry else None)
    found = from_url or seen.far or seen.relative or seen.lead or seen.as_of
    if from_feed and (found or from_feed)[:10] == from_feed[:10]:
        return from_feed  # the same day, and the feed knows the time too
    return found or from_feed


def _shown(found: str, meta: Meta, seen: Seen) -> str:
    """found, unless the page shows readers another day by its headline and its own
    structured data names that day too (its dateModified, another published meta): then
    the page was re-dated or its sources disagree, and the day shown is the page's."""
    shown = seen.near or seen.byline
    if shown is None or shown[:10] == found[:10]:
        return found
    for raw in (
        text_value(meta.ld.get("dateModified")),
        *meta.all(*PUBLISHED_META[:STRONG_META]),
        *meta.all(*MODIFIED_META),
    ):
        parsed = parse_date(raw)
        if parsed and parsed[:10] == shown[:10]:
            return parsed
    return found


def _url_day(found: str, from_url: str | None) -> str:
    """found, unless the URL path carries another day that is its first publication: the
    publisher's own calendar day when found is a day off (a UTC time of a page written in
    another time zone), or an earlier day when found is later (a re-publication)."""
    if from_url is None or from_url[:10] == found[:10]:
        return found
    gap = (datetime.fromisoformat(found[:10]) - datetime.fromisoformat(from_url[:10])).days
    return from_url if gap >= -1 else found


def _updated(index: PageIndex, meta: Meta, entry: FeedEntry | None, seen: Seen) -> str | None:
    """JSON-LD dateModified, modified-time metas, itemprop and <time> marked modified, an
    "updated" line readers see, the feed's."""
    for raw in (
        text_value(meta.ld.get("dateModified")),
        meta.meta(*MODIFIED_META),
        _prop_date(index, ("datemodified", "dateupdated"), "updated"),
        _time_element(index, "modif"),
    ):
        parsed = parse_date(raw)
        if parsed:
            return parsed
    return seen.updated or parse_date(entry.updated if entry else None)


def published_of(
    index: PageIndex, meta: Meta, url: str, entry: FeedEntry | None, now: str | None = None
) -> str | None:
    """The publication date (see dates_of)."""
    return dates_of(index, meta, url, entry, now)[0]


def updated_of(
    meta: Meta, entry: FeedEntry | None, index: PageIndex | None = None, now: str | None = None
) -> str | None:
    """The modification date (see dates_of); without an index, metadata and feed only."""
    if index is None:
        for raw in (text_value(meta.ld.get("dateModified")), meta.meta(*MODIFIED_META)):
            if parse_date(raw):
                return parse_date(raw)
        return parse_date(entry.updated if entry else None)
    return dates_of(index, meta, "", entry, now)[1]
