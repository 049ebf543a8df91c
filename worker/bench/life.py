"""The entry's life without Celery: every page of the bench's web taken through
tasks.ingest.entry.run and the storage task's save, one after another in one thread of the
bench process, with the CPU of that thread split by part.

What it tells: the CPU an article costs beside its clean in any engine built on these parts
(requests, the Redis state, the MinHash check, the store), before Celery, threads or a
second process add theirs. The clean alone over that total is the most of the cleaner-only
bound such an engine can reach when the CPU is the limit.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from config.settings import load_settings
from tasks import jobs
from tasks.dedupe import entry_key
from tasks.ingest import entry as life
from tasks.models import FeedEntry
from tasks.services import Resources

PARTS = ("clean", "fetch", "near-duplicate check", "store")


@dataclass
class LifeRun:
    articles: int = 0
    cpu: float = 0.0  # CPU seconds of the driving thread, all parts included
    parts: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def per_article_ms(self, part: str | None = None) -> float:
        spent = self.cpu if part is None else self.parts[part]
        return 1000 * spent / max(self.articles, 1)

    def rest_ms(self) -> float:
        return self.per_article_ms() - sum(self.per_article_ms(p) for p in PARTS)


def _timed(parts: defaultdict[str, float], name: str, func: Callable) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            parts[name] += time.thread_time() - start

    return timed


@contextlib.contextmanager
def _parts_timed(r: Resources, parts: defaultdict[str, float]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for target, attr, name in (
            (life, "clean_html", "clean"),
            (r.http, "get", "fetch"),
            (r.duplicates, "find", "near-duplicate check"),
            (r.store, "upsert", "store"),
        ):
            stack.enter_context(
                mock.patch.object(target, attr, _timed(parts, name, getattr(target, attr)))
            )
        yield


def entry_life(pages: list[tuple[str, str]], env: dict[str, str]) -> LifeRun:
    """Each (page URL, feed URL) through the entry's life and the store, in this thread.
    ``env``: the service's settings (a private Redis and store)."""
    r = Resources(load_settings(env))
    svc = jobs.services(r)
    entries = [
        FeedEntry(key=entry_key(url, url, None, None), feed_id="bench", feed_url=feed, link=url)
        for url, feed in pages
    ]
    run = LifeRun()
    try:
        for host_page in {e.link.split("/", 3)[2]: e.link for e in entries if e.link}.values():
            svc.politeness.allowed(host_page, time.time())  # robots.txt read once per host first
        with _parts_timed(r, run.parts):
            start = time.thread_time()
            for entry in entries:
                step = life.run(life.Delivery(entry), svc, time.time())
                if isinstance(step, life.Store):
                    jobs.save(r, step.article, entry.key, step.token, None)
                    run.articles += 1
            run.cpu = time.thread_time() - start
    finally:
        r.close()
    return run


def describe(run: LifeRun, clean_alone: float) -> str:
    """One line: the life's CPU per article by part, and the share of the bound it allows."""
    parts = ", ".join(f"{p} {run.per_article_ms(p):.1f}" for p in PARTS)
    line = (
        f"entry's life without Celery (one thread, {run.articles} articles): "
        f"{run.per_article_ms():.1f} ms of CPU an article ({parts}, Redis and the rest "
        f"{run.rest_ms():.1f})"
    )
    if clean_alone:
        share = 100 * clean_alone / (run.cpu / max(run.articles, 1))
        line += f": any engine on these parts reaches at most {share:.0f} % of the bound"
    return line
