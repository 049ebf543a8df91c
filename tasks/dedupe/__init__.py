"""Duplicates: what makes two URLs, two feed items or two bodies "the same".

Pure functions in urls (canonical URLs, entry keys) and fingerprint (content hashes, MinHash signatures);
the Redis-backed indexes in seen (seen marks, ingest leases) and duplicates (content and
near-duplicate index of stored articles).
"""

from tasks.dedupe.fingerprint import content_hash, minhash, normalize_body, shingles, words
from tasks.dedupe.urls import canonical_url, choose_canonical, entry_key, registrable_domain

__all__ = [
    "canonical_url",
    "choose_canonical",
    "content_hash",
    "entry_key",
    "minhash",
    "normalize_body",
    "registrable_domain",
    "shingles",
    "words",
]
