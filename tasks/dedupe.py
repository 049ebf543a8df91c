"""Identity and duplicates: canonical URLs, entry keys, content hashes (pure functions).

Owned here: what makes two URLs, two feed items or two bodies "the same". Redis-backed
indexes (seen marks, leases, content and near-duplicate indexes) live in tasks.seen.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; removed from canonical URLs.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "yclid", "igshid",
     "ref_src", "ocid", "cmpid", "_hsenc", "_hsmi", "mkt_tok", "spm", "smid", "sr_share"}
)  # fmt: skip
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str, extra: frozenset[str]) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered in extra or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, extra_tracking: tuple[str, ...] | frozenset[str] = ()) -> str:
    """Normalize a URL: lower-case scheme/host, no default port, fragment or tracking params."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.port and DEFAULT_PORTS.get(scheme) != parts.port:
        host = f"{host}:{parts.port}"
    extra = frozenset(p.lower() for p in extra_tracking)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, extra)
    ]
    query.sort()
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


def entry_key(guid: str | None, link: str | None, title: str | None, published: str | None) -> str:
    """Identity hash of a feed entry: GUID, else canonical link, else title + date."""
    if guid:
        basis = "g:" + guid.strip()
    elif link:
        basis = "u:" + canonical_url(link)
    else:
        basis = "t:" + (title or "").strip() + "|" + (published or "")
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


_SPACE = re.compile(r"\s+")


def normalize_body(body: str) -> str:
    """The body as compared for duplicates: NFKC, lower case, whitespace folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", body).lower()).strip()


def content_hash(body: str) -> str:
    """Hash of the normalized body (change and duplicate detection)."""
    return hashlib.sha256(normalize_body(body).encode("utf-8")).hexdigest()[:32]
