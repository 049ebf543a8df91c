"""The Redis-backed duplicate index of stored articles: content hashes and SimHash bands, so a
second copy of a story is linked to the first (``duplicate_of``).

This module does no HTTP and holds no clients of its own: the Redis client is passed in.
"""

from __future__ import annotations

import logging
import threading

from tasks.dedupe.fingerprint import bands, content_hash, near_dup_text, simhash, words
from tasks.models import Article
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

NEAR_DUP_MIN_WORDS = 80  # shorter bodies are never matched as near-duplicates (templates)
RECENT = 64  # fingerprints kept per process (an I/O pool has that many articles in flight)
CLAIM_TTL = 3600  # seconds find()'s claim on a new body (and its bands) lasts until remember()

# find(), atomically (two copies arriving at the same moment: one script runs first, so the
# second sees the first's claim and bands). KEYS[1]: the content key; KEYS[2..]: the SimHash
# band keys (none for a short body). ARGV: id, claim TTL, SimHash (16 hex digits, '' when
# none), now (int s), TTL, max distance. Claim the body (SET NX) and read the winner; else the
# closest live band member within the distance (by distance, age, id), pruning stale ones;
# else the article is new and its bands are written, provisional (":c", dropped after the
# claim TTL unless remember() confirms them). -> {} when new, {id} of the earlier article.
FIND_LUA = """
local id, claim_ttl, hex = ARGV[1], tonumber(ARGV[2]), ARGV[3]
redis.call('SET', KEYS[1], id, 'NX', 'EX', claim_ttl)
local owner = redis.call('GET', KEYS[1])
if owner ~= id then return {owner} end
if hex == '' then return {} end
local now, ttl, limit = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function ones(x)
  local n = 0
  while x ~= 0 do x = bit.band(x, x - 1); n = n + 1 end
  return n
end
local function half(h, i) return tonumber(string.sub(h, i, i + 7), 16) end
local function distance(h)
  return ones(bit.bxor(half(h, 1), half(hex, 1))) + ones(bit.bxor(half(h, 9), half(hex, 9)))
end
local best, bd, bs
for k = 2, #KEYS do
  local flat = redis.call('HGETALL', KEYS[k])
  for j = 1, #flat, 2 do
    local other, h, stamp, mark = flat[j], string.match(flat[j + 1], '^(%x+):(%d+)(:?c?)$')
    stamp = tonumber(stamp)
    if now - stamp > (mark == ':c' and claim_ttl or ttl) then
      redis.call('HDEL', KEYS[k], other)
    elseif other ~= id then
      local d = distance(h)
      if d <= limit and (best == nil or d < bd or (d == bd and (stamp < bs
          or (stamp == bs and other < best)))) then
        best, bd, bs = other, d, stamp
      end
    end
  end
end
if best then
  redis.call('DEL', KEYS[1])  -- our claim: a later exact copy finds the original by its bands
  return {best, bd}
end
for k = 2, #KEYS do
  redis.call('HSET', KEYS[k], id, hex .. ':' .. ARGV[4] .. ':c')
  redis.call('EXPIRE', KEYS[k], ttl)
end
return {}
"""

# remember(): the content key gets the full TTL when it holds this id or nothing (not when an
# other article owns the body); the bands are confirmed (no ":c" mark) for the TTL.
# KEYS[1]: the content key, KEYS[2..]: the band keys; ARGV: id, TTL, the band value.
REMEMBER_LUA = """
local id, ttl = ARGV[1], tonumber(ARGV[2])
local owner = redis.call('GET', KEYS[1])
if not owner or owner == id then redis.call('SET', KEYS[1], id, 'EX', ttl) end
for k = 2, #KEYS do
  redis.call('HSET', KEYS[k], id, ARGV[3])
  redis.call('EXPIRE', KEYS[k], ttl)
end
return 0
"""


class DuplicateIndex:
    """Earlier articles by content hash and by SimHash bands (pigeonhole: ``distance + 1`` bands,
    so two values within ``distance`` bits agree exactly on at least one band).

    ``find`` claims the body and the bands of a new article for CLAIM_TTL only: an article that
    is found new but never stored (a failed or dropped store) must not make later copies
    duplicates of a missing id for the whole TTL. ``remember`` (after the store) makes them
    last the TTL."""

    def __init__(
        self, redis, keys: Keys, *, ttl: int, distance: int = 3, min_words: int = NEAR_DUP_MIN_WORDS
    ) -> None:
        self.redis, self.keys, self.ttl = redis, keys, int(ttl)
        self.distance, self.min_words = distance, min_words
        self.band_count = distance + 1
        self._find = redis.register_script(FIND_LUA)
        self._remember = redis.register_script(REMEMBER_LUA)
        self._recent: dict[tuple[str, str], int | None] = {}  # (id, body) -> SimHash
        self._recent_lock = threading.Lock()

    def _content_key(self, article: Article) -> str:
        return self.keys.content(article.content_hash or content_hash(article.body))

    def _band_keys(self, value: int) -> list[str]:
        return [self.keys.simhash_band(i, b) for i, b in enumerate(bands(value, self.band_count))]

    def _fingerprint(self, article: Article) -> int | None:
        """The SimHash of a body long enough for near-dup matching, else None. Kept for the
        last few articles: remember() after the store needs the value find() computed."""
        key = (article.id, article.body)
        if key in self._recent:
            return self._recent[key]
        text = near_dup_text(article.body)
        value = simhash(text) if len(words(text)) >= self.min_words else None
        with self._recent_lock:  # the threads of an I/O pool share the index
            if len(self._recent) >= RECENT:
                self._recent.pop(next(iter(self._recent)))
            self._recent[key] = value
        return value

    def find(self, article: Article, now: float) -> str | None:
        """Id of an earlier article with the same body or a near-identical one; None when new
        (then the body and bands are claimed for this id). One script call, one round trip."""
        value = self._fingerprint(article)
        band_keys = self._band_keys(value) if value is not None else []
        hex_value = f"{value:016x}" if value is not None else ""
        args = [article.id, CLAIM_TTL, hex_value, int(now), self.ttl, self.distance]
        found = self._find(keys=[self._content_key(article), *band_keys], args=args)
        if not found:
            return None
        if len(found) == 2:
            log.info(
                "near-duplicate of %s at distance %d id=%s", found[0].decode(), found[1], article.id
            )
        return found[0].decode()

    def remember(self, article: Article, now: float) -> None:
        """Record the article's content hash and SimHash bands for the TTL (not for duplicates
        themselves); one script call, one round trip."""
        if article.duplicate_of:
            return
        value = self._fingerprint(article)
        band_keys = self._band_keys(value) if value is not None else []
        band_value = f"{value:016x}:{int(now)}" if value is not None else ""
        self._remember(
            keys=[self._content_key(article), *band_keys], args=[article.id, self.ttl, band_value]
        )
