"""The feed registry in Redis: the feeds as last synced, the poll schedule, feed states and the
network-down detector.

Keys (tasks.rediskeys): ``schedule`` (sorted set feed id -> next poll time), ``feeds`` (hash feed
id -> FeedSource JSON), ``feed_state(id)`` (hash, FeedState), ``network`` (hash host -> last
connection failure, plus ``@ok``, ``@down`` and ``@probe``).

When the network comes back, the feeds that failed during the outage are polled again within
REPOLL_SPREAD seconds instead of waiting out their error back-off: while the network is down
the claim of the beat tick makes one feed due every NETWORK_PROBE seconds (its success ends the outage),
and that success puts every feed whose last poll failed since the outage began back on the
schedule at once (spread over REPOLL_SPREAD seconds).

The claim is one Lua script: ZRANGEBYSCORE with LIMIT (O(log N + due)) and a ZADD per due
feed pushing it to now + lease, so overlapping ticks or two beats never hand out a feed
twice and a tick costs O(due), not O(all feeds). The poll reschedules the feed when it ends;
a poll that never ends (worker killed) makes the feed due again after the lease.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable

from config.feeds import FeedSource
from config.settings import Settings
from tasks.formats import as_text
from tasks.poll.schedule import NETWORK_WINDOW, FeedState, network_down
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

CLAIM_LEASE = 900  # seconds a claimed feed stays off the schedule while its poll runs
NEW_FEED_SPREAD = 30.0  # seconds: new feeds are due now + 0..this, so a big import spreads
SPREAD_PER_FEED = 0.05  # seconds of spread per feed synced: a handful of feeds start at once
NETWORK_PROBE = 30.0  # seconds between probe polls while the network is down
REPOLL_SPREAD = 30.0  # seconds over which the feeds failed in an outage are polled again

# KEYS[1] schedule, KEYS[2] network hash; ARGV: now, limit, lease-until, probe interval.
# While the network is down (@down set), the feed due soonest is first made due now, once per
# probe interval (@probe): its poll is how we learn the network is back.
# Returns the claimed ids, earliest first.
CLAIM_SCRIPT = """
local now = tonumber(ARGV[1])
if redis.call('HEXISTS', KEYS[2], '@down') == 1 then
  local probed = tonumber(redis.call('HGET', KEYS[2], '@probe'))
  if not probed or now - probed >= tonumber(ARGV[4]) then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if first[1] then
      redis.call('HSET', KEYS[2], '@probe', ARGV[1])
      if tonumber(first[2]) > now then redis.call('ZADD', KEYS[1], 'XX', ARGV[1], first[1]) end
    end
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
end
return due
"""

_OK, _DOWN, _PROBE = "@ok", "@down", "@probe"


class FeedRegistry:
    """Redis side of feed polling; the Redis client is passed in."""

    def __init__(
        self,
        redis,
        keys: Keys,
        settings: Settings,
        *,
        rng: random.Random | None = None,
        lease: float = CLAIM_LEASE,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.rng = rng or random.Random()
        self.lease = lease
        self._claim = redis.register_script(CLAIM_SCRIPT)

    # --- the feeds file ------------------------------------------------------------------

    def sync(self, feeds: list[FeedSource], now: float, keep: Iterable[str] = ()) -> dict:
        """Make Redis match the feed list: new feeds due now (+ a little jitter), changed ones
        updated (a new URL is due now), removed ones forgotten and disabled ones unscheduled.
        Feed states are kept either way, so re-adding a feed resumes its history. Ids in
        ``keep`` (entries refused this time) are not removed: their last good version stays."""
        stored = {as_text(k): as_text(v) for k, v in self.redis.hgetall(self.keys.feeds).items()}
        counts = dict.fromkeys(("added", "changed", "removed", "disabled", "unchanged"), 0)
        pipe = self.redis.pipeline(transaction=True)
        spread = min(NEW_FEED_SPREAD, SPREAD_PER_FEED * len(feeds))
        for feed in feeds:
            counts[self._sync_one(pipe, feed, stored.get(feed.id), now, spread)] += 1
        gone = set(stored) - {f.id for f in feeds} - set(keep)
        if gone:
            pipe.hdel(self.keys.feeds, *gone)
            pipe.zrem(self.keys.schedule, *gone)
            counts["removed"] = len(gone)
        pipe.execute()
        return counts

    def _sync_one(
        self, pipe, feed: FeedSource, old_json: str | None, now: float, spread: float
    ) -> str:
        new_json = feed.to_json()
        if new_json != old_json:
            pipe.hset(self.keys.feeds, feed.id, new_json)
        if not feed.enabled:
            pipe.zrem(self.keys.schedule, feed.id)
            return "disabled"
        old = FeedSource.from_json(old_json) if old_json else None
        due = now + self.rng.uniform(0, spread)
        if old is None or not old.enabled:
            pipe.zadd(self.keys.schedule, {feed.id: due}, nx=True)
            return "added"
        if old.url != feed.url:
            pipe.zadd(self.keys.schedule, {feed.id: now})
        else:  # a feed lost from the schedule (flushed, crashed mid-claim) comes back
            pipe.zadd(self.keys.schedule, {feed.id: due}, nx=True)
        return "changed" if new_json != old_json else "unchanged"

    # --- schedule ------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int = 500) -> list[str]:
        """Atomically take up to ``limit`` due feeds, pushing each to now + lease (while the
        network is down, a probe feed first; see the module docstring)."""
        ids = self._claim(
            keys=[self.keys.schedule, self.keys.network],
            args=[now, int(limit), now + self.lease, NETWORK_PROBE],
        )
        return [as_text(i) for i in ids]

    def schedule(self, feed_id: str, at: float) -> None:
        """Set the next poll time of a scheduled feed (XX: a removed feed stays removed)."""
        self.redis.zadd(self.keys.schedule, {feed_id: at}, xx=True)

    def next_poll(self, feed_id: str) -> float | None:
        return self.redis.zscore(self.keys.schedule, feed_id)

    def scheduled(self) -> dict[str, float]:
        return {
            as_text(k): v for k, v in self.redis.zrange(self.keys.schedule, 0, -1, withscores=True)
        }

    # --- feeds and states ----------------------------------------------------------------

    def feed(self, feed_id: str) -> FeedSource | None:
        raw = self.redis.hget(self.keys.feeds, feed_id)
        return FeedSource.from_json(raw) if raw else None

    def feeds(self) -> list[FeedSource]:
        raw = self.redis.hvals(self.keys.feeds)
        return sorted((FeedSource.from_json(r) for r in raw), key=lambda f: f.name.lower())

    def state(self, feed_id: str) -> FeedState:
        return FeedState.from_hash(feed_id, self.redis.hgetall(self.keys.feed_state(feed_id)))

    def states(self, feed_ids: Iterable[str]) -> dict[str, FeedState]:
        ids = list(feed_ids)
        pipe = self.redis.pipeline(transaction=False)
        for feed_id in ids:
            pipe.hgetall(self.keys.feed_state(feed_id))
        return {i: FeedState.from_hash(i, raw) for i, raw in zip(ids, pipe.execute(), strict=True)}

    def save_state(self, state: FeedState) -> None:
        """Replace the stored state (fields that became None are deleted)."""
        key = self.keys.feed_state(state.feed_id)
        data = state.to_hash()
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=data)
        pipe.execute()

    def synced_file(self) -> dict[str, str]:
        """What the last sync remembered of the feeds file: signature, error, when."""
        return {as_text(k): as_text(v) for k, v in self.redis.hgetall(self.keys.feeds_file).items()}

    def remember_file(
        self, signature: str, now: float, error: str = "", refused: Iterable[str] = ()
    ) -> None:
        """Note the feeds file as read: ``error`` when it was not loaded at all, ``refused``
        (one line per entry, newline-joined) for the entries left out of a loaded file."""
        mapping = {"signature": signature, "checked": now, "error": error}
        mapping["refused"] = "\n".join(refused)
        if not error:
            mapping["synced"] = now
        self.redis.hset(self.keys.feeds_file, mapping=mapping)

    # --- network down --------------------------------------------------------------------

    def record_connect_failure(self, host: str, now: float) -> bool:
        """Note a connection failure; True when the network looks down (logged once, loudly)."""
        self.redis.hset(self.keys.network, host, now)
        raw = {as_text(k): float(v) for k, v in self.redis.hgetall(self.keys.network).items()}
        last_ok = raw.pop(_OK, None)
        down_since = raw.pop(_DOWN, None)
        raw.pop(_PROBE, None)
        if down_since is not None:
            return True
        if not network_down(raw, last_ok, now):
            return False
        if self.redis.hsetnx(self.keys.network, _DOWN, now):
            log.error(
                "NETWORK DOWN: %d hosts failed to connect since the last successful poll; "
                "feed errors are not counted until a poll succeeds",
                len(raw),
            )
        return True

    def record_success(self, now: float) -> None:
        """A poll went through: the network is up (logged when it was down)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(self.keys.network, _DOWN)
        pipe.delete(self.keys.network)
        pipe.hset(self.keys.network, _OK, now)
        was_down = pipe.execute()[0]
        if was_down:
            again = self.repoll_failed(float(was_down) - NETWORK_WINDOW, now)
            log.warning(
                "network is back: a poll succeeded; feed errors count again; %d feed(s) that "
                "failed during the outage are polled again within %.0fs",
                again,
                REPOLL_SPREAD,
            )

    def repoll_failed(self, since: float, now: float) -> int:
        """Make every scheduled feed whose last poll failed at or after ``since`` due within
        REPOLL_SPREAD seconds (never later than it already was). Returns how many."""
        ids = list(self.scheduled())
        failed = [
            feed_id
            for feed_id, state in self.states(ids).items()
            if state.last_status == "error" and (state.last_poll or 0.0) >= since
        ]
        if failed:
            due = {i: now + self.rng.uniform(0, REPOLL_SPREAD) for i in failed}
            self.redis.zadd(self.keys.schedule, due, xx=True, lt=True)
        return len(failed)

    def network_is_down(self) -> bool:
        return bool(self.redis.hexists(self.keys.network, _DOWN))
