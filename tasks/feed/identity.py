"""Entry identity and order within one feed document (pure).

The identity chain, in order (hashed by tasks.dedupe.entry_key):

1. the GUID / Atom id / JSON Feed id, when it is unique within the document;
2. GUID + canonical link, when the document gives the same GUID to several entries. Some
   CMSes put one constant (the site URL, "0", a template placeholder) in every <guid>; the
   GUID alone would then collapse distinct stories into one and all but the first would be
   lost as "seen". The link is what tells such entries apart (GUID + title + date when an
   entry has no link either);
3. the canonical link, when there is no GUID;
4. title + published date, when there is neither.

A feed that stops repeating its GUIDs changes those entries' keys once; the content hash
(tasks.dedupe) keeps that from storing a story twice.
"""

from __future__ import annotations

from collections import Counter

from tasks.dedupe import canonical_url, entry_key
from tasks.feed.text import RawEntry, timestamp
from tasks.models import FeedEntry


def assign_keys(entries: list[RawEntry]) -> list[tuple[str, RawEntry]]:
    """(key, entry) for each entry, in document order."""
    counts = Counter(e.entry_id for e in entries if e.entry_id)
    return [(key_of(e, repeated=counts[e.entry_id or ""] > 1), e) for e in entries]


def key_of(e: RawEntry, *, repeated: bool = False) -> str:
    """The identity hash of one entry (see the module docstring for the chain)."""
    if e.entry_id and repeated:
        tail = canonical_url(e.link) if e.link else f"{e.title or ''}|{e.published or ''}"
        return entry_key(f"{e.entry_id}|{tail}", None, None, None)
    return entry_key(e.entry_id, e.link, e.title, e.published)


def oldest_first(entries: list[FeedEntry]) -> list[FeedEntry]:
    """By date when every entry has one (stable for ties), else the document order reversed
    (feeds list the newest first)."""
    times = [timestamp(e.published or e.updated) for e in entries]
    if entries and all(t is not None for t in times):
        order = sorted(range(len(entries)), key=lambda i: (times[i], -i))
        return [entries[i] for i in order]
    return entries[::-1]
