"""The one parse and the one walk of a page: BeautifulSoup tree, per-node text statistics,
boilerplate pruning and the index of metadata elements.

Owned here: bounding the input (size and tag count) so that any page parses in bounded time
and memory; parsing once with BeautifulSoup on lxml; a single iterative post-order traversal
(no recursion, so 50,000 nested divs are fine) that computes for every element its text and
link-text length and paragraph scores bottom-up, prunes boilerplate subtrees (by tag, by
class/id hints, hidden elements; after it, listings of teaser <article>s beside a story)
and collects what metadata needs (meta, link, JSON-LD, title, <time>, rel=tag). The body chooser (tasks.clean.body) and metadata reader
(tasks.clean.meta) only read what this walk produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag

MAX_CHARS = 3_000_000  # decoded characters parsed; the rest of a bigger page is dropped
MAX_TAGS = 80_000  # "<" characters parsed; bounds tree size (and depth) for any input
MIN_PARAGRAPH = 25  # characters for a block to count as a paragraph when scoring
SOFT_KEEP = 1200  # paragraph characters that save a hinted or soft-pruned subtree
MIXED_KEEP = 150  # the same, for class names both article-like and chrome-like
MIXED = -2  # hint of such names
STRONG = -3  # hint of comment threads: pruned whatever their size

# Subtrees that never hold article text (contents are not even walked).
DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "video",
        "audio",
        "canvas",
        "picture",
        "img",
        "map",
        "button",
        "select",
        "input",
        "textarea",
        "nav",
        "footer",
        "figure",
        "figcaption",
        "dialog",
        "head",
        "title",
        "label",
        "option",
        "menu",
    }
)
# Tags that are chrome unless they hold a lot of paragraph text (ASP.NET wraps pages in <form>).
SOFT_TAGS = frozenset({"form", "aside", "header"})
PROTECTED = frozenset({"html", "body", "article", "main", "[document]"})
PARA_TAGS = frozenset({"p", "pre", "blockquote", "dd"})
# Boilerplate class/id names: prefixes ("related" also matches "relatedArticles") and whole tokens.
_NEGATIVE = re.compile(
    r"(^|[-_ ])((share|sharing|social|related|recommend|newsletter|comment|disqus|cookie|"
    r"consent|gdpr|promo|sponsor|advert|breadcrumb|subscri|signup|paywall|byline|sidebar|"
    r"widget|popular|trending|mostread|most-read|toolbar|outbrain|taboola|moretories|"
    r"more-stories|readmore|read-more|pagination|newsticker|survey|donate|footer|masthead)"
    r"|(ad|ads|adslot|ad-slot|tag|tags|taglist|tag-list|keywords|author|authors|caption|"
    r"credit|credits|print|tools|menu|navbar|nav|banner|modal|overlay|popup|teaser|also|"
    r"meta|dateline|timestamp|date|pager|skip|visually-hidden|sr-only|rating|follow|"
    r"video|gallery|audio|podcast|login|hide|topics)($|[-_ ]))"
)
# Names of subtrees that are never the story, however long (comment threads, reader replies).
_STRONG = re.compile(
    r"(^|[-_ ])(comments?|commentlist|comment-list|comment-body|comment-content|comments-area|"
    r"comment-respond|respond|disqus-thread|disqus|replies|reply|user-comments)($|[-_ ])"
)
_POSITIVE = re.compile(r"(^|[-_ ])(article|story|entry|post|content|body|text|main|blog|prose)")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
COMMA_CHARS = ",，、،"
LISTING_MIN = 3  # sibling <article>s that make a listing of teasers
STORY_MIN = 150  # paragraph characters of a story outside a listing that prunes it
# Short strings that may hold a date (a year, d.m., d/m, or a relative phrase), kept for
# tasks.clean.dates so that it never searches the tree again.
DATE_TEXT_MAX = 160
DATE_TEXTS_MAX = 600  # kept per page: a story's dates come early; bounds hostile pages
_DIGIT = re.compile(r"\d")  # the cheap test first: most strings have no digit
_DATEISH = re.compile(
    r"(?:19|20)\d\d|\d[./]\s?\d|\b(?:ago|vor|hace|il y a|fa|há|geleden|yesterday|gestern|hier|"
    r"ayer|ieri|ontem|gisteren)\b"
)
DATE_PROPS = frozenset({"datepublished", "datecreated", "datemodified", "dateupdated"})


@dataclass(slots=True)
class Node:
    """Statistics of one element, after pruning of its descendants."""

    text: int = 0  # characters of text
    links: int = 0  # characters of text inside <a>
    ptext: int = 0  # characters inside paragraph-like blocks
    own: int = 0  # characters of the element's own (direct) strings
    commas: int = 0
    direct: float = 0.0  # scores of paragraphs that are children
    grand: float = 0.0  # scores of paragraphs that are grandchildren
    hint: int = 0  # +1 positive class/id, -1 negative
    pruned: bool = False

    @property
    def link_density(self) -> float:
        return self.links / self.text if self.text else 0.0


@dataclass
class PageIndex:
    """What the walk found for metadata, and the statistics for choosing the body."""

    soup: BeautifulSoup
    nodes: dict[int, Node] = field(default_factory=dict)
    metas: list[tuple[str, str]] = field(default_factory=list)  # (name/property, content)
    links: list[tuple[str, str]] = field(default_factory=list)  # (rel, href)
    jsonld: list[str] = field(default_factory=list)
    title: str | None = None
    lang: str | None = None
    times: list[tuple[str, str]] = field(default_factory=list)  # (datetime, itemprop/class)
    tag_links: list[str] = field(default_factory=list)
    h1: list[str] = field(default_factory=list)
    candidates: list[Tag] = field(default_factory=list)
    body_hints: list[Tag] = field(default_factory=list)  # <article>, itemprop=articleBody
    # For tasks.clean.dates: the <time> elements of `times` (same order), short strings that
    # may be dates with their element and its entry order, itemprop date elements and hAtom
    # <abbr title>, and the entry order of the first <h1> (-1 when none).
    time_tags: list[Tag] = field(default_factory=list)
    date_texts: list[tuple[str, Tag, int]] = field(default_factory=list)
    date_props: list[tuple[str, Tag]] = field(default_factory=list)
    h1_at: int = -1
    h1_tag: Tag | None = None

    def node(self, tag: Tag) -> Node | None:
        return self.nodes.get(id(tag))


def bound(html: str) -> str:
    """The prefix of html that is parsed: at most MAX_CHARS characters and MAX_TAGS tags."""
    html = html[:MAX_CHARS]
    if html.count("<") <= MAX_TAGS:
        return html
    pos = 0
    for _ in range(MAX_TAGS):
        pos = html.find("<", pos) + 1
    return html[:pos]


def parse(html: str) -> BeautifulSoup:
    """One BeautifulSoup parse (lxml tree builder) of the bounded page."""
    return BeautifulSoup(bound(html), "lxml", multi_valued_attributes=None)


def hint_of(tag: Tag) -> int:
    """+1 for class/id names of article containers, -1 for boilerplate, else 0."""
    attrs = tag.attrs
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    if len(names) < 2:
        return 0
    names = names.replace("_", "-")
    if _STRONG.search(names):
        return STRONG
    positive, negative = _POSITIVE.search(names), _NEGATIVE.search(names)
    if positive:
        return MIXED if negative else 1
    return -1 if negative else 0


def is_hidden(tag: Tag) -> bool:
    """Hidden from readers: the hidden attribute or an inline display:none."""
    attrs = tag.attrs
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" and tag.name != "span":
        return True
    style = attrs.get("style")
    return bool(style) and _HIDDEN_STYLE.search(style.lower()) is not None


def _enter_meta(tag: Tag, index: PageIndex) -> None:
    """Record a metadata element (meta, link, JSON-LD, title, html lang, time, rel=tag)."""
    name, attrs = tag.name, tag.attrs
    if name == "meta":
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = attrs.get("content")
        if key and content:
            index.metas.append((key.strip().lower(), content.strip()))
    elif name == "link":
        if attrs.get("rel") and attrs.get("href"):
            index.links.append((attrs["rel"].lower(), attrs["href"].strip()))
    elif name == "script":
        if "ld+json" in (attrs.get("type") or "").lower():
            index.jsonld.append(tag.get_text())
    elif name == "title":
        if index.title is None:
            index.title = tag.get_text()
    elif name == "time":
        when = attrs.get("datetime") or attrs.get("content")
        if when:
            index.times.append(
                (when.strip(), f"{attrs.get('itemprop') or ''} {attrs.get('class') or ''}")
            )
            index.time_tags.append(tag)


def _walk_head(tag: Tag, index: PageIndex) -> None:
    """Collect metadata elements of a dropped subtree (usually <head>) without stats."""
    for el in tag.find_all(("meta", "link", "script", "title", "time"), limit=5000):
        _enter_meta(el, index)


def _drop(tag: Tag, name: str, index: PageIndex) -> bool:
    """Whether tag is dropped at entry (never walked); records its metadata first."""
    if name in DROP_TAGS:
        if name in ("script", "title", "time"):
            _enter_meta(tag, index)
        elif name in ("head", "noscript", "template", "nav", "footer", "figure"):
            _walk_head(tag, index)
        return True
    if name in ("meta", "link"):
        _enter_meta(tag, index)
        return True
    return is_hidden(tag)


def _chrome(node: Node) -> bool:
    """Whether a hinted subtree is chrome: little paragraph text, or mostly links. Names that
    are both article-like and chrome-like ("entry-content-read-more") need less to stay."""
    if node.hint == STRONG:
        return True
    if node.hint == MIXED:
        return node.ptext < MIXED_KEEP or node.link_density > 0.5
    return node.ptext < SOFT_KEEP or node.link_density > 0.35


def _exit(tag: Tag, node: Node, parent: Node | None, index: PageIndex) -> None:
    """Finish an element: decide pruning, score it, and add its stats to its parent."""
    name = tag.name
    if name == "a":
        node.links = node.text
        if "tag" in (tag.attrs.get("rel") or "").lower():
            index.tag_links.append(tag.get_text(" ", strip=True))
    elif name == "h1":
        index.h1.append(tag.get_text(" ", strip=True))
    elif name == "time" and tag.attrs.get("datetime"):
        _enter_meta(tag, index)
    if (node.hint < 0 or name in SOFT_TAGS) and name not in PROTECTED and _chrome(node):
        node.pruned = True
        return
    is_para = name in PARA_TAGS
    if node.own >= MIN_PARAGRAPH and not is_para:
        node.direct += 1 + node.commas * 0.5 + min(node.own / 100, 3)
    if node.direct or node.grand:
        index.candidates.append(tag)
    if parent is None:
        return
    parent.text += node.text
    parent.links += node.links
    parent.commas += node.commas
    parent.ptext += node.text if is_para else node.ptext
    if is_para and node.text >= MIN_PARAGRAPH:
        parent.direct += 1 + node.commas + min(node.text / 100, 3)
    parent.grand += node.direct


def walk(soup: BeautifulSoup) -> PageIndex:
    """The single post-order walk of the tree: stats, pruning and metadata elements."""
    index = PageIndex(soup)
    nodes = index.nodes
    root = soup
    nodes[id(root)] = Node()
    stack: list = [(root, None, False)]
    entered = 0  # elements entered so far: document order, for tasks.clean.dates
    while stack:
        tag, parent, leaving = stack.pop()
        if leaving:
            _exit(tag, nodes[id(tag)], parent, index)
            continue
        node = nodes[id(tag)]
        entered += 1
        if tag.name == "h1" and index.h1_at < 0:
            index.h1_at, index.h1_tag = entered, tag
        stack.append((tag, parent, True))
        for child in reversed(tag.contents):
            if type(child) is NavigableString:
                length = len(child.strip())
                if length:
                    node.text += length
                    node.own += length
                    node.commas += sum(child.count(c) for c in COMMA_CHARS)
                    if (
                        length <= DATE_TEXT_MAX
                        and _DIGIT.search(child)
                        and _DATEISH.search(child)
                        and len(index.date_texts) < DATE_TEXTS_MAX
                    ):
                        index.date_texts.append((str(child), tag, entered))
            elif isinstance(child, Tag):
                name = child.name
                if _drop(child, name, index):
                    continue
                nodes[id(child)] = Node(hint=hint_of(child))
                prop = child.attrs.get("itemprop")
                if name in ("article", "main") or prop == "articleBody":
                    index.body_hints.append(child)
                elif prop and prop.lower() in DATE_PROPS or name == "abbr":
                    index.date_props.append(((prop or "").lower(), child))
                if name == "html" and child.attrs.get("lang"):
                    index.lang = child.attrs["lang"]
                stack.append((child, node, False))
    prune_listings(index)
    return index


def _listings(index: PageIndex) -> list[tuple[Tag, list[Tag]]]:
    """Elements holding LISTING_MIN or more live sibling <article>s, with those articles."""
    groups: dict[int, tuple[Tag, list[Tag]]] = {}
    for tag in index.body_hints:
        parent = tag.parent
        if tag.name == "article" and parent is not None and id(tag) in index.nodes:
            groups.setdefault(id(parent), (parent, []))[1].append(tag)
    return [(h, m) for h, m in groups.values() if len(m) >= LISTING_MIN]


def _scope(holder: Tag) -> Tag | None:
    """The <article> the listing sits in (a live blog's posts are the story's own), if any."""
    return next((a for a in holder.parents if a.name == "article"), None)


def _story_beside(holder: Tag, members: list[Tag], index: PageIndex) -> bool:
    """Whether a live container outside the listing (and outside the article holding it)
    has at least as much paragraph text as the longest teaser: the page's story."""
    need = max(STORY_MIN, max(index.nodes[id(m)].ptext for m in members))
    scope = _scope(holder) or holder
    around = {id(a) for a in scope.parents} | {id(scope)}
    ranked = sorted(index.candidates, key=lambda t: index.nodes[id(t)].ptext, reverse=True)
    for tag in ranked[:20]:
        if index.nodes[id(tag)].ptext < need:
            return False
        if id(tag) in around:
            continue
        lineage = list(tag.parents)
        if not any(a is scope for a in lineage) and _live(lineage, index):
            return True
    return False


def _live(lineage: list[Tag], index: PageIndex) -> bool:
    return not any(index.nodes[id(a)].pruned for a in lineage if id(a) in index.nodes)


def _unhook(tag: Tag, index: PageIndex) -> None:
    """Prune tag after the walk: its statistics are taken back from its ancestors."""
    node, nodes = index.nodes[id(tag)], index.nodes
    node.pruned = True
    parent = nodes.get(id(tag.parent))
    if parent is not None:
        parent.grand -= node.direct
    for anc in tag.parents:
        up = nodes.get(id(anc))
        if up is not None:
            up.text -= node.text
            up.links -= node.links
            up.commas -= node.commas
            up.ptext -= node.ptext


def prune_listings(index: PageIndex) -> None:
    """Repeated sibling <article>s are a listing of teasers, not the story: pruned (with
    their holder when it holds nothing else) when the page has a story beside them."""
    for holder, members in _listings(index):
        if not _live([holder, *holder.parents], index):
            continue  # already out with a pruned ancestor
        if not _story_beside(holder, members, index):
            continue
        for member in members:
            if not index.nodes[id(member)].pruned:
                _unhook(member, index)
        if _bare(holder, index):
            _unhook(holder, index)


def _bare(holder: Tag, index: PageIndex) -> bool:
    """Whether a listing's holder has nothing left but its heading (and is no page root)."""
    node = index.nodes.get(id(holder))
    if node is None or node.pruned or holder.name in ("[document]", "html", "body", "main"):
        return False
    return node.ptext < MIN_PARAGRAPH
