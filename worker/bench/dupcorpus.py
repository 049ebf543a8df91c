"""The corpus of `newsworker bench dedupe` (pure functions): stories taken from the dev pages'
ground-truth bodies, the copies partner sites make of them (the edits of issue 13 and a few
more), and the pairs that must never be linked (distinct stories, one template around
different stories, two outlets' own reports of one event, short stories on one template).

Every edit is deterministic for a given random generator, so the figures repeat.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from tasks.dedupe.fingerprint import tokens

SHORT_WORDS = 80  # as tasks.dedupe.duplicates.NEAR_DUP_MIN_WORDS
OUTLETS = ("The Daily Ledger", "Metro Courier", "Valley Herald", "Coast Gazette", "Wire Service")
NEW_LEADS = (
    "Here is what we know so far about a story that drew wide attention this week.",
    "Officials and observers spent the day weighing what the news means for readers.",
    "A story that has been developing for days took another turn on Monday.",
    "Readers have been asking about this since the first reports came in.",
)
NEW_HEADLINES = ("What we know about", "Explainer:", "Update:", "Analysis:")
DATELINES = ("NEW YORK (Wire) \u2014 ", "LONDON (Wire) \u2014 ", "PARIS (AP) \u2014 ")
SITE_HEADER = (
    "Advertisement",
    "Share this article on Facebook, Twitter and by email",
)
SITE_FOOTER = (
    "Sign up for our morning newsletter and get the day's most important stories delivered "
    "to your inbox before breakfast, free of charge.",
    "Copyright 2019 The Daily Ledger. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed without permission.",
)
_SENTENCE = re.compile(r"(?<=[.!?\u3002])\s+")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    units: tuple[str, ...]  # paragraphs (or sentences of a body without paragraphs)

    @property
    def body(self) -> str:
        return "\n\n".join(self.units)


def units_of(body: str) -> tuple[str, ...]:
    """Paragraphs of a body; sentences when it has fewer than four paragraphs."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n", body) if p.strip()]
    if len(paragraphs) >= 4:
        return tuple(paragraphs)
    sentences = [s.strip() for p in paragraphs for s in _SENTENCE.split(p) if s.strip()]
    return tuple(sentences or paragraphs)


def story_from_truth(key: str, body: str, title: str) -> Story:
    units = units_of(body)
    return Story(key, title or (units[0][:80] if units else key), units)


# --- copies: each edit takes a story, a generator and the other stories -----------------------


def lead_credit(s: Story, rng: random.Random, _others: list[Story]) -> Story:
    """Lead sentence replaced, credit line appended."""
    first = _SENTENCE.split(s.units[0], maxsplit=1)
    lead = rng.choice(NEW_LEADS) + (" " + first[1] if len(first) > 1 else "")
    credit = f"This story was first published by {rng.choice(OUTLETS)}."
    return replace(s, units=(lead, *s.units[1:], credit))


def trimmed(s: Story, rng: random.Random, _others: list[Story]) -> Story:
    """Last paragraphs dropped (a quarter to a third), "Read the full story at" appended."""
    keep = max(2, math.ceil(len(s.units) * rng.uniform(0.67, 0.75)))
    more = f"Read the full story at {rng.choice(OUTLETS)}."
    return replace(s, units=(*s.units[:keep], more))


def headline_note_related(s: Story, rng: random.Random, others: list[Story]) -> Story:
    """New headline, editor's note on top, two "Related:" lines inside."""
    a, b = rng.sample(others, 2)
    units = list(s.units)
    units.insert(min(4, len(units)), f"Related: {b.title}")
    units.insert(min(2, len(units)), f"Related: {a.title}")
    note = "Editor's note: this story was updated with additional reporting and reaction."
    title = f"{rng.choice(NEW_HEADLINES)} {' '.join(s.title.split()[:5])}"
    return Story(s.key, title, (note, *units))


def dateline_quotes_merged(s: Story, rng: random.Random, _others: list[Story]) -> Story:
    """Dateline added, quotes straightened, paragraphs merged in pairs."""
    units = [u.translate(_QUOTES) for u in s.units]
    merged = [" ".join(units[i : i + 2]) for i in range(0, len(units), 2)]
    merged[0] = rng.choice(DATELINES) + merged[0]
    return replace(s, units=tuple(merged))


def copyedit(s: Story, rng: random.Random, _others: list[Story]) -> Story:
    """One word in 25 replaced by another word of the story (a copy editor's touch)."""
    pool = s.body.split()

    def edit(unit: str) -> str:
        return " ".join(rng.choice(pool) if rng.random() < 0.04 else w for w in unit.split())

    return replace(s, units=tuple(edit(u) for u in s.units))


def partner_template(s: Story, _rng: random.Random, _others: list[Story]) -> Story:
    """The partner's page chrome leaked into the body: share lines, newsletter, copyright."""
    return replace(s, units=(*SITE_HEADER, *s.units, *SITE_FOOTER))


def heavy(s: Story, rng: random.Random, others: list[Story]) -> Story:
    """Lead replaced, trimmed, dateline and merged paragraphs, all at once."""
    return dateline_quotes_merged(trimmed(lead_credit(s, rng, others), rng, others), rng, others)


def excerpt(s: Story, rng: random.Random, _others: list[Story]) -> Story:
    """Only the first 40 % and "Continue reading": usually below J 0.6 (not a goal)."""
    keep = max(1, round(len(s.units) * 0.4))
    return replace(s, units=(*s.units[:keep], f"Continue reading at {rng.choice(OUTLETS)}."))


EDITS: dict[str, Callable[[Story, random.Random, list[Story]], Story]] = {
    "lead replaced + credit line": lead_credit,
    "trimmed + Read the full story": trimmed,
    "new headline + note + Related:": headline_note_related,
    "dateline + quotes + merged": dateline_quotes_merged,
    "copy-edited (1 word in 25)": copyedit,
    "partner template around it": partner_template,
    "all of lead/trim/dateline": heavy,
    "excerpt (first 40 %)": excerpt,
}


# --- pairs that must not be linked -------------------------------------------------------------


def same_template(stories: list[Story]) -> list[Story]:
    """Every story inside one site's chrome (header and footer lines)."""
    return [replace(s, units=(*SITE_HEADER, *s.units, *SITE_FOOTER)) for s in stories]


def own_report(event: Story, outlet: Story) -> Story:
    """Another outlet's own report of ``event``: its own text (``outlet``'s body), the event's
    headline words in its lead and the event's two longest sentences quoted."""
    sentences = sorted((x for u in event.units for x in _SENTENCE.split(u)), key=len, reverse=True)[
        :2
    ]
    units = list(outlet.units)
    units[0] = f"{event.title}: {units[0]}"
    units[1:1] = [f'"{q}"' for q in sentences]
    return Story(f"{outlet.key}~{event.key}", outlet.title, tuple(units))


def short_story(s: Story, words: int = 45) -> Story | None:
    """The first ``words`` words of a story as a short story (None when still long)."""
    text = " ".join(s.body.split()[:words])
    return Story(s.key, s.title, (text,)) if len(tokens(text)) < SHORT_WORDS else None


def short_copies(s: Story, rng: random.Random) -> dict[str, Story]:
    """Copies of a short story: credit line appended and chrome added keep title and lead."""
    credit = f"This story was first published by {rng.choice(OUTLETS)}."
    return {
        "short: credit line": replace(s, units=(*s.units, credit)),
        "short: chrome lines": replace(s, units=(SITE_HEADER[1], *s.units, SITE_FOOTER[0])),
    }


def short_same_template(stories: list[Story]) -> list[Story]:
    """Short stories on one template: the same chrome lines around each (a local site)."""
    return [replace(s, units=(*s.units, SITE_FOOTER[0], SITE_FOOTER[1])) for s in stories]
