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
from tasks.clean.jsonld import (
    find_article,
    index_ids,
    names,
    parse_blocks,
    resolve,
    text_value,
    url_value,
)
from tasks.dedupe import canonical_url, choose_canonical, registrable_domain
from tasks.formats import absolute_http
from tasks.models import FeedEntry

_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " « ", " » ", " / ")
_BY = re.compile(
    r"^\s*((written|posted|reported|words|story|text|photos?|edited|compiled|published)\s+)?"
    r"(by|from|por|par|von|di|door|av|autor|auteur|autore)\b\s*[:\-]?\s*",
    re.IGNORECASE,
)
_ROLE_WORDS = (
    r"(staff|senior|chief|special|contributing|political|foreign|news|associate|managing|"
    r"deputy|executive|assistant|sports|business|investigative|freelance|guest)?\s*"
    r"(writer|reporter|correspondent|editor|columnist|contributor|journalist|photographer|"
    r"producer|analyst|intern|redakteur|redakteurin|rédacteur|rédactrice|redactor|redactora|"
    r"journaliste|periodista|giornalista)s?"
)
_ROLE = re.compile(
    rf"\s*([,|\-–—/(]\s*|\s+(is|was)\s+(a|an|the)\s+.*?){_ROLE_WORDS}\b.*$", re.IGNORECASE
)
_ONLY_ROLE = re.compile(rf"^\W*(the\s+)?{_ROLE_WORDS}\W*$|^\W*staff\W*$", re.IGNORECASE)
_MONTH = (
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|janvier|février|mars|"
    r"avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|januar|februar|märz|"
    r"juni|juli|oktober|dezember|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre"
)
# Where a date or time starts in a byline: "Published ...", "Updated ...", "12 March 2020",
# "March 12, 2020", "2020-03-12", "12.03.2020", "3:45 PM", "2 hours ago". Cut from there.
_DATE_TAIL = re.compile(
    r"\s*[,|\-–—•·(]?\s*(\b(published|updated|posted|last updated|modified|veröffentlicht|"
    r"aktualisiert|publié|mis à jour|publicado|actualizado|pubblicato|aggiornato)\b|"
    rf"\bon\s+(\d|\b({_MONTH})\b|\w+day\b)|\b\d{{1,2}}(st|nd|rd|th)?\.?\s+({_MONTH})\b|"
    rf"\b({_MONTH})\s+\d{{1,2}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b|"
    r"\b\d{1,2}:\d{2}\b|\b\d+\s+(minutes?|hours?|days?)\s+ago\b|\b(19|20)\d{2}\b).*$",
    re.IGNORECASE,
)
_URL_OR_MAIL = re.compile(r"\S*(://|www\.|@)\S*", re.IGNORECASE)
MAX_NAME_WORDS = 7  # a longer "name" is a sentence, not a person
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
    """A headline without the site name before or after a separator ("Site: headline"
    only when the part before the colon is the site's name: headlines have colons too)."""
    if site and title.lower().startswith(site.lower() + ": "):
        return title[len(site) + 2 :].strip()
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


def clean_author(name: str, site: str | None = None) -> list[str]:
    """People in one author string: "By", roles, dates, URLs, e-mail addresses and the site's
    own name removed; split on "and", commas and the like."""
    name = _URL_OR_MAIL.sub(" ", " ".join(name.split()))
    name = _ROLE.sub("", _DATE_TAIL.sub("", _BY.sub("", name)))
    out = []
    for part in _AUTHOR_SPLIT.split(name):
        person = _BY.sub("", part.strip(" .,;:|-–—()[]")).strip(" .,;:|-–—()[]")
        if _is_person(person, site):
            out.append(person)
    return out


def _is_person(text: str, site: str | None) -> bool:
    """Whether a cleaned part of a byline can be a person's (or agency's) name."""
    if len(text) < 2 or not any(ch.isalpha() for ch in text) or any(ch.isdigit() for ch in text):
        return False
    if len(text.split()) > MAX_NAME_WORDS or _ONLY_ROLE.match(text):
        return False
    return not (site and _squash(text) == _squash(site))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().removeprefix("the "))


def authors_of(
    meta: Meta, entry: FeedEntry | None, site: str | None = None, host: str = ""
) -> tuple[str, ...]:
    """JSON-LD author, meta author/byl/article:author, else the feed's authors; cleaned.
    site and host name the site, never an author."""
    raw = names(meta.ld.get("author"), meta.ids) or meta.all(
        "author", "byl", "article:author", "sailthru.author", "parsely-author"
    )
    if not raw and entry:
        raw = list(entry.authors)
    out: dict[str, str] = {}
    for item in raw:
        for person in clean_author(item, site):
            if not (host and _looks_like_site(person, host)):
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
    candidates: list[str | None] = [h for rel, h in index.links if "canonical" in rel.split()]
    candidates += [meta.meta("og:url"), url_value(main)]
    try:
        fetched = canonical_url(url, extra_tracking)
        for raw in filter(None, candidates):
            chosen = choose_canonical(url, raw, extra_tracking)
            if chosen != fetched:
                return chosen
    except ValueError:  # a URL that does not parse (a bad IPv6 literal, ...)
        return url.strip()
    return fetched
