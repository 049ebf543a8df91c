"""Redis-backed dedupe indexes: "seen" marks of feed entries, ingest leases, and the content and
near-duplicate indexes of articles.

Leases (class Leases) mark entries in flight: one holder each, renewed by a heartbeat.

The seen index is the big one (every entry of every feed for NEWS_SEEN_TTL), so it is compact
(measured by `newsworker bench seen`: about 16 bytes per entry against ~148 for a key per
entry). An entry key is 128 bits (tasks.dedupe.entry_key): byte 1 picks one of 256 buckets
per time slice, byte 2 a sub-bucket inside it, and bytes 3..16 are stored as a 14-byte record
(layout below). All 128 bits are kept, so a "seen" answer is never false (no Bloom filter).
Buckets expire whole: a slice lasts ``ttl / SLICES`` seconds and its buckets live ``ttl``
past the slice's end, so an entry stays seen at least ``ttl`` and at most ``ttl * 9/8``.
A whole feed poll is checked by one Lua script call (one round trip); marks are written by
another. Bucket size stays compact without any server CONFIG (plain strings).

This module does no HTTP and holds no clients of its own: the Redis client is passed in.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
import time
import uuid

from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

SLICES = 8  # time slices per TTL: entries are forgotten between ttl and ttl * 9/8 after marking
SUB_BUCKETS = 256  # per bucket, selected by the entry key's second byte
RECORD = 14  # bytes stored per entry: the entry key's bytes 3..16
HEADER = 3  # bytes: the bucket's record count (big-endian)

# Layout of a bucket string: a 3-byte record count n; a directory of n + 256 bits (MSB
# first, padded to whole bytes) giving each sub-bucket's record count in unary (that many
# 1s, then a 0); then the 14-byte records grouped by sub-bucket in sub-bucket order. Byte 1
# of the entry key names the bucket, byte 2 its sub-bucket, bytes 3..16 are the record: all
# 128 bits are kept, and the directory costs ~1 bit per record + 32 bytes per bucket.
# Buckets are rewritten whole with SET (exact size), not grown with APPEND/SETRANGE (which
# over-allocate).
COMMON_LUA = (
    f"local SUB, W, HEAD = {SUB_BUCKETS}, {RECORD}, {HEADER}"
    + """
local BITS, ZEROS = {}, {}
for b = 0, 255 do
  local t, v, z = {}, b, 0
  for i = 8, 1, -1 do
    if v % 2 == 1 then t[i] = '1' else t[i] = '0'; z = z + 1 end
    v = math.floor(v / 2)
  end
  BITS[b], ZEROS[b] = table.concat(t), z
end
local function count_of(head)
  if #head < HEAD then return 0 end
  local n = 0
  for i = 1, HEAD do n = n * 256 + string.byte(head, i) end
  return n
end
local function count_bytes(n)  -- n as HEAD big-endian bytes
  local t = {}
  for i = HEAD, 1, -1 do t[i] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(t)
end
local function dir_bytes(n) return math.ceil((n + SUB) / 8) end
local function bit_at(dir, pos)  -- pos: 0-based bit index
  local byte = string.byte(dir, math.floor(pos / 8) + 1)
  return string.sub(BITS[byte], pos % 8 + 1, pos % 8 + 1)
end
-- (records before sub-bucket `sub`, its record count, the bit index where it starts)
local function locate(dir, sub)
  local zeros, i = 0, 1
  while zeros + ZEROS[string.byte(dir, i)] < sub do
    zeros = zeros + ZEROS[string.byte(dir, i)]; i = i + 1
  end
  local pos = (i - 1) * 8
  while zeros < sub do
    if bit_at(dir, pos) == '0' then zeros = zeros + 1 end
    pos = pos + 1
  end
  local cnt = 0
  while bit_at(dir, pos + cnt) == '1' do cnt = cnt + 1 end
  return pos - sub, cnt, pos
end
"""
)

# KEYS: for entry i, its bucket in every live slice (ARGV[1] of them);
# ARGV: slices per entry, then per entry its sub-bucket (0-255) and 14-byte record. -> {0|1..}
CHECK_LUA = (
    COMMON_LUA
    + """
local ns = tonumber(ARGV[1])
local READ = HEAD + 96  -- first read: the header and a directory of up to 512 records
local function has(key, sub, rec)
  local head = redis.call('GETRANGE', key, 0, READ - 1)
  local n = count_of(head)
  if n == 0 then return false end
  local size = dir_bytes(n)
  local dir = string.sub(head, HEAD + 1, HEAD + size)
  if #dir < size then dir = redis.call('GETRANGE', key, HEAD, HEAD + size - 1) end
  local off, cnt = locate(dir, sub)
  if cnt == 0 then return false end
  local first = HEAD + size + off * W
  local data = redis.call('GETRANGE', key, first, first + cnt * W - 1)
  for j = 0, cnt - 1 do
    if string.sub(data, j * W + 1, j * W + W) == rec then return true end
  end
  return false
end
local out = {}
for i = 1, (#ARGV - 1) / 2 do
  local sub, rec, found = tonumber(ARGV[2 * i]), ARGV[2 * i + 1], 0
  for j = 1, ns do
    if has(KEYS[(i - 1) * ns + j], sub, rec) then found = 1; break end
  end
  out[i] = found
end
return out
"""
)

# KEYS: the current-slice bucket of each entry; ARGV: key TTL (s), then per entry its
# sub-bucket and record. Each touched bucket is written once, at the end. -> new marks
MARK_LUA = (
    COMMON_LUA
    + """
local ttl = tonumber(ARGV[1])
local data, dirty, added = {}, {}, 0
local function expand(dir, nbits)
  local t = {}
  for i = 1, #dir do t[i] = BITS[string.byte(dir, i)] end
  return string.sub(table.concat(t), 1, nbits)
end
local function pack(bits)
  bits = bits .. string.rep('0', (8 - #bits % 8) % 8)
  local t = {}
  for i = 1, #bits, 8 do t[#t + 1] = string.char(tonumber(string.sub(bits, i, i + 7), 2)) end
  return table.concat(t)
end
local function insert(key, sub, rec)
  local s = data[key]
  if s == nil then
    s = redis.call('GET', key) or (count_bytes(0) .. string.rep('\\0', SUB / 8))
  end
  local n = count_of(s)
  local size = dir_bytes(n)
  local dir = string.sub(s, HEAD + 1, HEAD + size)
  local off, cnt, pos = locate(dir, sub)
  local first = HEAD + size + off * W
  for j = 0, cnt - 1 do
    if string.sub(s, first + j * W + 1, first + j * W + W) == rec then data[key] = s; return 0 end
  end
  local bits = expand(dir, n + SUB)
  bits = string.sub(bits, 1, pos + cnt) .. '1' .. string.sub(bits, pos + cnt + 1)
  local at = first + cnt * W
  n = n + 1
  data[key] = count_bytes(n) .. pack(bits) .. string.sub(s, HEAD + size + 1, at) .. rec .. string.sub(s, at + 1)
  dirty[key] = true
  return 1
end
for i = 1, #KEYS do added = added + insert(KEYS[i], tonumber(ARGV[2 * i]), ARGV[2 * i + 1]) end
for key in pairs(dirty) do redis.call('SET', key, data[key], 'EX', ttl) end
return added
"""
)


def key_bytes(entry_key: str) -> bytes:
    """The 16 bytes of an entry key (hex of tasks.dedupe.entry_key), or a hash of any other id."""
    try:
        raw = bytes.fromhex(entry_key)
    except ValueError:
        raw = b""
    return raw if len(raw) == 16 else hashlib.sha256(entry_key.encode("utf-8")).digest()[:16]


class SeenIndex:
    """Entries already ingested (TTL ``ttl`` seconds) and short leases on entries in flight."""

    def __init__(self, redis, keys: Keys, ttl: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, int(ttl)
        self.slice_len = max(1, self.ttl // SLICES)
        self._check = redis.register_script(CHECK_LUA)
        self._mark = redis.register_script(MARK_LUA)

    @staticmethod
    def _split(entry_key: str) -> tuple[str, int, bytes]:
        """(bucket shard, sub-bucket, record) of an entry key."""
        raw = key_bytes(entry_key)
        return f"{raw[0]:02x}", raw[1], raw[2:]

    def _slices(self, now: float) -> list[int]:
        """The slices whose marks are still alive at ``now``, newest first."""
        current = int(now // self.slice_len)
        oldest = math.floor((now - self.ttl) / self.slice_len)
        alive = range(current, oldest - 1, -1)
        return [s for s in alive if (s + 1) * self.slice_len + self.ttl > now]

    def bucket(self, slice_no: int, shard: str) -> str:
        return self.keys.seen(f"{slice_no:x}:{shard}")

    def unseen(self, entry_keys: list[str], now: float) -> list[str]:
        """The keys not seen, in their order; one script call (one round trip) for all."""
        if not entry_keys:
            return []
        slices = self._slices(now)
        split = [self._split(k) for k in entry_keys]
        bucket_keys = [self.bucket(s, shard) for shard, _, _ in split for s in slices]
        args = [len(slices), *(x for _, sub, rec in split for x in (sub, rec))]
        flags = self._check(keys=bucket_keys, args=args)
        return [k for k, flag in zip(entry_keys, flags, strict=True) if not int(flag)]

    def is_seen(self, entry_key: str, now: float) -> bool:
        return not self.unseen([entry_key], now)

    def mark_seen(self, entry_key: str, now: float) -> None:
        self.mark_many([entry_key], now)

    def mark_many(self, entry_keys: list[str], now: float) -> int:
        """Mark keys seen at ``now`` (one script call); returns how many were not marked yet."""
        if not entry_keys:
            return 0
        current = int(now // self.slice_len)
        expire = math.ceil((current + 1) * self.slice_len + self.ttl - now)
        split = [self._split(k) for k in entry_keys]
        bucket_keys = [self.bucket(current, shard) for shard, _, _ in split]
        args = [expire, *(x for _, sub, rec in split for x in (sub, rec))]
        return int(self._mark(keys=bucket_keys, args=args))

    def lease(self, entry_key: str, ttl: int) -> bool:
        """Claim an entry for ``ttl`` seconds (SET NX EX) with no holder (tests, tools); the
        ingest path uses :class:`Leases`, whose leases end with their holder."""
        return bool(self.redis.set(self.keys.lease(entry_key), b"1", nx=True, ex=max(1, int(ttl))))

    def release(self, entry_key: str) -> None:
        self.redis.delete(self.keys.lease(entry_key))


# KEYS: lease keys; ARGV: the TTL (ms), then each key's token. Renews the leases still ours.
RENEW_LUA = """
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1]); n = n + 1
  end
end
return n
"""

# KEYS[1]: a lease key; ARGV[1]: its token. Deletes the lease only when it is still ours.
GIVE_UP_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Leases:
    """Leases on entries in flight, each held by one run under a token of its own.

    A lease lives ``ttl`` seconds and this process's heartbeat thread renews every lease it
    holds every ``ttl / 4`` seconds, so a lease outlives its holder (a killed pool process,
    worker or machine) by at most ``ttl``: the entry's redelivered message finds it free.
    Only the token's holder can give a lease up (a lapsed lease taken over by another run is
    never deleted by the first). Safe to share between threads; a fork starts afresh.
    """

    def __init__(self, redis, keys: Keys, ttl: float) -> None:
        self.redis, self.keys, self.ttl = redis, keys, max(1.0, float(ttl))
        self._renew = redis.register_script(RENEW_LUA)
        self._give_up = redis.register_script(GIVE_UP_LUA)
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # lease key -> token
        self._pid = 0
        self._beat: threading.Thread | None = None

    def take(self, entry_key: str) -> str | None:
        """The token of a new lease on the entry, or None when someone holds it."""
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        key = self.keys.lease(entry_key)
        if not self.redis.set(key, token, nx=True, px=int(self.ttl * 1000)):
            return None
        with self._lock:
            self._ensure_heartbeat()
            self._held[key] = token
        return token

    def remaining(self, entry_key: str) -> float:
        """Seconds until the entry's lease lapses unless renewed (0 when there is none)."""
        ms = self.redis.pttl(self.keys.lease(entry_key))
        return max(0.0, ms / 1000) if ms and ms > 0 else 0.0

    def give_up(self, entry_key: str, token: str | None) -> None:
        """End our lease (a no-op when it lapsed and is someone else's now)."""
        key = self.keys.lease(entry_key)
        with self._lock:
            self._held.pop(key, None)
        if token:
            self._give_up(keys=[key], args=[token])

    def hand_over(self, entry_key: str, token: str, seconds: float) -> None:
        """Stop renewing our lease but keep it ``seconds`` more, for the task that finishes
        the entry (the store) to give up; it lapses by itself if that task is lost."""
        key = self.keys.lease(entry_key)
        with self._lock:
            self._held.pop(key, None)
        self._renew(keys=[key], args=[int(max(seconds, self.ttl) * 1000), token])

    def renew_all(self) -> int:
        """One heartbeat: renew every lease this process holds (one script call)."""
        with self._lock:
            held = list(self._held.items())
        if not held:
            return 0
        args = [int(self.ttl * 1000), *(token for _, token in held)]
        return int(self._renew(keys=[key for key, _ in held], args=args))

    def _ensure_heartbeat(self) -> None:
        if self._beat is not None and self._pid == os.getpid() and self._beat.is_alive():
            return
        if self._pid != os.getpid():  # forked: the parent's leases are not ours
            self._held.clear()
        self._pid = os.getpid()
        self._beat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while True:
            time.sleep(self.ttl / 4)
            try:
                self.renew_all()
            except Exception:  # noqa: BLE001 - Redis away: try again next beat; leases may lapse
                log.warning("lease heartbeat failed", exc_info=True)
