"""Entries in flight: the service's own record of every entry handed to the broker and not
finished yet, so that an entry whose message the broker lost is sent again.

Why the broker's own recovery is not enough: Celery's Redis transport takes a message with
BRPOP, which removes it from the queue, and only then records it as unacked (the hash the
restore scan reads). A worker whose main process dies between the two (killed while a BRPOP
answer sits unread in its socket, e.g. while the CPU runs others or while the worker waits
for a free slot) takes the message with it: it is in no queue and in no unacked hash, and
the feed, answering 304 from then on, never offers the entry again. Measured: a threads
worker SIGSTOPped with its BRPOP outstanding, sent an ingest message, SIGKILLed: the message
was in no queue and not unacked, and a second worker never got it.

The record: a sorted set (entry key -> when its next sign of life is due) and a hash (entry
key -> the delivery to send again). An entry is recorded before its first message is sent,
recorded again at the end of each try (when its retry or store is due), and forgotten when
its life ends (stored, failed, skipped, seen). The beat tick's sweep (tasks.jobs) looks at
entries overdue by ``grace``: one seen is forgotten, one under a lease (a run holds it, or a
dead run's lease has not lapsed yet) is looked at again when the lease ends, and any other
one is sent again. A second delivery is harmless (the lease and the seen mark), so the sweep
errs on the side of sending; its re-sends of one entry back off (grace, 2 grace, 4 grace ...)
so a long backlog in the queue does not multiply messages.
"""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from tasks.rediskeys import Keys

MAX_BACKOFF = 6  # the sweep's re-sends of one entry wait at most grace * 2**6

# KEYS: the schedule (zset), the deliveries (hash); ARGV: now, the score claimed entries get
# (looked at again then unless rescheduled), limit. -> [key, delivery or false, ...]
CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, key in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], key)
  out[#out + 1] = key
  out[#out + 1] = redis.call('HGET', KEYS[2], key)
end
return out
"""


class Overdue(NamedTuple):
    key: str  # the entry key
    delivery: dict | None  # the kwargs of its next delivery (None: not known)
    sweeps: int  # re-sends by the sweep so far
    at: float  # when its last message was sent (unix s)


def grace_for(visibility_timeout: float) -> float:
    """How long past its due time an entry may show no sign of life before the sweep acts:
    the broker's own recovery of a dead worker's message must have had its chance (the
    visibility timeout, then a restore scan every min(5, vt/8) s under a mutex that lapses
    within max(2, scan interval) s: worker.app), so the sweep adds messages only where the
    broker has none left."""
    return float(visibility_timeout) + 10.0


class InFlight:
    """The record of entries in flight (see the module docstring). ``grace``: seconds past
    an entry's due time before the sweep acts; it covers the broker's own recovery of a dead
    worker's messages (visibility timeout + restore scan + its mutex)."""

    def __init__(self, redis, keys: Keys, grace: float) -> None:
        self.redis, self.keys, self.grace = redis, keys, max(1.0, float(grace))
        self._claim = redis.register_script(CLAIM_LUA)

    def expect(self, deliveries: dict[str, dict], due: float, at: float, sweeps: int = 0) -> None:
        """Record entries (key -> the kwargs of their next delivery) whose messages are sent
        at ``at`` and whose next sign of life is due at ``due`` (unix s): a try starting or
        ending, a store."""
        if not deliveries:
            return
        deadline = due + self.grace * 2 ** min(sweeps, MAX_BACKOFF)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.keys.inflight, dict.fromkeys(deliveries, deadline))
        pipe.hset(
            self.keys.inflight_deliveries,
            mapping={
                key: json.dumps(
                    {"delivery": kwargs, "sweeps": sweeps, "at": at}, ensure_ascii=False
                )
                for key, kwargs in deliveries.items()
            },
        )
        pipe.execute()

    def done(self, entry_key: str) -> None:
        """The entry's life is over: forget it."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(self.keys.inflight, entry_key)
        pipe.hdel(self.keys.inflight_deliveries, entry_key)
        pipe.execute()

    def postpone(self, entry_key: str, due: float) -> None:
        """Look at the entry again at ``due`` (it is under a lease until then)."""
        self.redis.zadd(self.keys.inflight, {entry_key: due}, xx=True)

    def overdue(self, now: float, limit: int = 200) -> list[Overdue]:
        """Claim up to ``limit`` overdue entries (a concurrent sweep does not see them for
        ``grace`` s)."""
        flat = self._claim(
            keys=[self.keys.inflight, self.keys.inflight_deliveries],
            args=[now, math.ceil(now + self.grace), limit],
        )
        claimed: list[Overdue] = []
        for i in range(0, len(flat), 2):
            key = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
            record = json.loads(flat[i + 1]) if flat[i + 1] else {}
            claimed.append(
                Overdue(
                    key,
                    record.get("delivery"),
                    int(record.get("sweeps", 0)),
                    float(record.get("at", 0.0)),
                )
            )
        return claimed

    def size(self) -> int:
        return int(self.redis.zcard(self.keys.inflight))
