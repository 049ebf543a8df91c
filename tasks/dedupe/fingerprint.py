"""Fingerprints of article bodies (pure functions): the normalized body and its content hash;
for near-duplicates, word 3-shingles, their MinHash signature and LSH band hashes, and the
title-plus-lead key of a short story.

MinHash (Broder): for each of NUM_HASHES hash functions, the smallest hash over a body's set
of shingles. Two bodies agree on one such value with probability equal to the Jaccard
similarity of their shingle sets, so the share of agreeing values estimates it. LSH: the
first BANDS * ROWS values are cut into BANDS bands of ROWS; two bodies become candidates when
they agree on a whole band, with probability 1 - (1 - J**ROWS) ** BANDS (0.99 at J = 0.6,
0.15 at J = 0.2 for 20 x 3); a candidate is then confirmed by the estimated Jaccard.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_SPACE = re.compile(r"\s+")


def normalize_body(body: str) -> str:
    """The body as compared for duplicates: NFKC, lower case, whitespace folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", body).lower()).strip()


def content_hash(body: str) -> str:
    """Hash of the normalized body (change and duplicate detection)."""
    return hashlib.sha256(normalize_body(body).encode("utf-8")).hexdigest()[:32]


# --- near-duplicates -------------------------------------------------------------------------

SHINGLE = 3  # words per shingle
NUM_HASHES = 128  # MinHash values per signature
SIG_BITS = 4  # bits of each value the index keeps (b-bit MinHash): 128 x 4 bits = 64 bytes
SIG_BYTES = NUM_HASHES * SIG_BITS // 8
BANDS, ROWS = 20, 3  # LSH: 20 bands of 3 values (the first 60 of the 64)
_WORD = re.compile(r"\w+", re.UNICODE)
# Chinese and Japanese write no spaces: each ideograph or kana counts as a word (character
# shingles are the usual unit there); other scripts, Korean included, split at non-letters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.UNICODE)


# The NUM_HASHES hash functions: h_i(x) = top 32 bits of (a_i * x + b_i) mod 2**64, a_i odd
# (multiply-shift hashing), over a 64-bit BLAKE2b hash x of the shingle; numpy computes all
# 128 for all shingles at once (15x our pure-Python version, as fast as datasketch: see
# docs/neardup.md). The constants come from BLAKE2b too: every process and version agrees.
def _constant(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


_A = np.array([_constant(f"a{i}") | 1 for i in range(NUM_HASHES)], dtype=np.uint64)
_B = np.array([_constant(f"b{i}") for i in range(NUM_HASHES)], dtype=np.uint64)
_SHIFT = np.uint64(32)


def words(text: str) -> list[str]:
    return _WORD.findall(normalize_body(text))


def tokens(text: str) -> list[str]:
    """The words shingles are made of (a CJK character is one word)."""
    return _TOKEN.findall(normalize_body(text))


def shingles(text: str | list[str], size: int = SHINGLE) -> set[str]:
    """The set of word ``size``-shingles of a text or its tokens (one for shorter texts)."""
    toks = tokens(text) if isinstance(text, str) else text
    return {" ".join(toks[i : i + size]) for i in range(max(1, len(toks) - size + 1))} - {""}


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def minhash(grams: set[str]) -> list[int]:
    """The MinHash signature (NUM_HASHES 32-bit values) of a set of shingles."""
    raw = b"".join(
        hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest() for g in grams or {""}
    )
    x = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
    return ((x[:, None] * _A + _B) >> _SHIFT).min(axis=0).tolist()


def band_hashes(signature: list[int]) -> list[bytes]:
    """One 4-byte hash per LSH band (band number included, so bands never collide)."""
    out = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        raw = band.to_bytes(1, "big") + b"".join(v.to_bytes(4, "big") for v in rows)
        out.append(hashlib.blake2b(raw, digest_size=4).digest())
    return out


def signature_bytes(signature: list[int]) -> bytes:
    """The low SIG_BITS bits of each MinHash value, two to a byte: what the index keeps to
    estimate Jaccard (b-bit MinHash: two unrelated values agree by chance 1 time in 16).
    128 x 4 bits estimate Jaccard closer than 64 x 8 bits in the same 64 bytes (standard
    deviation 0.046 against 0.061 at J = 0.6)."""
    low = [v & 0xF for v in signature]
    return bytes((low[i] << 4) | low[i + 1] for i in range(0, len(low), 2))


CHANCE = 1 / (1 << SIG_BITS)  # two b-bit values of unrelated bodies agree this often


def estimated_jaccard(agreeing: int, total: int = NUM_HASHES) -> float:
    """Jaccard from the number of agreeing b-bit MinHash values (chance agreement removed)."""
    return max(0.0, (agreeing / total - CHANCE) / (1 - CHANCE))


def agreeing(a: bytes, b: bytes) -> int:
    """How many of the b-bit values of two signature_bytes agree (what the Lua counts)."""
    return sum(((x ^ y) & 0xF0 == 0) + ((x ^ y) & 0x0F == 0) for x, y in zip(a, b, strict=True))


def agreeing_needed(threshold: float, total: int = NUM_HASHES) -> int:
    """Fewest agreeing values whose estimated Jaccard reaches ``threshold``."""
    need = 0
    while need < total and estimated_jaccard(need, total) < threshold - 1e-9:
        need += 1
    return need


LEAD_WORDS = 30  # the lead of a short story: its first words ...
LINE_WORDS = 12  # ... after lines this short (share buttons, "Advertisement", bylines)


def short_key(title: str, body: str) -> bytes:
    """Key of a short story: its normalized title and lead (the first LEAD_WORDS words of
    its paragraphs of LINE_WORDS words or more); two short stories match only when both
    agree."""
    paragraphs = [tokens(p) for p in body.split("\n")]
    lead = [w for p in paragraphs if len(p) >= LINE_WORDS for w in p][:LEAD_WORDS]
    basis = " ".join(tokens(title)) + "\n" + " ".join(lead or tokens(body)[:LEAD_WORDS])
    return hashlib.blake2b(basis.encode("utf-8"), digest_size=8).digest()
