"""The Redis-backed duplicate index of stored articles, so that a second copy of a story, the
same body or a near-duplicate of it, is linked to the first (``duplicate_of``).

Method (docs/neardup.md): MinHash over word 3-shingles, LSH with 20 bands of 3 values, each
candidate confirmed by its Jaccard estimated from a 128 x 4-bit signature (tasks.dedupe.
fingerprint). A body under ``min_words`` words (a short story) is matched on its exact
content, or on its normalized title and lead (both must agree).

Layout, compact because every stored article is remembered for NEWS_NEARDUP_TTL: fixed-width
records in sorted strings ("buckets"), searched by binary search (GETRANGE) inside the
scripts, rewritten whole on insert (SET: exact size, no APPEND over-allocation).
- article records (RECORD bytes): ref (4, from the id) | id (16) | stamp (4, unix s) |
  flags (1: confirmed, short) | site (2, hash of the registrable domain) | signature (64;
  a short story: content hash 8 | title+lead 8);
  bucket ``ref[0] % RECORD_BUCKETS``, sorted by ref.
- band records (BAND bytes): tag (3) | ref (4); a band hash's byte 0 picks the bucket
  (``% BAND_BUCKETS``), bytes 1..3 are the tag; sorted by tag.
Buckets belong to a time slice (TTL / SLICES) and expire whole, TTL after their slice ends,
as in tasks.dedupe.seen; a record also carries its stamp, so it is matched for TTL exactly.

This module does no HTTP and holds no clients of its own: the Redis client is passed in.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict

from tasks.dedupe.fingerprint import (
    SIG_BYTES,
    agreeing_needed,
    band_hashes,
    content_hash,
    estimated_jaccard,
    minhash,
    shingles,
    short_key,
    signature_bytes,
    tokens,
)
from tasks.dedupe.urls import registrable_domain
from tasks.formats import host_of
from tasks.models import Article
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

NEAR_DUP_MIN_WORDS = 80  # shorter bodies are short stories: matched on title plus lead
CLAIM_TTL = 3600  # seconds find()'s claim on a new article lasts until remember()
DEFAULT_THRESHOLD = 0.5  # estimated Jaccard that confirms a candidate (docs/neardup.md)
# ... from the same site: one site's pages share its template (chrome the cleaner left in the
# body), and its own copies of a story are exact (another URL) or nearly so.
SAME_SITE_THRESHOLD = 0.8
SLICES = 4  # time slices per TTL: records are dropped between ttl and ttl * 5/4
BAND_BUCKETS = 32  # band-record buckets per slice
RECORD_BUCKETS = 32  # article-record buckets per slice
BAND = 7  # bytes per band record: tag 3 | ref 4
RECORD = 4 + 16 + 4 + 1 + 2 + SIG_BYTES  # bytes per article record
CONFIRMED, SHORT = 1, 2  # flag bits of an article record

# Shared by both scripts. ARGV[1..9]: base key, now, TTL, claim TTL, agreeing values needed
# (from another site, from the same site), current slice, its keys' expiry (s), number of live slices; then the live slices; then
# this article's record, its band hashes (4 bytes each), bands only looked up (not written)
# and the title + lead key they are confirmed by ('' when none).
COMMON_LUA = (
    f"local BW, RW, NB, NR, CONFIRMED, SHORT = {BAND}, {RECORD}, {BAND_BUCKETS}, {RECORD_BUCKETS}, "
    f"{CONFIRMED}, {SHORT}\nlocal SIG = {RECORD - SIG_BYTES + 1}"
    + """
local base, now, ttl, claim_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local need, need_same_site = tonumber(ARGV[5]), tonumber(ARGV[6])
local cur, expire, nlive = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local live = {}
for i = 1, nlive do live[i] = ARGV[9 + i] end
local rec, bands = ARGV[10 + nlive], ARGV[11 + nlive]
local probe, lead = ARGV[12 + nlive], ARGV[13 + nlive]  -- find() only: see fingerprint()
local id = string.sub(rec, 5, 20)
local function num(s)
  local v = 0
  for i = 1, #s do v = v * 256 + string.byte(s, i) end
  return v
end
local function flag(r, bit) return math.floor(string.byte(r, 25) / bit) % 2 == 1 end
local function band_key(slice, h) return base .. ':b:' .. slice .. ':' .. string.byte(h, 1) % NB end
local function rec_key(slice, ref) return base .. ':r:' .. slice .. ':' .. string.byte(ref, 1) % NR end
-- (index of the first record of width w whose first klen bytes are >= k, record count)
local function lower(key, w, klen, k)
  local x, n = num(k), redis.call('STRLEN', key) / w
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if num(redis.call('GETRANGE', key, mid * w, mid * w + klen - 1)) < x then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo, n
end
-- the records of a bucket that start with k, and the index after the last of them
local function matching(key, w, k)
  local i, n = lower(key, w, #k, k)
  local out = {}
  while i < n do
    local r = redis.call('GETRANGE', key, i * w, i * w + w - 1)
    if string.sub(r, 1, #k) ~= k then break end
    out[#out + 1] = r
    i = i + 1
  end
  return out, i
end
-- r into the current slice's bucket: replaces the record same(old) accepts, else inserted
local function put(key, w, klen, r, same)
  local found, after = matching(key, w, string.sub(r, 1, klen))
  for j, old in ipairs(found) do
    if same(old) then
      redis.call('SETRANGE', key, (after - #found + j - 1) * w, r)
      return
    end
  end
  local s = redis.call('GET', key) or ''
  redis.call('SET', key, string.sub(s, 1, after * w) .. r .. string.sub(s, after * w + 1), 'EX', expire)
end
local function write(r)
  put(rec_key(cur, r), RW, 4, r, function(old) return string.sub(old, 5, 20) == id end)
  local ref = string.sub(r, 1, 4)
  for b = 1, #bands, 4 do
    local h = string.sub(bands, b, b + 3)
    local entry = string.sub(h, 2, 4) .. ref
    put(band_key(cur, h), BW, 3, entry, function(old) return old == entry end)
  end
end
"""
)

# find(): the earliest-best live article whose record confirms a band candidate -> {id, n}
# (n: agreeing signature values); else this article's record and bands are written,
# provisional (matched for the claim TTL only, until remember() confirms them) -> {}.
# One script: two copies arriving at the same moment run one after the other, so the second
# sees the first's claim.
FIND_LUA = (
    COMMON_LUA
    + """
local function alive(r)
  local age = now - num(string.sub(r, 21, 24))
  if flag(r, CONFIRMED) then return age <= ttl end
  return age <= claim_ttl
end
local function agree(a, b)
  local n = 0
  for i = SIG, RW do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x == y then
      n = n + 2
    else
      if math.floor(x / 16) == math.floor(y / 16) then n = n + 1 end
      if x % 16 == y % 16 then n = n + 1 end
    end
  end
  return n
end
-- agreeing values of r and this article when r confirms it, else nil. A short record
-- confirms a short article by content or title + lead, and a long one just over the short
-- limit (the ARGV lead key is set) by title + lead.
local function similar(r)
  if flag(r, SHORT) then
    local title_lead = string.sub(r, SIG + 8, SIG + 15)
    if (flag(rec, SHORT) and (string.sub(r, SIG, SIG + 7) == string.sub(rec, SIG, SIG + 7)
        or title_lead == string.sub(rec, SIG + 8, SIG + 15))) or title_lead == lead then
      return 2 * (RW - SIG + 1)
    end
    return nil
  end
  if flag(rec, SHORT) then return nil end
  local n = agree(r, rec)
  if n >= (string.sub(r, 26, 27) == string.sub(rec, 26, 27) and need_same_site or need) then
    return n
  end
  return nil
end
local refs, known, lookups = {}, {}, bands .. probe
for b = 1, #lookups, 4 do
  local h = string.sub(lookups, b, b + 3)
  for _, slice in ipairs(live) do
    for _, entry in ipairs((matching(band_key(slice, h), BW, string.sub(h, 2, 4)))) do
      local ref = string.sub(entry, 4, 7)
      if not known[ref] then known[ref] = true; refs[#refs + 1] = ref end
    end
  end
end
local best, bn, bs, bt
for _, ref in ipairs(refs) do
  for _, slice in ipairs(live) do
    for _, r in ipairs((matching(rec_key(slice, ref), RW, ref))) do
      local other = string.sub(r, 5, 20)
      local n = other ~= id and alive(r) and similar(r)
      if n then
        local stamp, tie = num(string.sub(r, 21, 24)), num(string.sub(other, 1, 6))
        if best == nil or n > bn or (n == bn and (stamp < bs or (stamp == bs and tie < bt))) then
          best, bn, bs, bt = other, n, stamp, tie
        end
      end
    end
  end
end
if best then return {best, bn} end
write(rec)
return {}
"""
)

# remember(): this article's record (confirmed, stamped now) and its bands, for the TTL.
REMEMBER_LUA = COMMON_LUA + "\nwrite(rec)\nreturn 0\n"


Fingerprint = tuple[int, bytes, list[bytes], bytes]
RECENT_FINGERPRINTS = 512  # kept per process (~1 KB each): more than the stores in flight


class DuplicateIndex:
    """Earlier articles by MinHash bands (or, for short stories, content and title + lead).

    ``find`` claims a new article for CLAIM_TTL only: an article found new but never stored
    (a failed or dropped store) must not make later copies duplicates of a missing id for the
    whole TTL. ``remember`` (after the store) makes the claim last the TTL."""

    def __init__(
        self,
        redis,
        keys: Keys,
        *,
        ttl: int,
        threshold: float = DEFAULT_THRESHOLD,
        min_words: int = NEAR_DUP_MIN_WORDS,
    ) -> None:
        self.redis, self.keys, self.ttl = redis, keys, int(ttl)
        self.threshold, self.min_words = threshold, min_words
        self.need = agreeing_needed(threshold)
        self.need_same_site = agreeing_needed(max(threshold, SAME_SITE_THRESHOLD))
        self.slice_len = max(1, self.ttl // SLICES)
        self._find = redis.register_script(FIND_LUA)
        self._remember = redis.register_script(REMEMBER_LUA)
        # The fingerprints of the last articles found: remember() after the store reuses the
        # one find() computed when the storage task runs in the same process.
        self._recent: OrderedDict[tuple[str, str, str], Fingerprint] = OrderedDict()
        self._recent_lock = threading.Lock()

    def fingerprint(self, article: Article) -> Fingerprint:
        """The article's fingerprint (see compute), from the recent ones when known."""
        if not article.content_hash:
            return self.compute(article)
        key = (article.id, article.content_hash, article.title or "")
        with self._recent_lock:
            known = self._recent.get(key)
        if known is not None:
            return known
        fingerprint = self.compute(article)
        with self._recent_lock:
            self._recent[key] = fingerprint
            while len(self._recent) > RECENT_FINGERPRINTS:
                self._recent.popitem(last=False)
        return fingerprint

    def compute(self, article: Article) -> Fingerprint:
        """(flags, the 64 signature bytes, band hashes, title + lead key to probe) of an
        article. A long body under twice the short limit also probes short stories by title +
        lead: a short story with chrome lines added may cross the limit."""
        toks = tokens(article.body)
        count = len(toks)
        near_limit = count < 2 * self.min_words
        lead = short_key(article.title or "", article.body) if near_limit else b""
        if count < self.min_words:
            exact = bytes.fromhex(article.content_hash or content_hash(article.body))[:8]
            tail = (exact + lead).ljust(SIG_BYTES, b"\0")
            return SHORT, tail, [_short_band(b"c" + exact), _short_band(b"t" + lead)], b""
        signature = minhash(shingles(toks))
        return 0, signature_bytes(signature), band_hashes(signature), lead

    def _slices(self, now: float) -> list[int]:
        """The slices whose buckets are still alive at ``now``, newest first."""
        current = int(now // self.slice_len)
        oldest = math.floor((now - self.ttl) / self.slice_len)
        return [
            s for s in range(current, oldest - 1, -1) if (s + 1) * self.slice_len + self.ttl > now
        ]

    def _call(self, script, article: Article, now: float, confirmed: bool) -> list:
        flags, tail, bands, lead = self.fingerprint(article)
        probe = _short_band(b"t" + lead) if lead else b""
        raw_id = bytes.fromhex(article.id)
        ref = hashlib.blake2b(raw_id, digest_size=4).digest()
        stamp = int(now).to_bytes(4, "big")
        flag = bytes([flags | (CONFIRMED if confirmed else 0)])
        record = ref + raw_id + stamp + flag + _site(article) + tail
        current = int(now // self.slice_len)
        expire = math.ceil((current + 1) * self.slice_len + self.ttl - now)
        live = self._slices(now)
        args = [self.keys.neardup, int(now), self.ttl, CLAIM_TTL, self.need, self.need_same_site]
        args += [current, expire]
        # the base key is passed as KEYS[1] too: a Cluster client routes the call by it
        return script(
            keys=[self.keys.neardup],
            args=[*args, len(live), *live, record, b"".join(bands), probe, lead],
        )

    def find(self, article: Article, now: float) -> str | None:
        """Id of an earlier article with the same body or a near-duplicate one; None when new
        (then the article is claimed). One script call, one round trip."""
        found = self._call(self._find, article, now, confirmed=False)
        if not found:
            return None
        earlier = found[0].hex()
        log.info(
            "duplicate of %s (estimated Jaccard %.2f) id=%s",
            earlier,
            estimated_jaccard(int(found[1])),
            article.id,
        )
        return earlier

    def remember(self, article: Article, now: float) -> None:
        """Record a stored article for the TTL (not duplicates themselves); one round trip."""
        if not article.duplicate_of:
            self._call(self._remember, article, now, confirmed=True)


def _site(article: Article) -> bytes:
    """Two bytes naming the article's site (its registrable domain)."""
    site = registrable_domain(host_of(article.canonical_url or article.url))
    return hashlib.blake2b(site.encode("utf-8"), digest_size=2).digest()


def _short_band(basis: bytes) -> bytes:
    return hashlib.blake2b(basis, digest_size=4).digest()
