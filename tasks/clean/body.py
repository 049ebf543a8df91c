"""The article body: choosing the container of the text, and rendering its paragraphs.

Owned here: scoring the candidate containers the walk (tasks.clean.dom) found, agreeing with
structured hints (<article>, itemprop=articleBody), taking in sibling blocks that belong to
the story, and one linear pass over the chosen subtrees that renders paragraphs in reading
order (sub-headings as their own paragraphs, list items one per line, whitespace folded),
leaving out link lists and one-line chrome. Reads the tree; never changes it.
"""

from __future__ import annotations

import re

from tasks.clean.dom import PARA_TAGS, STRONG, Node, PageIndex, Tag
from tasks.clean.hints import LdBody, agreeing, rescued

BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "table",
        "tr",
        "td",
        "th",
        "hr",
        "header",
        "aside",
        "form",
        "center",
        "address",
        "details",
        "summary",
        "caption",
    }
)
_STANDALONE = BLOCK_TAGS - PARA_TAGS - {"li", "td", "th", "dd"}
LINK_LIST_DENSITY = 0.5  # containers and lists with more link text than this are skipped
MAX_PARA_LINK_DENSITY = 0.6
MIN_ITEM_PROSE = 25  # non-link characters that keep a list item whatever its links
CONTINUE_MIN = 200  # paragraph characters of a sibling block that continues the story
CONTINUE_LEVELS = 6  # wrappers climbed from the container to look for continuations
STORY_WORDS = 40  # a text of this many words is a story, however short its page's template
SHORT_LINKS = 0.35  # link density above which a container is no short story
_CHROME = re.compile(
    r"^(advertisement|advertising|ad|sponsored|share|share this|share on \w+|tweet|email|"
    r"print|comments?|related|related articles|related stories|read more|more|continue "
    r"reading|see also|follow us.*|sign up.*|subscribe.*|click here.*|photo|image|"
    r"loading\W*|scroll to continue.*|story continues below.*|skip to .*|"
    r"this article was .*|copyright .*|© .*|all rights reserved.*)\W*$",
    re.IGNORECASE,
)

# A site's standing invitations that close a story: follow us, write a letter, newsletter,
# send a tip. Only taken off the end (the story may quote such words), when short.
_BLURB = re.compile(
    r"\b(follow|like|join|find|connect with)\b.{0,120}\b(facebook|twitter|instagram|linkedin|"
    r"youtube|tiktok|threads|bluesky|mastodon|whatsapp|telegram)\b|"
    r"\bletters? to the editor\b|\b(submit|send|write|email|e-mail)\b.{0,40}\bletters?\b|"
    r"\bwe welcome (your )?(letters|comments|views)\b|\bhave your say\b|"
    r"\b(sign up|subscribe)\b.{0,60}\bnewsletters?\b|"
    r"\b(got|have) a (news )?tip\b|\bsend (us )?(your )?(news )?tips?\b|"
    r"\b(like|liked|enjoy|enjoyed) this (story|article|post)\b|\bshare (it|this)\b.{0,30}\bwith\b|"
    r"\b(comment|coment|kommentar|commentaire|comentario)\w*\b.{0,120}\bmodera|"
    r"\b(to|in|into|meet) your inbox\b|"
    r"\b(folgen sie uns|folge uns|suivez[- ]nous|síguenos|siga-nos|seguici|seguiteci|volg ons)\b|"
    r"\b(abonnieren|abonnez|inscrivez|suscríbete|iscriviti|assine|schrijf je in)\b.{0,60}"
    r"\b(newsletter|boletín|infolettre|nieuwsbrief)\b",
    re.IGNORECASE,
)
_LEAD = re.compile(r"(^|[-_ ])(lead|standfirst|summary|intro|dek|excerpt|abstract)($|[-_ ])", re.I)
_DATE_PROPS = frozenset({"datePublished", "dateModified", "dateCreated", "uploadDate"})
BLURB_MAX = 400  # characters: a longer closing paragraph is story text
BLURB_LINES = 4  # closing paragraphs looked at


def trim_blurbs(body: str) -> str:
    """body without the site blurbs that close it (see _BLURB); the first paragraph stays."""
    paragraphs = body.split("\n\n")
    for _ in range(BLURB_LINES):
        last = paragraphs[-1]
        if len(paragraphs) < 2 or len(last) > BLURB_MAX or not _BLURB.search(last):
            break
        paragraphs.pop()
    return "\n\n".join(paragraphs)


def score(node: Node) -> float:
    """How much a container looks like the article's: its paragraphs, less its links."""
    return (node.direct + node.grand / 2) * (1 - node.link_density) + 3 * max(node.hint, 0)


def _alive(tag: Tag | None, index: PageIndex) -> bool:
    """Whether no ancestor of tag was pruned (its text really is on the page)."""
    while tag is not None:
        node = index.nodes.get(id(tag))
        if node is None or node.pruned:
            return False
        tag = tag.parent
    return True


def best_candidate(index: PageIndex) -> Tag | None:
    """The highest-scoring live container, or None when the page has no paragraphs."""
    ranked = sorted(index.candidates, key=lambda t: score(index.nodes[id(t)]), reverse=True)
    for tag in ranked[:20]:
        if _alive(tag, index):
            return tag
    return None


def _structured(best: Tag, index: PageIndex) -> Tag:
    """The nearest <article>/itemprop=articleBody ancestor of best, when it agrees with it."""
    hints = {id(h) for h in index.body_hints}
    ancestor = best
    for tag in list(best.parents)[:4]:
        if id(tag) in hints:
            ancestor = tag
    node = index.nodes[id(ancestor)]
    return ancestor if node.link_density < 0.3 else best


def _sibling_ok(sib: Tag, node: Node, threshold: float) -> bool:
    """Whether a sibling of the chosen container belongs to the story too."""
    if score(node) >= threshold:
        return True
    if sib.name not in PARA_TAGS:
        return _lead(sib, node)
    if node.text >= 80:
        return node.link_density < 0.25
    return node.links == 0 and node.text > 0


def _lead(sib: Tag, node: Node) -> bool:
    """A story's lead (standfirst, summary) beside its body: named so, a sentence or more of
    text, hardly any links."""
    names = f"{sib.attrs.get('class') or ''} {sib.attrs.get('id') or ''}"
    return node.text >= 80 and node.link_density < 0.1 and _LEAD.search(names) is not None


def _ld_options(index: PageIndex) -> list[Tag]:
    """Live containers worth comparing with the articleBody: the best-scored and the hints."""
    ranked = sorted(index.candidates, key=lambda t: score(index.nodes[id(t)]), reverse=True)
    options = ranked[:8] + [h for h in index.body_hints if id(h) in index.nodes]
    return [t for t in dict.fromkeys(options) if _alive(t, index)]


def _choose(index: PageIndex, ld: LdBody | None) -> Tag | None:
    """The story's container: the one agreeing with the articleBody, else the best-scored
    one (moved up to an agreeing <article>/itemprop=articleBody)."""
    if ld is not None:
        agreed = agreeing(_ld_options(index), index, ld, render)
        if agreed is not None:
            return agreed
    best = best_candidate(index)
    return None if best is None else _structured(best, index)


def containers(index: PageIndex, ld: LdBody | None = None) -> list[Tag]:
    """The chosen container and the sibling blocks that belong with it, in page order."""
    best = _choose(index, ld)
    if best is None:
        return []
    chosen = _with_siblings(best, index)
    if ld is not None:
        chosen = [t for t in chosen if t is best or ld.contained(render([t], index)) >= 0.5]
    return _continued(best, chosen, index)


def _with_siblings(best: Tag, index: PageIndex) -> list[Tag]:
    """best and its sibling blocks that belong to the story too, in page order."""
    parent = best.parent
    if parent is None or parent.name == "[document]":
        return [best]
    threshold = max(10.0, score(index.nodes[id(best)]) * 0.2)
    chosen = []
    for sib in parent.children:
        if sib is best:
            chosen.append(sib)
        elif not isinstance(sib, str):
            node = index.nodes.get(id(sib))
            if node is not None and not node.pruned and _sibling_ok(sib, node, threshold):
                chosen.append(sib)
    return chosen


def _same_kind(a: Tag, b: Tag) -> bool:
    """Blocks of one template: same tag name and the same non-empty class attribute."""
    return (
        a.name == b.name
        and bool(a.attrs.get("class"))
        and a.attrs.get("class") == (b.attrs.get("class"))
    )


def _dense(node: Node | None) -> bool:
    """A block of story paragraphs: enough paragraph text, few links."""
    if node is None or node.pruned or node.ptext < CONTINUE_MIN:
        return False
    return node.ptext >= 0.7 * node.text and node.link_density < 0.25


def _continued(best: Tag, chosen: list[Tag], index: PageIndex) -> list[Tag]:
    """chosen, plus the sibling blocks of the same template that continue the story (a story
    split into several containers): looked for at best's level and at the wrappers around it
    that hold nothing much else."""
    nodes, tag = index.nodes, best
    size = nodes[id(best)].text
    for _ in range(CONTINUE_LEVELS):
        parent = tag.parent
        if parent is None or parent.name in ("[document]", "html", "body"):
            break
        more = [
            s
            for s in parent.children
            if isinstance(s, Tag)
            and s is not tag
            and _same_kind(s, tag)
            and _dense(nodes.get(id(s)))
        ]
        if more:
            return [
                t
                for s in parent.children
                if s is tag or s in more
                for t in (chosen if s is tag else [s])
            ]
        if nodes[id(parent)].text > 1.25 * size:
            break
        tag = parent
    return chosen


class _Renderer:
    """Collects text pieces between block boundaries and turns them into paragraphs."""

    def __init__(self) -> None:
        self.paragraphs: list[tuple[str, str]] = []  # (kind, text); kind "li" for list items
        self.pieces: list[str] = []
        self.link_chars = 0

    def add(self, text: str, in_link: bool) -> None:
        self.pieces.append(text)
        if in_link:
            self.link_chars += len(text.strip())

    def flush(self, kind: str = "p") -> None:
        if not self.pieces:
            return
        raw, links = "".join(self.pieces), self.link_chars
        self.pieces, self.link_chars = [], 0
        size = len(raw.strip())
        prose = kind == "li" and size - links >= MIN_ITEM_PROSE
        for chunk in _split(raw):
            if prose or _keep(chunk, links / max(size, 1)):
                self.paragraphs.append((kind, chunk))

    def text(self) -> str:
        out: list[str] = []
        previous = ""
        for kind, para in self.paragraphs:
            if kind == "li" and previous == "li":
                out[-1] += "\n" + para
            else:
                out.append(para)
            previous = kind
        return "\n\n".join(out)


def _split(raw: str) -> list[str]:
    """Paragraphs of a block: an empty line (<br><br>) splits, a single <br> is a line break;
    whitespace folded inside each line."""
    paragraphs, lines = [], []
    for line in raw.split("\n"):
        line = " ".join(line.split())  # every Unicode space folded (str.split is C)
        if line:
            lines.append(line)
        elif lines:
            paragraphs.append("\n".join(lines))
            lines = []
    if lines:
        paragraphs.append("\n".join(lines))
    return paragraphs


def _keep(para: str, link_density: float) -> bool:
    """Whether a rendered block is article text (not a link line or one-line chrome)."""
    if link_density > MAX_PARA_LINK_DENSITY:
        return False
    return not (len(para) < 60 and _CHROME.match(para))


def _fold(text: str) -> str:
    """Source newlines are spaces: only <br> makes a line break."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")


def _link_block(tag: Tag, node: Node) -> bool:
    """A block that is mostly links (a link list, a menu): left out whole. A list item, or
    a list whose items, with a sentence of their own besides their links (a listicle), is not
    one."""
    name = tag.name
    if name in PARA_TAGS or not node.text or node.link_density <= LINK_LIST_DENSITY:
        return False
    prose = node.text - node.links
    if name == "li":
        return prose < MIN_ITEM_PROSE
    if name in ("ul", "ol"):
        items = sum(1 for child in tag.children if getattr(child, "name", None) == "li")
        return prose < MIN_ITEM_PROSE * max(items, 1)
    return True


def render(tags: list[Tag], index: PageIndex, keep: frozenset[int] = frozenset()) -> str:
    """The paragraphs of the chosen subtrees, in reading order, joined by blank lines;
    pruned subtrees are left out, except those whose ids are in keep."""
    out = _Renderer()
    nodes = index.nodes
    stack: list = [(t, False) for t in reversed(tags)]
    in_link = 0
    while stack:
        tag, leaving = stack.pop()
        if leaving:
            in_link -= tag.name == "a"
            if tag.name in BLOCK_TAGS:
                out.flush("li" if tag.name == "li" else "p")
            continue
        if type(tag) is str:
            out.add(_fold(tag), in_link > 0)
            continue
        node = nodes.get(id(tag))
        if node is None or node.pruned and id(tag) not in keep:
            continue
        name = tag.name
        if name == "br":
            out.add("\n", False)
            continue
        if name == "time" and tag.parent is not None and tag.parent.name in _STANDALONE:
            continue  # a timestamp on its own line is a dateline, not text
        if tag.attrs.get("itemprop") in _DATE_PROPS:
            continue  # an element marked as the page's date is metadata, not text
        if name in BLOCK_TAGS:
            out.flush()
            if _link_block(tag, node):
                continue
        in_link += name == "a"
        stack.append((tag, True))
        stack.extend((c, False) for c in reversed(tag.contents))
    out.flush()
    return out.text()


def extract_body(
    index: PageIndex,
    title: str = "",
    ld: LdBody | None = None,
    forced: list[Tag] | None = None,
    site: str = "",
) -> str:
    """The article text of a walked page ("" when no container of paragraphs is found);
    a first paragraph repeating the headline is left out, and so are the site's name, its
    closing blurbs and byline lines at either end. ld: the JSON-LD articleBody, a hint (and
    the fallback when the page shows no usable container); forced: the containers a site
    rule selected; site: the site's name."""
    chosen = forced or containers(index, ld)
    keep = rescued(chosen, index, ld, bool(forced), render) if chosen else frozenset()
    body = render(chosen, index, keep) if chosen else ""
    if ld is not None and _unusable(body, ld):
        return ld.paragraphs()
    words = len(body.split())
    if not forced and words < STORY_WORDS:
        found = short_story(index)
        body = found if len(found.split()) >= 2 * words else body  # a short story stays
    return _trim_ends(trim_blurbs(body), title, site)


def _trim_ends(body: str, title: str, site: str) -> str:
    """body without a first paragraph repeating the headline, paragraphs that are the
    site's name, and byline lines (date, author, labels) among the first and last two."""
    paragraphs = body.split("\n\n")
    if len(paragraphs) < 2:
        return body
    if title and _squash(paragraphs[0]) == _squash(title):
        paragraphs = paragraphs[1:]
    site_key, longest = _squash(site), 2 * len(site) + 8
    if site_key:
        paragraphs = [
            p for p in paragraphs if len(p) > longest or _squash(p) != site_key
        ] or paragraphs
    ends = {0, 1, len(paragraphs) - 2, len(paragraphs) - 1}
    kept = [p for i, p in enumerate(paragraphs) if i not in ends or not byline_line(p)]
    return "\n\n".join(kept or paragraphs)


_DATE = re.compile(
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|"
    r"\b\d{1,2}\.?\s+[a-zà-ü]{3,9}\.?\s+\d{4}\b|\b[a-z]{3,9}\.?\s+\d{1,2},?\s+\d{4}\b",
    re.IGNORECASE,
)
_BYLINE_LABEL = re.compile(
    r"\b(posted|published|publicado|publié|publicada|pubblicato|veröffentlicht|written|"
    r"updated|atualizado|actualizado)\b(\s+(by|por|par|von|da|on|em|el|le|am))?\s*:?|"
    r"^\s*(by|por|par|von)\s+(?-i:[A-ZÀ-Þ])|"
    r"\b(tags?|categor[a-zíé]*|filed under|section|se[cç][cç][aã]o)\s*:",
    re.IGNORECASE,
)
BYLINE_MAX = 200  # characters: a longer line is text
_NAME = (
    r"[A-ZÀ-Þ][\w.'’-]*(\s+((de|da|di|van|von|der|del|la|le|los)\s+){0,2}[A-ZÀ-Þ][\w.'’-]*){0,3}"
)
# "By Phil Helsel", "Por Ana Gómez y Luis Ruiz": a line that is only a byline.
_BY_NAME = re.compile(
    rf"^(?i:by|por|par|von|di|door)\s+{_NAME}(\s*(,|and|&|y|et|und|e)\s+{_NAME})*$"
)


def byline_line(text: str) -> bool:
    """Whether a paragraph is a byline or dateline: short, with a date and a label such as
    "Published by", "Tags:" (two marks: a sentence may hold one)."""
    if len(text) > BYLINE_MAX:
        return False
    if _BY_NAME.match(text):
        return True
    marks = bool(_DATE.search(text)) + len(_BYLINE_LABEL.findall(text))
    return marks >= 2


def _softly_pruned(tag: Tag, index: PageIndex) -> bool:
    """Whether every pruned ancestor of tag was pruned for its name or kind (a wrapper named
    "date-outer", a <form> or <aside>, a listing), none as a comment thread."""
    for anc in tag.parents:
        node = index.nodes.get(id(anc))
        if node is None:
            return False
        if node.pruned and node.hint == STRONG:
            return False
    return True


def short_story(index: PageIndex) -> str:
    """The best container of paragraphs that the pruning took out with a wrapper, when it
    holds a story of STORY_WORDS words or more and few links: a short story on a template
    whose wrappers look like chrome (a blog's "date-outer", an ASP.NET <form>), which needs
    more paragraph text (SOFT_KEEP) than a short story has to stay. "" when there is none."""
    options = index.candidates + index.pruned_candidates
    ranked = sorted(options, key=lambda t: score(index.nodes[id(t)]), reverse=True)
    for tag in ranked[:10]:
        node = index.nodes[id(tag)]
        if node.link_density > SHORT_LINKS or not _softly_pruned(tag, index):
            continue
        text = render([tag], index, frozenset({id(tag)}) if node.pruned else frozenset())
        if len(text.split()) >= STORY_WORDS and not (len(text) < 800 and _BLURB.search(text)):
            return text  # (a site's appeal to follow or subscribe is no story)
    return ""


def _unusable(body: str, ld: LdBody) -> bool:
    """Whether the page's body is nothing next to the articleBody (no container, a teaser)."""
    return len(body) < min(300, len(ld.text) // 4)


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())
