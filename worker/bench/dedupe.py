"""`newsworker bench dedupe DIR`: recall and false links of the duplicate index on a corpus
generated from the dev pages (worker.bench.dupcorpus), its Redis bytes per remembered
article, and checks per second.

Recall: every original is remembered in a scratch index, then each copy is checked (find);
a copy counts as linked when find names its own original. The goal counts copies whose body
shares >= 60 % of its word 3-shingles (exact Jaccard) with the original; copies below are
listed apart. False links: any find naming a story that is not the copy's original, among
distinct originals (each checked against all earlier ones), same-site pages as our cleaner
extracts them, one template around every story, outlets' own reports of one event, and
short stories on one template. Memory: ``--articles`` articles remembered with stamps spread
over the TTL (every slice alive), the server's ``used_memory`` delta and MEMORY USAGE of the
buckets, divided by the count. All keys of the run are deleted at the end, also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import time
import uuid
from collections import defaultdict
from pathlib import Path

import redis

from tasks.dedupe import content_hash
from tasks.dedupe.duplicates import BAND, RECORD, DuplicateIndex
from tasks.dedupe.fingerprint import (
    agreeing,
    estimated_jaccard,
    jaccard,
    minhash,
    shingles,
    signature_bytes,
    tokens,
)
from tasks.models import Article, article_id
from tasks.rediskeys import Keys
from worker.bench import dupcorpus as corpus
from worker.bench.seen import cleanup, private_server, used_memory
from worker.cli.common import CliError

DEFAULT_URL = "redis://127.0.0.1:6379/15"
TTL = 30 * 86_400
GOAL_JACCARD = 0.6


def add_dedupe_parser(bench_subparsers) -> argparse.ArgumentParser:
    """Add `dedupe` to the `newsworker bench` sub-commands."""
    parser = bench_subparsers.add_parser("dedupe", help="Recall, false links, memory of dedupe.")
    parser.add_argument("dir", help="folder with html/<id>.html.gz and ground-truth.json")
    parser.add_argument("--copies", type=int, default=2, help="Copies per story and edit kind.")
    parser.add_argument("--articles", type=int, default=20_000, help="Articles for the memory.")
    parser.add_argument("--threshold", type=float, default=None, help="Confirming Jaccard.")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("NEWS_REDIS_URL") or DEFAULT_URL,
        help="A Redis to use (a scratch key prefix is used and removed).",
    )
    parser.add_argument(
        "--private-server", action="store_true", help="Start a private redis-server."
    )
    parser.set_defaults(func=run)
    return parser


def article(story: corpus.Story, url: str) -> Article:
    body = story.body
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=story.title,
        body=body,
        fetched_at="2019-11-20T00:00:00+00:00",
        content_hash=content_hash(body),
        word_count=len(body.split()),
    )


def load_stories(folder: Path) -> tuple[list[corpus.Story], dict[str, list[str]]]:
    """(stories from the ground-truth bodies, titles by our cleaner; our cleaner's bodies of
    the pages grouped by site, for the same-site pairs)."""
    from tasks.clean import clean_html
    from tasks.errors import NoContentError
    from tasks.formats import host_of
    from worker.cli.bench import load_pages

    stories, by_site = [], defaultdict(list)
    for key, (html, url, truth) in load_pages(folder).items():
        try:
            cleaned = clean_html(html, url, fetched_at="1970-01-01T00:00:00+00:00")
        except NoContentError:
            cleaned = None
        if cleaned:
            by_site[host_of(url)].append(cleaned.body)
        if truth.strip():
            stories.append(corpus.story_from_truth(key, truth, cleaned.title if cleaned else ""))
    return stories, {h: bodies for h, bodies in by_site.items() if len(bodies) > 1}


class Run:
    """One scratch index and the tallies of a bench run."""

    def __init__(self, client: redis.Redis, prefix: str, threshold: float | None) -> None:
        self.client, self.prefix, self.threshold = client, prefix, threshold
        self.check_seconds, self.checks = 0.0, 0
        self.false_links: defaultdict[str, int] = defaultdict(int)
        self.compared: defaultdict[str, int] = defaultdict(int)
        self.wrong: list[str] = []
        self.via_copy = 0  # copies linked to an earlier copy of their story
        self.highest: dict[str, tuple[float, float]] = {}  # set -> (max exact J, max est J)

    def closest(self, name: str, bodies: list[str], pairs=None) -> None:
        """The highest exact and estimated Jaccard among pairs that must never be linked
        (all pairs of ``bodies``, or the given index pairs): the margin the threshold has."""
        sets = [shingles(b) for b in bodies]
        sigs = [signature_bytes(minhash(x)) for x in sets]
        pairs = pairs or [(i, j) for i in range(len(bodies)) for j in range(i)]
        exact = max((jaccard(sets[i], sets[j]) for i, j in pairs), default=0.0)
        est = max((estimated_jaccard(agreeing(sigs[i], sigs[j])) for i, j in pairs), default=0.0)
        old = self.highest.get(name, (0.0, 0.0))
        self.highest[name] = (max(old[0], exact), max(old[1], est))

    def index(self, name: str) -> DuplicateIndex:
        slug = re.sub(r"\W+", "-", name).strip("-")
        keys = Keys(f"{self.prefix}-{slug}")
        if self.threshold is None:
            return DuplicateIndex(self.client, keys, ttl=TTL)
        return DuplicateIndex(self.client, keys, ttl=TTL, threshold=self.threshold)

    def find(self, index: DuplicateIndex, art: Article, now: float) -> str | None:
        began = time.perf_counter()
        found = index.find(art, now)
        self.check_seconds += time.perf_counter() - began
        self.checks += 1
        return found

    def distinct(
        self, name: str, stories: list[corpus.Story], tag: str, one_site: bool = True
    ) -> DuplicateIndex:
        """Remember stories one by one, each checked first: any link is a false one. On one
        site (its host) or each on a site of its own (the stricter test: the same-site
        threshold is higher)."""
        index, now = self.index(name), time.time()
        self.closest(name, [s.body for s in stories])
        for i, s in enumerate(stories):
            host = f"{tag}.example" if one_site else f"{tag}{i}.example"
            art = article(s, f"https://{host}/{i}")
            if self.find(index, art, now):
                self.false_links[name] += 1
            index.remember(art, now)
            self.compared[name] += i
        return index


def recall(run: Run, stories: list[corpus.Story], copies: int) -> dict[str, list]:
    """kind -> [(exact J, estimated J, linked to its story)]. A copy found new is claimed
    (as in the service), so a later copy may link to it: the same story, counted linked."""
    index, now = run.index("copies"), time.time()
    originals, story_of = {}, {}
    for i, s in enumerate(stories):
        originals[s.key] = article(s, f"https://origin.example/{i}")
        story_of[originals[s.key].id] = s.key
        index.remember(originals[s.key], now)
    rows: dict[str, list] = defaultdict(list)
    for kind, edit in corpus.EDITS.items():
        for n in range(copies):
            rng = random.Random(f"{kind}-{n}")
            for i, s in enumerate(stories):
                others = [o for o in stories if o.key != s.key]
                copy = article(edit(s, rng, others), f"https://partner{n}.example/{kind}/{i}")
                story_of[copy.id] = s.key
                found = run.find(index, copy, now)
                if found and found != originals[s.key].id:
                    run.via_copy += 1
                rows[kind].append(
                    (
                        *similarity(originals[s.key].body, copy.body),
                        story_of.get(found or "") == s.key,
                    )
                )
                if found and story_of.get(found, "") != s.key:
                    run.false_links["copies linked to another story"] += 1
                    other = story_of.get(found, "?")
                    run.wrong.append(f"{kind}: copy of {s.key[:12]} -> {other[:12]}")
    return rows


def similarity(a: str, b: str) -> tuple[float, float]:
    """(exact Jaccard of the 3-shingle sets, the estimate from the index's signatures)."""
    sa, sb = shingles(a), shingles(b)
    est = estimated_jaccard(agreeing(signature_bytes(minhash(sa)), signature_bytes(minhash(sb))))
    return jaccard(sa, sb), est


def short_recall(run: Run, stories: list[corpus.Story]) -> tuple[dict[str, list], int]:
    shorts = [x for x in (corpus.short_story(s) for s in stories) if x]
    index, now = run.distinct("short stories", shorts, "short", one_site=False), time.time()
    rows: dict[str, list] = defaultdict(list)
    for i, s in enumerate(shorts):
        want = article_id(f"https://short{i}.example/{i}")
        for kind, copy in corpus.short_copies(s, random.Random(i)).items():
            found = run.find(index, article(copy, f"https://p.example/{kind}/{i}"), now)
            rows[kind].append((*similarity(s.body, copy.body), found == want))
            if found and found != want:
                run.false_links["copies linked to another story"] += 1
    chrome = corpus.short_same_template(shorts)
    run.distinct("short stories, one template", chrome, "st")
    run.distinct("short, chain template, many sites", chrome, "chain", one_site=False)
    return rows, len(shorts)


def negatives(run: Run, stories: list[corpus.Story], by_site: dict[str, list[str]]) -> None:
    run.distinct("distinct stories", stories, "distinct", one_site=False)
    run.distinct("one template, other stories", corpus.same_template(stories), "template")
    for host, bodies in sorted(by_site.items()):
        pages = [corpus.Story(f"{host}{i}", "", corpus.units_of(b)) for i, b in enumerate(bodies)]
        run.distinct("same-site pages (cleaner output)", pages, host.replace(".", "-"))
    half = len(stories) // 2
    events, outlets = stories[:half], stories[half : 2 * half]
    reports = [corpus.own_report(e, o) for e, o in zip(events, outlets, strict=True)]
    bodies = [x.body for x in (*events, *reports)]
    run.closest("own reports of one event", bodies, [(i, half + i) for i in range(half)])
    index, now = run.index("own reports"), time.time()
    for i, e in enumerate(events):
        index.remember(article(e, f"https://event.example/{i}"), now)
    for i, r in enumerate(reports):
        run.compared["own reports of one event"] += 1
        if run.find(index, article(r, f"https://outlet.example/{i}"), now):
            run.false_links["own reports of one event"] += 1


def memory(run: Run, stories: list[corpus.Story], count: int) -> tuple[float, float, float, int]:
    """(used_memory delta, MEMORY USAGE, payload bytes) per article, bucket count: ``count``
    articles (the stories, then word salad of their vocabulary) stamped over one TTL."""
    index = run.index("memory")
    rng = random.Random(7)
    vocab = " ".join(s.body for s in stories).split()
    start = time.time() - TTL
    before = used_memory(run.client)
    for i in range(count):
        s = stories[i] if i < len(stories) else None
        body = s.body if s else " ".join(rng.choices(vocab, k=rng.randint(150, 300)))
        art = article(corpus.Story(str(i), s.title if s else f"salad {i}", (body,)), f"m/{i}")
        index.remember(art, start + TTL * i / count)
    delta = (used_memory(run.client) - before) / count
    buckets = list(run.client.scan_iter(match=f"{index.keys.neardup}:*", count=5000))
    usage = sum(run.client.memory_usage(k, samples=0) or 0 for k in buckets) / count
    payload = sum(run.client.strlen(k) for k in buckets) / count
    return delta, usage, payload, len(buckets)


def script_usec(client: redis.Redis) -> tuple[int, int]:
    """(microseconds, calls) the server spent in EVALSHA so far."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("usec", 0)), int(stats.get("calls", 0))


def print_recall(rows: dict[str, list], goal_j: float = GOAL_JACCARD) -> tuple[int, int]:
    """The recall table; returns (linked, copies) over copies at J >= goal_j."""
    print(
        f"{'edit':<32} {'copies':>6} {f'J>={goal_j:.1f}':>6} {'linked':>6} {'recall':>7} "
        f"{'J min-max':>10} {'est J min':>9} {f'J<{goal_j:.1f} (linked)':>15}"
    )
    total_in = total_linked = 0
    for kind, items in rows.items():
        goal = [x for x in items if x[0] >= goal_j]
        linked = sum(1 for x in goal if x[2])
        below = [x for x in items if x[0] < goal_j]
        rec = f"{100 * linked / len(goal):6.1f}%" if goal else "     -"
        js = [x[0] for x in items]
        est = min((x[1] for x in goal), default=0.0)
        low = f"{len(below)} ({sum(1 for x in below if x[2])})"
        print(
            f"{kind:<32} {len(items):>6} {len(goal):>6} {linked:>6} {rec:>7} "
            f"{min(js):4.2f}-{max(js):4.2f} {est:>9.2f} {low:>15}"
        )
        total_in, total_linked = total_in + len(goal), total_linked + linked
    return total_linked, total_in


def run(args) -> int:
    if args.copies < 1 or args.articles < 1:
        raise CliError("--copies and --articles must be at least 1")
    if args.threshold is not None and not 0.2 <= args.threshold <= 1.0:
        raise CliError("--threshold must be between 0.2 and 1.0")
    stories, by_site = load_stories(Path(args.dir))
    long_stories = [s for s in stories if len(tokens(s.body)) >= corpus.SHORT_WORDS]
    if len(long_stories) < 3:
        raise CliError(f"{args.dir}: fewer than 3 stories of {corpus.SHORT_WORDS}+ words")
    with contextlib.ExitStack() as stack:
        if args.private_server:
            client, where = stack.enter_context(private_server()), "private redis-server"
        else:
            client, where = redis.Redis.from_url(args.redis_url), args.redis_url
        stack.callback(client.close)
        print(f"redis {client.info('server')['redis_version']} at {where}")
        prefix = f"bench-dedupe-{uuid.uuid4().hex[:8]}"
        stack.callback(cleanup_all, client, prefix)
        return measure(Run(client, prefix, args.threshold), long_stories, by_site, args)


def cleanup_all(client: redis.Redis, prefix: str) -> None:
    """Delete the run's keys: the indexes' ("{<prefix>-<name>:nd}:...") and any other."""
    keys = [*client.scan_iter(match=f"{{{prefix}-*", count=5000)]
    for i in range(0, len(keys), 1000):
        client.unlink(*keys[i : i + 1000])
    cleanup(client, prefix)


def measure(run: Run, stories: list[corpus.Story], by_site: dict, args) -> int:
    index = run.index("probe")
    print(
        f"{len(stories)} stories from {args.dir} ({sum(len(b) for b in by_site.values())} "
        f"pages of {len(by_site)} sites for same-site pairs); threshold {index.threshold} "
        f"({index.need} of 128 values agree)"
    )
    before = script_usec(run.client)
    rows = recall(run, stories, args.copies)
    server = script_usec(run.client)
    usec = (server[0] - before[0]) / max(1, server[1] - before[1])
    linked, total = print_recall(rows)
    print(f"{'all at J >= 0.6':<32} {'':>6} {total:>6} {linked:>6} {100 * linked / total:6.1f}%")
    print(f"(linked: to the original, or to an earlier copy of the same story: {run.via_copy})")
    short_rows, shorts = short_recall(run, stories)
    print(f"short stories (< {corpus.SHORT_WORDS} words, title + lead): {shorts}")
    short_linked, short_total = print_recall(short_rows, goal_j=0.0)  # every short copy counts
    negatives(run, stories, by_site)
    print("false links:")
    for name, pairs in run.compared.items():
        exact, est = run.highest.get(name, (0.0, 0.0))
        print(
            f"  {name:<36} {run.false_links.get(name, 0):>3} in {pairs:,} pairs; "
            f"highest J {exact:.2f}, estimated {est:.2f}"
        )
    wrong = run.false_links.get("copies linked to another story", 0)
    print(f"  {'copies linked to another story':<36} {wrong:>3}")
    for line in run.wrong:
        print(f"    {line}")
    checks_per_s = run.checks / run.check_seconds
    before = script_usec(run.client)
    delta, usage, payload, buckets = memory(run, stories, args.articles)
    after = script_usec(run.client)
    remember_ms = (after[0] - before[0]) / max(1, after[1] - before[1]) / 1000
    print(
        f"memory: {args.articles:,} articles over {TTL // 86_400} d, {buckets} buckets: "
        f"{delta:.1f} bytes/article (used_memory delta), MEMORY USAGE {usage:.1f}, payload "
        f"{payload:.1f} (record {RECORD} + 20 bands x {BAND}); remember: the script's server "
        f"time {remember_ms:.2f} ms per call"
    )
    print(
        f"speed: {checks_per_s:,.0f} checks/s ({run.checks:,} finds, one round trip each; "
        f"the script's server time {usec / 1000:.2f} ms per call, the rest is MinHash in Python)"
    )
    false_total = sum(run.false_links.values())
    ok = linked >= 0.95 * total and false_total == 0 and min(delta, usage) <= 300
    return 0 if ok and short_linked == short_total else 1
