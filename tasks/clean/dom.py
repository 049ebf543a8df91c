"""The one parse and the one walk of a page: the tree, per-node text statistics,
boilerplate pruning and the index of metadata elements.

Owned here: bounding the input (characters that can be text, and tags) so that any page
parses in bounded time and memory; parsing once with BeautifulSoup (lxml's parser feeding
its tree builder); building from that tree a light tree of the elements that can hold
article text (``El``: name, attrs, parent, contents; text nodes are plain ``str``), leaving
out the subtrees that never do (scripts, styles, navigation, <head>, hidden elements...)
after collecting their metadata (meta, link, JSON-LD, title, <time>); a single iterative
post-order traversal (no recursion, so 50,000 nested divs are fine) that computes for every
element its text and link-text length and paragraph scores bottom-up, prunes boilerplate
subtrees (by tag, by class/id hints; after it, listings of teaser <article>s beside a story)
and collects what metadata needs from the body (<time>, rel=tag, <h1>). The body chooser
(tasks.clean.body) and metadata reader (tasks.clean.meta) only read what this walk produced.

Why a light tree beside BeautifulSoup's: the walk and the passes after it touch every
element several times; plain slots are several times cheaper to read than Tag objects, and
the half of the page that never holds text is not walked at all (docs/cleaner.md).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, cast

from bs4 import BeautifulSoup, CData, NavigableString
from bs4 import Tag as SoupTag
from bs4.builder._lxml import LXMLTreeBuilder  # where bs4 defines it
from bs4.element import AttributeDict

log = logging.getLogger(__name__)

MAX_CHARS = 3_000_000  # characters that can be text (outside <script>/<style>) parsed
MAX_RAW = 4 * MAX_CHARS  # characters parsed at all, scripts included
MAX_TAGS = 80_000  # "<" characters outside scripts parsed; bounds tree size and depth
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
    r"|(caption|credit)s?($|[-_ ])"  # also run together: "newsCaption", "photocredit"
)
# Names of subtrees that are never the story, however long (comment threads, reader replies).
_STRONG = re.compile(
    r"(^|[-_ ])(comments?|commentlist|comment-list|comment-body|comment-content|comments-area|"
    r"comment-respond|respond|disqus-thread|disqus|replies|reply|user-comments)($|[-_ ])"
)
# Utility classes that hide an element from sight (whole tokens: "hidden-xs" is only hidden
# on small screens, "hidden-print" only on paper).
_HIDDEN_CLASS = re.compile(
    r"(^|\s)(hidden|invisible|d-none|is-hidden|screen-reader-text|visually-hidden|sr-only)(\s|$)"
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


class El:
    """One element of the light tree. ``contents`` holds child elements and text (str)."""

    __slots__ = ("name", "attrs", "parent", "contents")

    def __init__(self, name: str, attrs: dict[str, str], parent: El | None) -> None:
        self.name = name
        self.attrs = attrs
        self.parent = parent
        self.contents: list[El | str] = []

    def __repr__(self) -> str:
        return f"<El {self.name}>"

    @property
    def children(self) -> Iterator[El | str]:
        return iter(self.contents)

    @property
    def parents(self) -> Iterator[El]:
        """The ancestors, nearest first, up to the document root."""
        tag = self.parent
        while tag is not None:
            yield tag
            tag = tag.parent

    @property
    def previous_sibling(self) -> El | str | None:
        """The child of the parent just before this element (an element or a text)."""
        siblings = self.parent.contents if self.parent is not None else []
        for i, item in enumerate(siblings):
            if item is self:
                return siblings[i - 1] if i else None
        return None

    def get_text(self, separator: str = "", strip: bool = False) -> str:
        """The text of the subtree in document order (as BeautifulSoup's get_text)."""
        parts: list[str] = []
        stack: list[El | str] = [self]
        while stack:
            item = stack.pop()
            if type(item) is str:
                parts.append(item)
            else:
                stack.extend(reversed(item.contents))  # type: ignore[union-attr]
        if strip:
            parts = [p.strip() for p in parts if p and not p.isspace()]
        return separator.join(parts)


Tag = El  # the element type the other cleaner modules annotate with


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

    soup: El  # the document root of the light tree
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
    pruned_candidates: list[Tag] = field(default_factory=list)  # pruned by name or kind
    body_hints: list[Tag] = field(default_factory=list)  # <article>, itemprop=articleBody
    forced: list[Tag] = field(default_factory=list)  # containers a site rule selected
    # For tasks.clean.dates: the <time> elements of `times` (same order), short strings that
    # may be dates with their element and its entry order, itemprop date elements and hAtom
    # <abbr title>, and the entry order of the first <h1> (-1 when none). A <time> in a
    # left-out subtree is a detached El whose parents copy its ancestors there (names only).
    time_tags: list[Tag] = field(default_factory=list)
    date_texts: list[tuple[str, Tag, int]] = field(default_factory=list)
    date_props: list[tuple[str, Tag]] = field(default_factory=list)
    h1_at: int = -1
    h1_tag: Tag | None = None

    def node(self, tag: Tag) -> Node | None:
        return self.nodes.get(id(tag))


def _cut(segment: str, chars: int, tags: int) -> int | None:
    """Where segment must be cut for at most chars characters and tags "<", or None."""
    if len(segment) <= chars and segment.count("<") <= tags:
        return None
    end, pos = min(len(segment), chars), 0
    for _ in range(tags):
        found = segment.find("<", pos, end)
        if found < 0:
            return end
        pos = found + 1
    return pos


_RAW_TEXT = re.compile(r"<(script|style)\b")


def bound(html: str) -> str:
    """The prefix of html that is parsed: at most MAX_CHARS characters and MAX_TAGS tags
    outside <script> and <style> (a 3 MB inline script costs no text), MAX_RAW in all."""
    html = html[:MAX_RAW]
    if len(html) <= MAX_CHARS and html.count("<") <= MAX_TAGS:
        return html  # within both bounds even counting scripts: the common case
    lower = html.lower()
    chars, tags, pos = MAX_CHARS, MAX_TAGS, 0
    for match in _RAW_TEXT.finditer(lower):
        start = match.start()
        if start < pos:
            continue  # inside the script or style just skipped
        segment = html[pos:start]
        cut = _cut(segment, chars, tags)
        if cut is not None:
            return html[: pos + cut]
        chars, tags = chars - len(segment), tags - segment.count("<")
        close = lower.find("</" + match.group(1), start)
        if close < 0:
            return html  # an unclosed script: the rest of the page is its text
        pos = close
    cut = _cut(html[pos:], chars, tags)
    return html if cut is None else html[: pos + cut]


# The opening of a stretch the tree never needs: a script, a style sheet, an SVG drawing, a
# comment. Found by one regex search per stretch, closed by one str.find: linear in the page.
_UNUSED = re.compile(r"<(?:(script|style|svg)\b([^>]*)>|!--)", re.IGNORECASE)
_LD_JSON = re.compile(r"\btype\s*=\s*[\"']?application/ld\+json", re.IGNORECASE)


def strip_unused(html: str) -> str:
    """The page without the stretches that never reach the article or its metadata: scripts
    (but JSON-LD), style sheets, SVG drawings and comments. The parser then builds a third
    fewer objects (docs/cleaner.md). A stretch that is never closed is kept as it is, and
    so is everything after it: the parser reads it as it always did."""
    lower: str | None = None
    parts: list[str] = []
    pos = 0
    while True:
        match = _UNUSED.search(html, pos)
        if match is None:
            break
        name = match.group(1)
        if name is None:
            close = html.find("-->", match.end())
            end = close + 3 if close >= 0 else -1
        else:
            if lower is None:
                lower = html.lower()
            name = name.lower()
            close = lower.find("</" + name, match.end())
            end = lower.find(">", close) + 1 if close >= 0 else -1
        if end <= 0:
            break
        if name == "script" and _LD_JSON.search(match.group(2)):
            parts.append(html[pos:end])  # JSON-LD is kept whole
        else:
            parts.append(html[pos : match.start()])
        pos = end
    if not parts:
        return html
    parts.append(html[pos:])
    return "".join(parts)


# Left-out subtrees (DROP_TAGS) whose insides the tree is never asked about: only the
# element itself is built, and, in the ones read for metadata, its metadata elements.
_READ_FOR_META = frozenset({"nav", "footer", "figure"})
_NEVER_READ = frozenset(
    {"svg", "math", "select", "picture", "map", "iframe", "object", "canvas", "video", "audio"}
)
_META_NAMES = frozenset({"meta", "link", "script", "time", "title"})


class _HtmlBuilder(LXMLTreeBuilder):
    """BeautifulSoup's lxml HTML tree builder, lighter in two ways. It skips the namespace
    bookkeeping that an HTML parse never needs (lxml's HTML parser reports no namespaces).
    Inside a navigation bar, a footer or a figure it builds only the metadata elements
    (meta, link, script, time, title) and their text, and inside an SVG drawing, a form
    control, a media or embedded object nothing: the light tree leaves those subtrees out
    anyway. Together with plain attribute dicts this builds the tree in about half the time
    (docs/cleaner.md; tests/test_clean_dom.py compares it with BeautifulSoup's own).

    lxml reports every element's start and end, implied ends included, so a stack of
    "was it built" flags pairs each end with its start."""

    def initialize_soup(self, soup: BeautifulSoup) -> None:
        super().initialize_soup(soup)
        self._built: list[bool] = []  # per open element: whether the soup has it
        self._inside = 0  # open elements that make their insides skipped
        self._meta_only = 0  # of those, the ones whose metadata elements are built

    def start(self, tag: Any, attrib: Any, nsmap: Any = None) -> None:
        if self._inside and (self._meta_only < self._inside or tag not in _META_NAMES):
            self._built.append(False)
            return
        self._built.append(True)
        if tag in _READ_FOR_META:
            self._inside += 1
            self._meta_only += 1
        elif tag in _NEVER_READ:
            self._inside += 1
        self.soup.handle_starttag(tag, None, None, attrib)  # type: ignore[union-attr]

    def end(self, tag: Any) -> None:
        if not self._built.pop():
            return
        if tag in _READ_FOR_META:
            self._inside -= 1
            self._meta_only -= 1
        elif tag in _NEVER_READ:
            self._inside -= 1
        soup = self.soup
        soup.endData()  # type: ignore[union-attr]
        soup.handle_endtag(tag, None)  # type: ignore[union-attr]

    def data(self, data: Any) -> None:
        if not self._built or self._built[-1]:
            self.soup.handle_data(data)  # type: ignore[union-attr]

    def comment(self, text: Any) -> None:
        """Comments are never read (most are gone before the parse: strip_unused)."""


def soup_of(html: str) -> BeautifulSoup:
    """BeautifulSoup's tree of a page, built by _HtmlBuilder: attribute values as the page
    wrote them (no multi-valued class lists), in plain dicts."""
    builder = _HtmlBuilder(multi_valued_attributes=None, attribute_dict_class=AttributeDict)
    return BeautifulSoup(html, builder=builder)


def parse(html: str, rule: Any = None) -> PageIndex:
    """One BeautifulSoup parse (lxml's parser feeding BeautifulSoup's tree builder: no depth
    limit) of the bounded page without its unused stretches, turned into the light tree (the
    index's root) with the metadata of the subtrees left out. rule: a site rule
    (tasks.clean.sites), applied to the parsed page first; the containers it selects become
    index.forced."""
    soup = soup_of(strip_unused(_without_xml_declaration(bound(html))))
    index = PageIndex(El("[document]", {}, None))
    picked: list = []
    if rule is not None:
        rule.apply(soup)
        picked = rule.bodies(soup)
    _build(soup, index, {id(p) for p in picked})
    _tear_down(soup)
    return index


def _tear_down(soup: BeautifulSoup) -> None:
    """Break the parsed tree's links (parent, siblings, contents; the builder and its lxml
    parser) so that reference counting frees it at once. Left to the cyclic garbage
    collector, its ~2,000 objects a page were found again by each collection of a worker's
    heap: 20 % of the workers' CPU in the pipeline bench. BeautifulSoup's own decompose()
    follows the next_element chain, which _HtmlBuilder's tree does not keep."""
    builder = soup.builder
    stack: list = [soup]
    while stack:
        node = stack.pop()
        contents = node.__dict__.get("contents")
        if contents:
            stack.extend(contents)
        node.__dict__.clear()
    if builder is not None:
        builder.__dict__.clear()


def release(index: PageIndex) -> None:
    """Break the light tree's child-to-parent links once the page is read, so that reference
    counting frees it at once instead of the cyclic garbage collector (see _tear_down)."""
    stack: list = [index.soup]
    while stack:
        el = stack.pop()
        el.parent = None
        stack.extend(c for c in el.contents if type(c) is El)


_XML_DECLARATION = re.compile(r"\s*<\?xml\b[^>]*>")
_xml_noted = False


def _without_xml_declaration(html: str) -> str:
    """The page without a leading <?xml ...?> (the text is decoded already, so it says
    nothing more): BeautifulSoup would warn on stderr that an XML page is parsed as HTML,
    for every such page. The log says it instead, once per process."""
    global _xml_noted
    match = _XML_DECLARATION.match(html)
    if match is None:
        return html
    if not _xml_noted:
        _xml_noted = True
        log.info("a page is XML (parsed as HTML, as every page; said once per process)")
    return html[match.end() :]


def _build(soup: BeautifulSoup, index: PageIndex, picked: set[int]) -> None:
    """Build the light tree of the parsed page under the index's root, in document order;
    the subtrees that never hold article text are left out after their metadata is recorded
    (an iterative walk: 50,000 nested elements are fine)."""
    document = index.soup
    stack: list = list(zip(reversed(soup.contents), repeat(document)))
    while stack:
        node, parent = stack.pop()
        if isinstance(node, SoupTag):
            el = _enter(node, node.name, parent, index)
            if el is not None:
                parent.contents.append(el)
                if picked and id(node) in picked:
                    index.forced.append(el)
                stack.extend(zip(reversed(node.contents), repeat(el)))
        elif type(node) in _TEXT_TYPES and parent is not document:
            parent.contents.append(str(node))


_TEXT_TYPES = (NavigableString, CData)  # not comments, doctypes or processing instructions


_META_HOLDERS = frozenset({"head", "noscript", "template", "nav", "footer", "figure"})


# Small controls that an unclosed tag can make swallow the rest of the page (the parser nests
# everything after a "<button>" without its "</button>" inside it): dropped only when they
# hold no paragraph.
_INLINE_CHROME = frozenset({"button", "label", "menu"})


def _swallowed(tag: SoupTag) -> bool:
    """Whether a control holds paragraphs: page content the parser nested into it."""
    return tag.find("p") is not None


def _enter(tag: SoupTag, name: str, parent: El, index: PageIndex) -> El | None:
    """The El of a parsed element, or None when it is left out (its metadata recorded)."""
    if name in DROP_TAGS and not (name in _INLINE_CHROME and _swallowed(tag)):
        if name in ("script", "title"):
            _enter_meta(name, tag.attrs, index, tag.get_text())
        elif name in _META_HOLDERS:
            _walk_head(tag, index)
        return None
    if name in ("meta", "link"):
        _enter_meta(name, tag.attrs, index)
        return None
    attrs = _attrs(tag)
    if attrs and is_hidden(name, attrs):
        return None
    return El(name, attrs, parent)


def hint_of(tag: Tag) -> int:
    """+1 for class/id names of article containers, -1 for boilerplate, else 0."""
    attrs = tag.attrs
    if not attrs:
        return 0
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return 0 if len(names) < 2 else _hint_of_names(names)


@functools.lru_cache(maxsize=8192)
def _hint_of_names(names: str) -> int:
    """The hint of class and id names (cached: templates repeat a few names many times)."""
    names = names.lower().replace("_", "-")
    if _STRONG.search(names):
        return STRONG
    if _HIDDEN_CLASS.search(names):
        return -1
    positive, negative = _POSITIVE.search(names), _NEGATIVE.search(names)
    if positive:
        return MIXED if negative else 1
    return -1 if negative else 0


def is_hidden(name: str, attrs: dict[str, str]) -> bool:
    """Hidden from readers: the hidden attribute or an inline display:none."""
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" and name != "span":
        return True
    style = attrs.get("style")
    return style is not None and _HIDDEN_STYLE.search(style.lower()) is not None


def _enter_meta(
    name: str, attrs: Any, index: PageIndex, text: str | None = None, tag: Any = None
) -> None:
    """Record a metadata element (meta, link, JSON-LD, title, time; tag: the time's El, or
    the parsed element of a time in a left-out subtree)."""
    if name == "meta":
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = attrs.get("content")
        if key and content:
            index.metas.append((key.strip().lower(), content.strip()))
    elif name == "link":
        rel, href = attrs.get("rel"), attrs.get("href")
        if rel and href:
            index.links.append((rel.lower(), href.strip()))
    elif name == "script":
        if "ld+json" in (attrs.get("type") or "").lower():
            index.jsonld.append(text or "")
    elif name == "title":
        if index.title is None:
            index.title = text or ""
    elif name == "time":
        when = attrs.get("datetime") or attrs.get("content")
        if when:
            index.times.append(
                (when.strip(), f"{attrs.get('itemprop') or ''} {attrs.get('class') or ''}")
            )
            index.time_tags.append(tag if isinstance(tag, El) else _shadow(tag, attrs))


def _attrs(tag: SoupTag) -> dict[str, str]:
    """A copy of the element's attributes: every value a str, as the page wrote it (parsed
    with multi_valued_attributes=None)."""
    return cast(dict[str, str], dict(tag.attrs))


def _walk_head(tag: SoupTag, index: PageIndex) -> None:
    """Collect the metadata elements of a left-out subtree (usually <head>)."""
    for el in tag.find_all(("meta", "link", "script", "title", "time"), limit=5000):
        _enter_meta(el.name, el.attrs, index, el.get_text(), el)


def _shadow(tag: SoupTag | None, attrs: Any) -> El:
    """A detached El for a <time> outside the light tree, with copies of its parsed
    ancestors as parents, so that dates can tell a footer's date by its context."""
    el = El("time", dict(attrs.items()) if attrs is not None else {}, None)
    tail, up = el, tag.parent if tag is not None else None
    for _ in range(12):
        if up is None or up.name == "[document]":
            break
        tail.parent = El(up.name, _attrs(up), None)
        tail, up = tail.parent, up.parent
    return el


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
        _enter_meta(name, tag.attrs, index, None, tag)
    is_para = name in PARA_TAGS
    if node.own >= MIN_PARAGRAPH and not is_para:
        node.direct += 1 + node.commas * 0.5 + min(node.own / 100, 3)
    if (node.hint < 0 or name in SOFT_TAGS) and name not in PROTECTED and _chrome(node):
        node.pruned = True
        if (node.direct or node.grand) and node.hint != STRONG:
            index.pruned_candidates.append(tag)  # for a short story (tasks.clean.body)
        return
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


def walk(index: PageIndex) -> PageIndex:
    """The single post-order walk of the light tree: stats, pruning, body metadata."""
    nodes = index.nodes
    root = index.soup
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
            if type(child) is str:
                length = len(child.strip())
                if length:
                    node.text += length
                    node.own += length
                    node.commas += child.count(",")
                    if not child.isascii():
                        node.commas += sum(child.count(c) for c in COMMA_CHARS[1:])
                    if (
                        length <= DATE_TEXT_MAX
                        and _DIGIT.search(child)
                        and _DATEISH.search(child)
                        and len(index.date_texts) < DATE_TEXTS_MAX
                    ):
                        index.date_texts.append((child, tag, entered))
                continue
            nodes[id(child)] = Node(hint=hint_of(child))
            name = child.name
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
