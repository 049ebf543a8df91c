"""Re-crawl progress: counters of one run in a Redis hash, and their one-line rendering.

Owned here: what the counters are (total, done, changed, unchanged, failed; remaining is
derived) and how an outcome label of the pipeline counts. The lead's CLI polls ``snapshot``
and prints ``render_progress``; the tasks call ``grow`` and ``add``.
"""

from __future__ import annotations

from tasks.rediskeys import Keys

PROGRESS_TTL = 7 * 86_400  # seconds a run's counters are kept after its last change
COUNTERS = ("total", "done", "changed", "unchanged", "failed", "polls")  # polls: still to run
# How a pipeline outcome (tasks.models.Outcome values) counts; any other label only counts as done.
CHANGED = frozenset({"stored", "revised", "duplicate"})
UNCHANGED = frozenset({"unchanged", "seen", "dropped_duplicate"})
FAILED = frozenset({"failed", "disallowed"})


def bucket_of(outcome: str) -> str | None:
    """The counter (besides ``done``) an outcome label adds to."""
    for name, labels in (("changed", CHANGED), ("unchanged", UNCHANGED), ("failed", FAILED)):
        if outcome in labels:
            return name
    return None


class RecrawlProgress:
    """The counters of one re-crawl run (``keys.recrawl(run_id)``)."""

    def __init__(self, redis, keys: Keys, run_id: str) -> None:
        self.redis, self.key, self.run_id = redis, keys.recrawl(run_id), run_id

    def start(self, total: int, polls: int = 0) -> None:
        """Reset the counters; ``total`` entries and ``polls`` feed polls are expected (each
        poll's entries are added by ``grow``, and the poll is counted off by ``poll_done``)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.key)
        first = {"total": int(total), "polls": int(polls)}
        pipe.hset(self.key, mapping={name: 0 for name in COUNTERS} | first)
        pipe.expire(self.key, PROGRESS_TTL)
        pipe.execute()

    def grow(self, count: int) -> None:
        """More entries were queued (a polled feed's entries)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(self.key, "total", int(count))
        pipe.expire(self.key, PROGRESS_TTL)
        pipe.execute()

    def poll_done(self, more: int = 0) -> None:
        """A planning step or feed poll of the run has finished (its entries were added by
        ``grow``), having queued ``more`` feed polls."""
        self.redis.hincrby(self.key, "polls", int(more) - 1)

    def add(self, outcome: str) -> None:
        """One entry finished with ``outcome``; one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(self.key, "done", 1)
        bucket = bucket_of(str(outcome))
        if bucket:
            pipe.hincrby(self.key, bucket, 1)
        pipe.expire(self.key, PROGRESS_TTL)
        pipe.execute()

    def snapshot(self) -> dict:
        raw = self.redis.hgetall(self.key)
        values = {name: int(raw.get(name.encode(), 0)) for name in COUNTERS}
        values["remaining"] = max(0, values["total"] - values["done"])
        return values


def render_progress(snapshot: dict, width: int = 40, tty: bool = True) -> str:
    """A progress bar line for a terminal, a plain summary line otherwise (logs, pipes)."""
    total, done = int(snapshot.get("total", 0)), int(snapshot.get("done", 0))
    share = min(1.0, done / total) if total else 0.0
    counts = ", ".join(f"{snapshot.get(n, 0)} {n}" for n in ("changed", "unchanged", "failed"))
    if not tty:
        remaining = snapshot.get("remaining", max(0, total - done))
        return f"re-crawl: {done}/{total} done ({share:.0%}), {counts}, {remaining} remaining"
    filled = int(round(share * width))
    bar = "\u2588" * filled + "\u2591" * (width - filled)
    return f"[{bar}] {share:4.0%} {done}/{total} \u00b7 {counts}"
