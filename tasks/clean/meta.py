"""Article metadata from a walked page: each field from the sources ARTICLE_FORMAT.md names,
in that order, with the feed entry as the last fallback.

Owned here: title (site suffix removed), source, section, authors (cleaned), language, tags,
summary, lead image, canonical URL (same registrable host only). Dates live in
tasks.clean.dates. Pure functions over the PageIndex; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.clean.dom import PageIndex
from tasks.clean.jsonld import find_article, index_ids, names, parse_blocks, resolve, text_value
from tasks.dedupe import canonical_url, choose_canonical, registrable_domain
from tasks.formats import absolute_http
from tasks.models import FeedEntry

_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " « ", " » ", " / ")
_BY = re.compile(r"^\s*(by|from|por|par|von|di|door|av)\s*[:\-]?\s+", re.IGNORECASE)
_ROLE = re.compile(
    r"\s*[,|\-–—]\s*(staff|senior|chief|special|contributing|political|foreign|news)?\s*"
    r"(writer|reporter|correspondent|editor|columnist|contributor|journalist|photographer)"
    r"\b.*$",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\bund\b|\be\b|\by\b|\bet\b)\s*", re.IGNORECASE)
_LANG = re.compile(r"^[a-zA-Z]{2,3}(?=$|[-_])")


@dataclass
class Meta:
    """The metadata read from the page, before the feed fallbacks."""

    metas: dict[str, list[str]] = field(default_factory=dict)
    ld: dict = field(default_factory=dict)
    ids: dict[str, dict] = field(default_factory=dict)

    def meta(self, *keys: str) -> str | None:
        """The first non-empty content among meta keys, in the given order."""
        for key in keys:
            for value in self.metas.get(key, ()):
                if value:
                    return value
        return None

    def all(self, *keys: str) -> list[str]:
        return [v for key in keys for v in self.metas.get(key, ())]


def read_meta(index: PageIndex) -> Meta:
    """Group the page's meta tags by key and find its JSON-LD article object."""
    metas: dict[str, list[str]] = {}
    for key, content in index.metas:
        metas.setdefault(key, []).append(content)
    objects = parse_blocks(index.jsonld)
    return Meta(metas, find_article(objects), index_ids(objects))


def _first(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return " ".join(value.split())
    return None


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def strip_site(title: str, site: str | None, host: str) -> str:
    """A headline without the site name before or after a separator."""
    for sep in _TITLE_SEPARATORS:
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        if (
            (site and _same(tail, site))
            or _looks_like_site(tail, host)
            or len(tail.split()) <= 3 < len(head.split())
        ):
            return head.strip()
        first, _, rest = title.partition(sep)
        if (site and _same(first, site)) or _looks_like_site(first, host):
            return rest.strip()
    return title


def _looks_like_site(part: str, host: str) -> bool:
    """Whether a title part names the site: "BBC News" on bbc.co.uk, "Example" on example.com."""
    squashed = re.sub(r"[^a-z0-9]", "", part.lower())
    label = registrable_domain(host).split(".")[0] if host else ""
    if len(squashed) < 3 or len(part.split()) > 4:
        return False
    return squashed in host.replace(".", "").replace("-", "") or (
        len(label) >= 3 and squashed.startswith(label)
    )


def title_of(index: PageIndex, meta: Meta, source: str | None, host: str, entry) -> str:
    """The headline: JSON-LD headline, og:title, twitter:title, <title>, <h1>, feed title."""
    raw = _first(
        text_value(meta.ld.get("headline")),
        meta.meta("og:title", "twitter:title"),
        index.title,
        index.h1[0] if index.h1 else None,
        entry.title if entry else None,
    )
    return strip_site(raw, source, host) if raw else ""


def source_of(meta: Meta, entry: FeedEntry | None, host: str) -> str:
    """og:site_name, JSON-LD publisher.name, the feed's title, else the host."""
    publisher = names(meta.ld.get("publisher"), meta.ids)
    return _first(
        meta.meta("og:site_name", "application-name"),
        publisher[0] if publisher else None,
        entry.feed_title if entry else None,
    ) or host.removeprefix("www.")


def section_of(meta: Meta, entry: FeedEntry | None) -> str | None:
    """article:section, JSON-LD articleSection, the feed's first category."""
    return _first(
        meta.meta("article:section", "section", "parsely-section"),
        text_value(meta.ld.get("articleSection")),
        entry.tags[0] if entry and entry.tags else None,
    )


def clean_author(name: str) -> list[str]:
    """People in one author string: "By", roles, URLs and e-mails removed; split on "and"."""
    if "://" in name or name.startswith("www.") or "@" in name:
        return []
    name = _ROLE.sub("", _BY.sub("", " ".join(name.split())))
    return [p.strip(" .,;:|") for p in _AUTHOR_SPLIT.split(name) if len(p.strip(" .,;:|")) > 1]


def authors_of(meta: Meta, entry: FeedEntry | None) -> tuple[str, ...]:
    """JSON-LD author, meta author/byl/article:author, else the feed's authors; cleaned."""
    raw = names(meta.ld.get("author"), meta.ids) or meta.all(
        "author", "byl", "article:author", "sailthru.author", "parsely-author"
    )
    if not raw and entry:
        raw = list(entry.authors)
    out: dict[str, str] = {}
    for item in raw:
        for person in clean_author(item):
            out.setdefault(person.lower(), person)
    return tuple(out.values())[:20]


def language_of(index: PageIndex, meta: Meta, entry: FeedEntry | None) -> str | None:
    """Primary language subtag from <html lang>, og:locale, JSON-LD inLanguage, the feed."""
    for raw in (
        index.lang,
        meta.meta("og:locale"),
        text_value(meta.ld.get("inLanguage")),
        entry.language if entry else None,
    ):
        match = _LANG.match((raw or "").strip())
        if match:
            return match.group(0).lower()
    return None


def tags_of(index: PageIndex, meta: Meta, entry: FeedEntry | None) -> tuple[str, ...]:
    """article:tag, JSON-LD keywords, rel=tag links, the feed's categories; de-duplicated."""
    keywords = meta.ld.get("keywords")
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    raw = [
        *meta.all("article:tag"),
        *(keywords if isinstance(keywords, list) else []),
        *index.tag_links,
        *(entry.tags if entry else ()),
    ]
    out: dict[str, str] = {}
    for tag in raw:
        if isinstance(tag, str) and tag.strip():
            tag = " ".join(tag.split())
            out.setdefault(tag.lower(), tag)
    return tuple(out.values())[:50]


def summary_of(meta: Meta, entry: FeedEntry | None) -> str | None:
    """meta description, og:description, JSON-LD description, else the feed summary."""
    return _first(
        meta.meta("description", "og:description", "twitter:description"),
        text_value(meta.ld.get("description")),
        entry.summary if entry else None,
    )


def image_of(meta: Meta, url: str, entry: FeedEntry | None) -> str | None:
    """The lead image as an absolute URL: og:image, twitter:image, JSON-LD image, feed."""
    image = resolve(meta.ld.get("image"), meta.ids)
    raw = _first(
        meta.meta(
            "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"
        ),
        text_value(image.get("url") if isinstance(image, dict) else image),
        entry.image_url if entry else None,
    )
    return absolute_http(raw, url)


def canonical_source(
    index: PageIndex, meta: Meta, url: str, extra_tracking: tuple[str, ...] = ()
) -> str:
    """The page's canonical URL: the first of rel=canonical, og:url and JSON-LD
    mainEntityOfPage that tasks.dedupe.choose_canonical accepts (same site, not the home
    page), else the fetched URL; normalized either way."""
    main = resolve(meta.ld.get("mainEntityOfPage"), meta.ids)
    candidates = [href for rel, href in index.links if "canonical" in rel.split()]
    candidates += [meta.meta("og:url"), text_value(main)]
    try:
        fetched = canonical_url(url, extra_tracking)
        for raw in filter(None, candidates):
            chosen = choose_canonical(url, raw, extra_tracking)
            if chosen != fetched:
                return chosen
    except ValueError:  # a URL that does not parse (a bad IPv6 literal, ...)
        return url.strip()
    return fetched
