"""Fingerprints of article bodies (pure functions): the normalized body, its content hash,
word shingles and SimHash, and the part of a body a near-duplicate fingerprint is taken from.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_body(body: str) -> str:
    """The body as compared for duplicates: NFKC, lower case, whitespace folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", body).lower()).strip()


def content_hash(body: str) -> str:
    """Hash of the normalized body (change and duplicate detection)."""
    return hashlib.sha256(normalize_body(body).encode("utf-8")).hexdigest()[:32]


# --- near-duplicates -------------------------------------------------------------------------

SHINGLE = 3  # words per shingle
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(normalize_body(text))


def _feature_hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "big")


def simhash(text: str, shingle: int = SHINGLE) -> int:
    """64-bit SimHash (Charikar) over the set of word shingles of the normalized text: bit b
    is set when more than half of the shingle hashes have it set."""
    tokens = words(text)
    grams = {" ".join(tokens[i : i + shingle]) for i in range(max(1, len(tokens) - shingle + 1))}
    # Counted per column of the hashes written in binary (MSB first), in C: 12 ms a page
    # becomes ~5 (the dev pages), with the same result as the loop in simhash_reference.
    table = "".join([format(_feature_hash(gram), "064b") for gram in grams])
    value = 0
    for column in range(64):
        if 2 * table[column::64].count("1") > len(grams):
            value |= 1 << (63 - column)
    return value


def simhash_reference(text: str, shingle: int = SHINGLE) -> int:
    """The textbook loop :func:`simhash` must agree with (tests)."""
    tokens = words(text)
    grams = {" ".join(tokens[i : i + shingle]) for i in range(max(1, len(tokens) - shingle + 1))}
    counts = [0] * 64
    for gram in grams:
        h = _feature_hash(gram)
        for bit in range(64):
            counts[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit in range(64) if counts[bit] > 0)


# Syndication edits a story at its edges: a dateline and a rewritten lede at the top, credit
# and boilerplate lines at the bottom. The near-duplicate fingerprint leaves those out, so a
# wire story and its re-published copy agree on the rest; the body proper must still carry
# NEAR_DUP_MIN_WORDS (tasks.dedupe.seen) for a match.
_DATELINE = re.compile(r"^[A-Z][A-Za-z .,'/-]{1,40}\([^)]{1,40}\)\s*[-\u2013\u2014:]\s*")
TRAILER_MAX_WORDS = 15  # trailing paragraphs this short are credits/boilerplate
LEDE_MIN_PARAGRAPHS = 4  # drop the first paragraph only when at least this many remain


def near_dup_text(body: str) -> str:
    """The part of a body its near-duplicate fingerprint is taken from (see above)."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    while len(paragraphs) > 1 and len(_WORD.findall(paragraphs[-1])) < TRAILER_MAX_WORDS:
        paragraphs.pop()
    if paragraphs:
        paragraphs[0] = _DATELINE.sub("", paragraphs[0])
    if len(paragraphs) > LEDE_MIN_PARAGRAPHS:
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return (a ^ b).bit_count()


def bands(value: int, count: int) -> list[int]:
    """Split a 64-bit value into ``count`` bands (the last takes the leftover bits)."""
    width = 64 // count
    out = []
    for i in range(count):
        bits = width if i < count - 1 else 64 - width * (count - 1)
        out.append((value >> (i * width)) & ((1 << bits) - 1))
    return out
