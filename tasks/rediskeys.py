"""Redis key names: every key of the service comes from one of these small functions.

Keys share one prefix (``NEWS_REDIS_PREFIX``, default ``news``) so that tests and several
deployments can share a server. Keys holding a feed id or host embed them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "news"

    # scheduling (tasks.poll.schedule)
    @property
    def schedule(self) -> str:
        """Sorted set: feed id -> next poll time (unix seconds)."""
        return f"{self.prefix}:schedule"

    @property
    def feeds(self) -> str:
        """Hash: feed id -> FeedSource JSON (the feeds file as last synced)."""
        return f"{self.prefix}:feeds"

    def feed_state(self, feed_id: str) -> str:
        """Hash: the FeedState of one feed."""
        return f"{self.prefix}:feed:{feed_id}:state"

    @property
    def feeds_file(self) -> str:
        """Hash: signature (path, mtime, size) of the feeds file last synced, and its error."""
        return f"{self.prefix}:feeds-file"

    @property
    def network(self) -> str:
        """Hash: recent connection failures by host, for the network-down detector."""
        return f"{self.prefix}:network"

    # dedupe (tasks.dedupe)
    def seen(self, bucket: str) -> str:
        return f"{self.prefix}:seen:{bucket}"

    def lease(self, entry_key: str) -> str:
        return f"{self.prefix}:lease:{entry_key}"

    @property
    def inflight(self) -> str:
        """Sorted set: entry key -> when the sweep looks at the entry in flight next
        (tasks.ingest.inflight)."""
        return f"{self.prefix}:inflight"

    @property
    def inflight_deliveries(self) -> str:
        """Hash: entry key -> the delivery (JSON) the sweep sends again if its message is lost."""
        return f"{self.prefix}:inflight:deliveries"

    def crashes(self, entry_key: str) -> str:
        """Counter: runs of one entry's ingest that never ended (the worker process died)."""
        return f"{self.prefix}:crashes:{entry_key}"

    @property
    def neardup(self) -> str:
        """Base of the duplicate index's bucket strings (tasks.dedupe.duplicates appends
        ``:b:<slice>:<n>`` for band records and ``:r:<slice>:<n>`` for article records). The
        braces are a Redis Cluster hash tag: one script reads buckets it only learns of while
        it runs, so they must all sit in one slot."""
        return f"{{{self.prefix}:nd}}"

    # politeness (tasks.fetch.politeness)
    def rate(self, host: str) -> str:
        return f"{self.prefix}:rate:{host}"

    def host_pause(self, host: str) -> str:
        return f"{self.prefix}:pause:{host}"

    def robots(self, host: str) -> str:
        return f"{self.prefix}:robots:{host}"

    def robots_lock(self, origin: str) -> str:
        """String with a TTL: one worker is fetching this origin's robots.txt."""
        return f"{self.prefix}:robots-lock:{origin}"

    # counters and operations
    def feed_stats(self, feed_id: str) -> str:
        """Hash: counters of one feed (entries, stored, failed by kind, ...)."""
        return f"{self.prefix}:feed:{feed_id}:stats"

    @property
    def failed(self) -> str:
        """List of failed entry messages (JSON), for `newsworker retry-failed`."""
        return f"{self.prefix}:failed"

    def recrawl(self, run_id: str) -> str:
        """Hash: progress counters of one re-crawl run."""
        return f"{self.prefix}:recrawl:{run_id}"

    # operations (tasks.metrics)
    def metrics(self, name: str) -> str:
        """Hash: one family of service-wide counters (field: label values joined by |)."""
        return f"{self.prefix}:metrics:{name}"

    def new_by_hour(self, feed_id: str) -> str:
        """Hash: hour (unix s // 3600) -> articles newly stored for one feed, kept 2 days."""
        return f"{self.prefix}:feed:{feed_id}:new-by-hour"
