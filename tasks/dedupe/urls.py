"""Identity: canonical URLs and entry keys (pure functions).

Owned here: what makes two URLs or two feed items "the same" (bodies: tasks.dedupe.
fingerprint). The Redis-backed indexes live in tasks.dedupe.seen (seen marks, leases) and
tasks.dedupe.duplicates (content and near-duplicate index).

Canonical URLs (ARTICLE_FORMAT.md, ``canonical_url``): scheme and host lower-cased, default
port and fragment dropped, tracking parameters removed (:data:`TRACKING_PARAMS`, every
``utm_*``, plus ``NEWS_TRACKING_PARAMS``), the remaining query sorted. Known AMP and mobile
variants of a page are folded onto the plain page: an ``amp.``/``m.``/``mobile.`` host becomes
``www.``, an ``/amp`` path segment, a ``.amp.html`` suffix and ``?amp=1``/``?outputType=amp``
are removed, and AMP cache URLs (``*.cdn.ampproject.org/c/s/...``, ``google.com/amp/s/...``)
are unwrapped to the publisher's URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the reader; removed from canonical URLs. Every name
# starting with one of TRACKING_PREFIXES goes too. NEWS_TRACKING_PARAMS adds names.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "yclid",
        "igshid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "ref_src",
        "ref_url",
        "ocid",
        "cmpid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "spm",
        "smid",
        "sr_share",
        "at_medium",
        "at_campaign",
        "ito",
        "itm_source",
        "itm_medium",
        "itm_campaign",
        "s_cid",
        "wt.mc_id",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "rss",
        "cmp",
        "__twitter_impression",
        "share",
        "fromrss",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_")
AMP_PARAMS = {"amp": {"", "1", "true", "yes"}, "outputtype": {"amp"}, "output": {"amp"}}
MOBILE_HOST_LABELS = ("amp", "m", "mobile")
AMP_CACHE_SUFFIX = ".cdn.ampproject.org"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Second-level labels under which registrations happen (example.co.uk): a small list
# instead of the Public Suffix List, enough to tell "same site" for canonical links.
GENERIC_SLDS = frozenset(
    {"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "nic"}
)


def _is_tracking(name: str, extra: frozenset[str]) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered in extra or lowered.startswith(TRACKING_PREFIXES)


def _is_amp_param(name: str, value: str) -> bool:
    return value.lower() in AMP_PARAMS.get(name.lower(), ())


def _fold_host(host: str) -> str:
    """``amp.x.com`` / ``m.x.com`` / ``mobile.x.com`` -> ``www.x.com`` (not for bare x.com)."""
    label, _, rest = host.partition(".")
    if label in MOBILE_HOST_LABELS and "." in rest and registrable_domain(host) != host:
        return "www." + rest
    return host


def _fold_path(path: str) -> str:
    """Drop an ``amp`` path segment and the ``.amp`` of ``story.amp.html``."""
    segments = [s for s in path.split("/") if s.lower() != "amp"]
    folded = "/".join(segments)
    if path.endswith("/") and not folded.endswith("/"):
        folded += "/"
    folded = re.sub(r"\.amp(\.html?)$", r"\1", folded, flags=re.IGNORECASE)
    return folded if folded.startswith("/") else "/" + folded


def _unwrap_amp_cache(url: str) -> str:
    """``https://www-x-com.cdn.ampproject.org/c/s/www.x.com/a`` -> ``https://www.x.com/a``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path
    if host.endswith(AMP_CACHE_SUFFIX) or (
        host.endswith("google.com") and path.startswith("/amp/")
    ):
        match = re.match(r"^/(?:c/|v/|amp/)?(?:(?:c|v|amp)/)?(s/)?([^/]+\.[^/]+/.*)$", path)
        if match:
            scheme = "https" if match.group(1) else "http"
            query = f"?{parts.query}" if parts.query else ""
            return f"{scheme}://{match.group(2)}{query}"
    return url


def canonical_url(url: str, extra_tracking: tuple[str, ...] | frozenset[str] = ()) -> str:
    """Normalize a URL: lower-case scheme/host, no default port, fragment, tracking or AMP marks."""
    try:
        parts = urlsplit(_unwrap_amp_cache(url.strip()))
        port = parts.port
    except ValueError:  # port 99999, "http://[::1/x": no parts to normalize, kept as it is
        return url.strip()
    scheme = parts.scheme.lower()
    host = _fold_host((parts.hostname or "").lower().rstrip("."))
    if port and DEFAULT_PORTS.get(scheme) != port:
        host = f"{host}:{port}"
    extra = frozenset(p.lower() for p in extra_tracking)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k, extra) and not _is_amp_param(k, v)
    ]
    query.sort()
    path = _fold_path(parts.path or "/")
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


def registrable_domain(host: str) -> str:
    """The registered domain of a host: ``news.bbc.co.uk`` -> ``bbc.co.uk`` (heuristic)."""
    labels = host.lower().rstrip(".").split(":")[0].split(".")
    if len(labels) >= 3 and labels[-2] in GENERIC_SLDS and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _same_site(a: str, b: str) -> bool:
    host_a, host_b = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return bool(host_a) and registrable_domain(host_a) == registrable_domain(host_b)


def choose_canonical(
    fetched_url: str, declared: str | None, extra_tracking: tuple[str, ...] | frozenset[str] = ()
) -> str:
    """The declared canonical (rel=canonical / og:url) when it stays on the fetched page's site
    (or is the plain page of an AMP/mobile variant), else the fetched URL; both normalized.

    A declared canonical pointing at the site's home page while we fetched a story is a
    common template bug and is ignored.
    """
    fetched = canonical_url(fetched_url, extra_tracking)
    if not declared or not declared.strip():
        return fetched
    candidate = canonical_url(urljoin(fetched_url, declared.strip()), extra_tracking)
    if urlsplit(candidate).scheme not in ("http", "https") or not _same_site(candidate, fetched):
        return fetched
    if urlsplit(candidate).path == "/" and urlsplit(fetched).path != "/":
        return fetched
    return candidate


def entry_key(guid: str | None, link: str | None, title: str | None, published: str | None) -> str:
    """Identity hash of a feed entry: GUID, else canonical link, else title + date."""
    if guid:
        basis = "g:" + guid.strip()
    elif link:
        basis = "u:" + canonical_url(link)
    else:
        basis = "t:" + (title or "").strip() + "|" + (published or "")
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]
