"""JSON-LD on article pages: parsing the blocks, tolerating bad JSON, finding the article object.

Owned here: turning the text of every ``<script type="application/ld+json">`` into one flat
list of objects (arrays, ``@graph`` and nested values flattened, ``@id`` references resolvable),
and picking the object that describes the article. Pure functions; never raises.
"""

from __future__ import annotations

import json
import logging
import re

from tasks.charset import json_without_surrogates

log = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "blogposting",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "liveblogposting",
        "scholarlyarticle",
        "techarticle",
        "socialmediaposting",
        "report",
        "posting",
        "advertisercontentarticle",
        "satiricalarticle",
        "askpublicnewsarticle",
    }
)
PAGE_TYPES = frozenset({"webpage", "itempage", "collectionpage", "medicalwebpage"})
MAX_BLOCK_CHARS = 2_000_000
MAX_OBJECTS = 2_000

_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _loads(text: str):
    """json.loads with the repairs real pages need (comments, CDATA, trailing commas); a lone
    surrogate escape ("\\ud800") decodes to U+FFFD, not to a string no encoder accepts."""
    return json_without_surrogates(text, _repaired_loads(text))


def _repaired_loads(text: str):
    text = text.strip()
    for wrapper in ("<!--", "-->", "<![CDATA[", "]]>", "//<![CDATA[", "//]]>"):
        text = text.replace(wrapper, "")
    text = text.strip().rstrip(";")
    try:
        return json.loads(text, strict=False)
    except RecursionError:  # nested past the parser's stack: a bad hint costs only the hint
        log.debug("JSON-LD block nested too deep, skipped")
        return None
    except ValueError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", _CONTROL.sub(" ", text)), strict=False)
    except (ValueError, RecursionError):
        log.debug("malformed JSON-LD block skipped")
        return None


def _flatten(value, out: list[dict]) -> None:
    """Every dict in value (lists, @graph, nested values), parents before children."""
    stack = [value]
    while stack and len(out) < MAX_OBJECTS:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            out.append(item)
            graph = item.get("@graph")
            if graph is not None:
                stack.append(graph)


def parse_blocks(texts: list[str]) -> list[dict]:
    """The flat list of top-level JSON-LD objects of a page (malformed blocks skipped)."""
    objects: list[dict] = []
    for text in texts:
        if len(text) <= MAX_BLOCK_CHARS:
            _flatten(_loads(text), objects)
    return objects


def types_of(obj: dict) -> set[str]:
    """The lower-cased @type names of an object (a string or a list in the wild)."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower().rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)}


def find_article(objects: list[dict]) -> dict:
    """The object describing the article (an Article type, else a WebPage), or {}."""
    pages = []
    for obj in objects:
        kinds = types_of(obj)
        if kinds & ARTICLE_TYPES:
            return obj
        if kinds & PAGE_TYPES:
            main = obj.get("mainEntity")
            if isinstance(main, dict) and types_of(main) & ARTICLE_TYPES:
                return main
            pages.append(obj)
    return pages[0] if pages else {}


def index_ids(objects: list[dict]) -> dict[str, dict]:
    """Objects by their @id, to resolve references such as {"@id": "#publisher"}."""
    return {o["@id"]: o for o in objects if isinstance(o.get("@id"), str) and len(o) > 1}


def resolve(value, ids: dict[str, dict]):
    """value with a bare {"@id": ...} reference replaced by the object it names."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("@id"), str):
        return ids.get(value["@id"], value)
    return value


def names(value, ids: dict[str, dict]) -> list[str]:
    """The names in a person/organization value: a string, an object, or a list of them."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items[:50]:
        item = resolve(item, ids)
        if isinstance(item, dict):
            item = item.get("name")
            if isinstance(item, list):
                item = item[0] if item else None
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out


def url_value(value) -> str | None:
    """A URL from a JSON-LD value: a string, or an object's url or @id (never its name: a
    WebPage object's name is the page's title, not where it lives)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def text_value(value) -> str | None:
    """A plain string from a JSON-LD value that may be a string, a list or an object."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name") or value.get("@id") or value.get("url")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None
