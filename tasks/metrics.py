"""Operational counters of the service, and their reading for `status --json` and Prometheus.

Owned here: what is counted and how it is kept. Every counter lives in Redis (hashes under
``keys.metrics(...)`` and the per-feed ``feed_stats`` hash the tasks already kept), so every
worker process on every machine adds into one total and a worker restart loses nothing; the
metrics endpoint (worker.metrics) only reads and renders.

Recording, from few places: :func:`count` (one pipeline outcome of a feed; tasks.jobs.count),
:func:`poll` (one poll's outcome; the poll task), :func:`deferral` (a politeness deferral;
the ingest task), :func:`beat_tick` (the beat tick task), and :class:`CountingHttpClient`
(every fetch, by kind and outcome; tasks.services builds it).

Reading: :func:`families` gathers everything into Prometheus families; :func:`render` writes
the text exposition format (version 0.0.4).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import redis

from config.settings import DAY
from tasks.errors import IngestError
from tasks.fetch.http import HttpClient
from tasks.formats import as_text
from tasks.models import FetchedPage
from tasks.rediskeys import Keys

log = logging.getLogger(__name__)

# A poll's PollResult.status -> the outcome label of newsworker_polls_total.
POLL_OUTCOMES = {
    "ok": "200",
    "unchanged": "200",
    "not_modified": "304",
    "error": "error",
    "deferred": "deferred",
}
STORED_OUTCOMES = ("stored", "revised", "unchanged", "duplicate")  # the article is in the store
DEDUPE_OUTCOMES = ("seen", "duplicate", "dropped_duplicate")  # dedupe said "had it already"
NEW_KEPT = 2 * DAY  # seconds the per-hour new-article buckets are kept


# --- recording ---------------------------------------------------------------------------


def count(client: redis.Redis, keys: Keys, feed_id: str, outcome: str, now: float) -> None:
    """One pipeline outcome of a feed (stored, revised, duplicate, failed, error_<kind>, ...);
    a newly stored article also stamps the feed's freshness and its hour bucket."""
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(keys.feed_stats(feed_id), outcome, 1)
    if outcome == "stored":
        pipe.hset(keys.metrics("last-new"), feed_id, now)
        pipe.hincrby(keys.new_by_hour(feed_id), str(int(now // 3600)), 1)
        pipe.expire(keys.new_by_hour(feed_id), NEW_KEPT)
    pipe.execute()


def poll(client: redis.Redis, keys: Keys, feed_id: str, status: str, host: str | None) -> None:
    """One poll's outcome: 200 (new body or the same one), 304, error or deferred."""
    outcome = POLL_OUTCOMES.get(status)
    if outcome is None:
        return
    client.hincrby(keys.metrics("polls"), f"{feed_id}|{outcome}", 1)
    if outcome == "deferred" and host:
        deferral(client, keys, host)


def deferral(client: redis.Redis, keys: Keys, host: str) -> None:
    """A task deferred because the host had no request budget (or asked us to wait)."""
    client.hincrby(keys.metrics("deferrals"), host, 1)


def beat_tick(client: redis.Redis, keys: Keys, now: float) -> None:
    """The beat tick ran (for `newsworker health` and the metrics)."""
    client.hset(keys.metrics("beat"), "tick", now)


def fetch_outcome(page: FetchedPage | None, error: IngestError | None) -> str:
    if error is not None:
        return error.kind
    if page is not None and page.status == 304:
        return "not_modified"
    return "ok"


class CountingHttpClient(HttpClient):
    """The HTTP client that counts every fetch by kind (feed, page, robots) and outcome
    (ok, not_modified, or the error kind) in Redis. A Redis failure loses the count, never
    the fetch."""

    def __init__(self, settings, client: redis.Redis, keys: Keys, **kwargs) -> None:
        super().__init__(settings, **kwargs)
        self.counter_redis, self.counter_key = client, keys.metrics("fetches")

    def get(
        self,
        url: str,
        *,
        kind: str = "page",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchedPage:
        try:
            page = super().get(url, kind=kind, headers=headers, max_bytes=max_bytes)
        except IngestError as exc:
            self._count(kind, fetch_outcome(None, exc))
            raise
        self._count(kind, fetch_outcome(page, None))
        return page

    def _count(self, kind: str, outcome: str) -> None:
        try:
            self.counter_redis.hincrby(self.counter_key, f"{kind}|{outcome}", 1)
        except redis.RedisError as exc:
            log.debug("fetch not counted: %s", exc)


# --- reading -----------------------------------------------------------------------------


def feed_stats(client: redis.Redis, keys: Keys, feed_ids: Sequence[str]) -> dict[str, dict]:
    """Feed id -> its outcome counters (one round trip)."""
    pipe = client.pipeline(transaction=False)
    for feed_id in feed_ids:
        pipe.hgetall(keys.feed_stats(feed_id))
    return {
        feed_id: {as_text(k): int(v) for k, v in raw.items()}
        for feed_id, raw in zip(feed_ids, pipe.execute(), strict=True)
    }


def stored_and_failed(stats: Mapping[str, int]) -> tuple[int, int]:
    return sum(stats.get(n, 0) for n in STORED_OUTCOMES), stats.get("failed", 0)


def new_last_day(
    client: redis.Redis, keys: Keys, feed_ids: Sequence[str], now: float
) -> dict[str, int]:
    """Feed id -> articles newly stored in the last 24 hours (whole-hour buckets)."""
    pipe = client.pipeline(transaction=False)
    for feed_id in feed_ids:
        pipe.hgetall(keys.new_by_hour(feed_id))
    first_hour = int((now - DAY) // 3600) + 1
    return {
        feed_id: sum(int(v) for h, v in raw.items() if int(h) >= first_hour)
        for feed_id, raw in zip(feed_ids, pipe.execute(), strict=True)
    }


def labelled(client: redis.Redis, key: str, *names: str) -> list[tuple[dict[str, str], int]]:
    """A counter hash whose fields are label values joined by | -> (labels, value) pairs."""
    out = []
    for k, v in client.hgetall(key).items():
        values = as_text(k).split("|", len(names) - 1)
        if len(values) == len(names):
            out.append((dict(zip(names, values, strict=True)), int(v)))
    return sorted(out, key=lambda item: sorted(item[0].items()))


def sent_at(raw: bytes | None) -> float | None:
    """When a queued message was sent (the sent_at header worker.app stamps), if known."""
    if not raw:
        return None
    try:
        value = json.loads(raw).get("headers", {}).get("sent_at")
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def queue_info(client: redis.Redis, queues: Iterable[str], now: float) -> dict[str, dict]:
    """Queue -> depth and the age of its oldest message (kombu pushes on the left and takes
    from the right, so the oldest is the last element)."""
    names = list(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        pipe.llen(queue)
        pipe.lindex(queue, -1)
    raw = pipe.execute()
    out = {}
    for i, queue in enumerate(names):
        sent = sent_at(raw[2 * i + 1])
        age = round(max(0.0, now - sent), 1) if sent is not None else None
        out[queue] = {"depth": int(raw[2 * i]), "oldest_age": age}
    return out


def last_beat_tick(client: redis.Redis, keys: Keys) -> float | None:
    raw = client.hget(keys.metrics("beat"), "tick")
    return float(raw) if raw else None


def last_new_article(client: redis.Redis, keys: Keys) -> dict[str, float]:
    return {as_text(k): float(v) for k, v in client.hgetall(keys.metrics("last-new")).items()}


# --- Prometheus families -----------------------------------------------------------------


@dataclass
class Family:
    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def families(
    client: redis.Redis,
    keys: Keys,
    settings,
    *,
    queues: Sequence[str],
    store_articles: int | None,
    now: float,
) -> list[Family]:
    """Every newsworker_* metric, read from Redis (and the store's article count)."""
    from tasks.poll.registry import FeedRegistry

    registry = FeedRegistry(client, keys, settings)
    ids = [f.id for f in registry.feeds()]
    stats = feed_stats(client, keys, ids)
    out = [
        *outcome_families(stats),
        *counter_families(client, keys),
        *queue_families(client, queues, now),
        *freshness_families(registry, ids, last_new_article(client, keys), now),
    ]
    return out + service_families(client, keys, registry, store_articles, now)


def outcome_families(stats: Mapping[str, Mapping[str, int]]) -> list[Family]:
    articles = Family(
        "newsworker_articles_total",
        "counter",
        "Entries by feed and outcome (stored, revised, unchanged, duplicate, failed, ...).",
    )
    errors = Family(
        "newsworker_ingest_errors_total",
        "counter",
        "Transient page failures (each try) by feed and error kind.",
    )
    dedupe = Family(
        "newsworker_dedupe_hits_total",
        "counter",
        "Entries dedupe recognised: seen (same entry), duplicate (kept), dropped_duplicate.",
    )
    hits = dict.fromkeys(DEDUPE_OUTCOMES, 0)
    for feed_id, counters in sorted(stats.items()):
        for outcome, value in sorted(counters.items()):
            if outcome.startswith("error_"):
                errors.add(value, feed=feed_id, kind=outcome[len("error_") :])
            else:
                articles.add(value, feed=feed_id, outcome=outcome)
            if outcome in hits:
                hits[outcome] += value
    for kind, value in hits.items():
        dedupe.add(value, kind=kind)
    return [articles, errors, dedupe]


def counter_families(client: redis.Redis, keys: Keys) -> list[Family]:
    polls = Family(
        "newsworker_polls_total", "counter", "Feed polls by feed and outcome (200, 304, error)."
    )
    for labels, value in labelled(client, keys.metrics("polls"), "feed", "outcome"):
        polls.add(value, **labels)
    fetches = Family(
        "newsworker_fetches_total",
        "counter",
        "HTTP fetches by kind (feed, page, robots) and outcome (ok, not_modified, error kind).",
    )
    for labels, value in labelled(client, keys.metrics("fetches"), "kind", "outcome"):
        fetches.add(value, **labels)
    deferrals = Family(
        "newsworker_politeness_deferrals_total",
        "counter",
        "Tasks deferred because a host had no request budget, by host.",
    )
    for labels, value in labelled(client, keys.metrics("deferrals"), "host"):
        deferrals.add(value, **labels)
    return [polls, fetches, deferrals]


def queue_families(client: redis.Redis, queues: Sequence[str], now: float) -> list[Family]:
    depth = Family("newsworker_queue_depth", "gauge", "Messages waiting in a broker queue.")
    age = Family(
        "newsworker_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest message waiting in a queue (0 when empty).",
    )
    for queue, info in queue_info(client, queues, now).items():
        depth.add(info["depth"], queue=queue)
        age.add(info["oldest_age"] or 0.0, queue=queue)
    return [depth, age]


def freshness_families(
    registry, ids: Sequence[str], last_new: Mapping[str, float], now: float
) -> list[Family]:
    new = Family(
        "newsworker_feed_seconds_since_new_article",
        "gauge",
        "Seconds since the feed's last newly stored article.",
    )
    success = Family(
        "newsworker_feed_seconds_since_success",
        "gauge",
        "Seconds since the feed's last successful poll.",
    )
    failing = Family(
        "newsworker_feed_failing_seconds",
        "gauge",
        "Seconds the feed has been failing (0 when its last poll succeeded).",
    )
    for feed_id, state in registry.states(ids).items():
        if feed_id in last_new:
            new.add(round(now - last_new[feed_id], 1), feed=feed_id)
        if state.last_success:
            success.add(round(now - state.last_success, 1), feed=feed_id)
        since = state.error_since if state.last_status == "error" else None
        failing.add(round(now - since, 1) if since else 0.0, feed=feed_id)
    return [new, success, failing]


def service_families(
    client, keys: Keys, registry, store_articles: int | None, now: float
) -> list[Family]:
    def gauge(name: str, help: str, value: float | None) -> Family:
        fam = Family(f"newsworker_{name}", "gauge", help)
        if value is not None:
            fam.add(value)
        return fam

    tick = last_beat_tick(client, keys)
    synced = registry.synced_file()
    return [
        gauge("failed_entries", "Records in the failed list.", client.llen(keys.failed)),
        gauge("store_articles", "Articles in the store.", store_articles),
        gauge(
            "beat_tick_age_seconds",
            "Seconds since the beat tick last ran.",
            round(now - tick, 1) if tick is not None else None,
        ),
        gauge("network_down", "1 while the network looks down.", int(registry.network_is_down())),
        gauge(
            "feeds_file_loaded",
            "1 when the feeds file was loaded (0: the last good list is in force).",
            int(bool(synced.get("synced")) and not synced.get("error")),
        ),
        gauge("feeds", "Feeds in the registry.", len(registry.feeds())),
    ]


# --- text exposition ---------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return str(int(value))
    return repr(float(value))


def render(fams: Iterable[Family]) -> str:
    """The Prometheus text format: HELP and TYPE, then one line per sample."""
    lines = []
    for fam in fams:
        lines.append(f"# HELP {fam.name} {_escape(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for labels, value in fam.samples:
            body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            lines.append(
                f"{fam.name}{{{body}}} {_number(value)}" if body else f"{fam.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"
