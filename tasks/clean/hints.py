"""Structured hints for the article body: the JSON-LD ``articleBody`` and protected containers.

Owned here: comparing text with the page's JSON-LD ``articleBody`` (sets of 4-word shingles),
choosing among candidate containers the one whose text agrees with it, finding subtrees that
the walk pruned by a class/id hint but that hold story text (text the articleBody contains,
or paragraphs inside a container marked itemprop=articleBody or chosen by a site rule), and
the articleBody itself split into paragraphs, the fallback when the page has no usable
container. Pure functions over the walked page; the page's own paragraphs are always
preferred to the JSON-LD text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tasks.clean.dom import SOFT_TAGS, STRONG, PageIndex, Tag

LD_MIN_CHARS = 200  # a shorter articleBody is a description, not the story
LD_AGREE = 0.5  # shingle F1 with articleBody for a container to "agree" with it
LD_CONTAINED = 0.8  # share of a pruned subtree's shingles in articleBody that saves it
PROTECT_MAX_LINKS = 0.25  # link density above which a hinted subtree stays pruned
PROTECT_MIN = 80  # paragraph characters of a hinted subtree that a protected container keeps
_WORD = re.compile(r"\w+")

Render = Callable[[list[Tag], PageIndex, frozenset[int]], str]


def shingles(text: str) -> set[tuple[str, ...]]:
    """The set of 4-word shingles of a text (a text of 1-3 words is one shingle)."""
    words = _WORD.findall(text.lower())
    if len(words) < 4:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:], words[3:], strict=False))


@dataclass(frozen=True)
class LdBody:
    """The JSON-LD articleBody of a page and its shingles."""

    text: str
    grams: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, value: object) -> LdBody | None:
        """An LdBody from a JSON-LD value, or None when it is missing, short or HTML."""
        if not isinstance(value, str) or len(value.strip()) < LD_MIN_CHARS or "</" in value:
            return None
        return cls(value, frozenset(shingles(value)))

    def contained(self, text: str) -> float:
        """The share of text's shingles that the articleBody holds (0.0 for no text)."""
        grams = shingles(text)
        return len(grams & self.grams) / len(grams) if grams else 0.0

    def f1(self, text: str) -> float:
        """How well text and the articleBody agree: F1 of their shingle sets."""
        grams = shingles(text)
        common = len(grams & self.grams)
        return 2 * common / (len(grams) + len(self.grams)) if common else 0.0

    def paragraphs(self) -> str:
        """The articleBody as a body: its lines as paragraphs, whitespace folded."""
        lines = (" ".join(line.split()) for line in self.text.splitlines())
        return "\n\n".join(line for line in lines if line)


def agreeing(options: Iterable[Tag], index: PageIndex, ld: LdBody, render: Render) -> Tag | None:
    """Among live candidate containers, the one that best agrees with the articleBody (F1 of
    at least LD_AGREE), or None."""
    best, best_f1 = None, LD_AGREE
    for tag in options:
        f1 = ld.f1(render([tag], index, frozenset()))
        if f1 > best_f1:
            best, best_f1 = tag, f1
    return best


def is_protected(tag: Tag | None, index: PageIndex) -> bool:
    """Whether tag is (or sits in) an itemprop=articleBody container."""
    for _ in range(6):
        if tag is None or index.nodes.get(id(tag)) is None:
            return False
        if tag.attrs.get("itemprop") == "articleBody":
            return True
        tag = tag.parent
    return False


def _pruned_within(tags: list[Tag], index: PageIndex) -> Iterable[Tag]:
    """The outermost pruned subtrees inside the chosen containers."""
    stack = list(tags)
    while stack:
        tag = stack.pop()
        for child in tag.children:
            if isinstance(child, str):
                continue
            node = index.nodes.get(id(child))
            if node is None:
                continue
            if node.pruned:
                yield child
            else:
                stack.append(child)


def _hint_pruned(tag: Tag, index: PageIndex) -> bool:
    """Pruned for its class/id name only (not a comment thread, not an aside/form/header)."""
    node = index.nodes[id(tag)]
    return node.hint < 0 and node.hint != STRONG and tag.name not in SOFT_TAGS


def _story_text(tag: Tag, index: PageIndex) -> bool:
    """A hinted subtree of a protected container that reads as paragraphs, not links."""
    node = index.nodes[id(tag)]
    return node.ptext >= PROTECT_MIN and node.link_density < PROTECT_MAX_LINKS


def _saved(tag: Tag, index: PageIndex, ld: LdBody | None, protect: bool, render: Render) -> bool:
    """Whether a hint-pruned subtree is story text: paragraphs in a protected container, or
    text the articleBody holds."""
    if protect and _story_text(tag, index):
        return True
    return ld is not None and ld.contained(render([tag], index, frozenset({id(tag)}))) >= (
        LD_CONTAINED
    )


def rescued(
    chosen: list[Tag], index: PageIndex, ld: LdBody | None, protect: bool, render: Render
) -> frozenset[int]:
    """Ids of pruned subtrees inside the chosen containers that are story text after all:
    mostly contained in the articleBody, or paragraphs under a protected container."""
    protect = protect or any(is_protected(t, index) for t in chosen)
    if ld is None and not protect:
        return frozenset()
    keep = set()
    for tag in _pruned_within(chosen, index):
        if _hint_pruned(tag, index) and _saved(tag, index, ld, protect, render):
            keep.add(id(tag))
    return frozenset(keep)
