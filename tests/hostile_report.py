"""Run every hostile case against the fetcher and print a table: case, outcome, seconds, RSS.

    .venv/bin/python -m tests.hostile_report

The server runs in this process; each case is fetched in a fresh child process so that its
peak RSS (ru_maxrss) is the fetcher's own. This is a CLI-style script, so it prints.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid

import redis

from tests.hostile import (
    CASES,
    POLITE_BURST,
    POLITE_RATE,
    crawl_in_processes,
    hostile_settings,
    install,
    run_case,
)
from tests.httpserver import LocalServer, Reply, quiet

REDIS_URL = os.environ.get("NEWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def child(url: str, index: int) -> None:
    """Fetch one case and print {outcome, seconds, rss_mb} as JSON."""
    from tasks.fetch.http import HttpClient
    from tasks.fetch.politeness import Politeness
    from tasks.rediskeys import Keys

    case = CASES[index]
    settings = hostile_settings()
    client = HttpClient(settings)
    prefix = f"report-{uuid.uuid4().hex[:12]}"
    r = redis.Redis.from_url(REDIS_URL)
    politeness = Politeness(r, Keys(prefix), settings, client)
    started = time.monotonic()
    outcome, result = run_case(client, case, url, politeness)
    stage = next_stage(case, result) if outcome == "ok" and hasattr(result, "body") else "-"
    seconds = time.monotonic() - started
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)
    detail = _detail(result)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "outcome": outcome,
                "stage": stage,
                "seconds": seconds,
                "rss_mb": rss,
                "detail": detail,
            }
        )
    )


def next_stage(case, page) -> str:
    """What the worker makes of a fetched body: the cleaner for pages, the parser for feeds."""
    from tasks.clean import clean_html
    from tasks.errors import IngestError
    from tasks.feed.parse import parse_feed

    try:
        if case.kind == "feed":
            parsed = parse_feed(page.body, url=page.url, headers=page.headers)
            return f"{len(parsed.entries)} entries"
        article = clean_html(page.body, page.url, encoding=page.encoding)
        return f"article, {article.word_count} words"
    except IngestError as exc:
        return exc.kind


def _detail(result) -> str:
    if hasattr(result, "body"):
        return f"{result.status}, {len(result.body)} bytes, encoding={result.encoding}"
    if getattr(result, "retry_after", None) is not None:
        return f"{result.status}, retry_after={result.retry_after:.0f}s"
    return str(result)[:60]


def main() -> int:
    with quiet(LocalServer()) as server:
        install(server)
        rows = [_run(server, i) for i in range(len(CASES))]
    print(
        f"{'case':30} {'expected':14} {'fetch':14} {'then (clean / parse)':24} "
        f"{'seconds':>7} {'peak RSS MB':>11}  detail"
    )
    for case, row in zip(CASES, rows, strict=True):
        mark = "" if row["outcome"] == case.expect else "  <-- UNEXPECTED"
        print(
            f"{case.name:30} {case.expect:14} {row['outcome']:14} {row['stage']:24} "
            f"{row['seconds']:7.2f} {row['rss_mb']:11.1f}  {row['detail'][:50]}{mark}"
        )
    polite_ok = politeness_run()
    ok = all(r["outcome"] == c.expect for c, r in zip(CASES, rows, strict=True))
    return 0 if ok and polite_ok else 1


def politeness_run(pages: int = 30, processes: int = 2) -> bool:
    """Two OS processes, one host: print the rate the server saw against the configured one."""
    prefix = f"report-{uuid.uuid4().hex[:12]}"
    with quiet(LocalServer()) as server:
        for i in range(pages):
            server.route(f"/p{i}", Reply(200, {"Content-Type": "text/html"}, b"<p>x</p>"))
        codes = crawl_in_processes(
            server, prefix, [f"/p{i}" for i in range(pages)], processes, REDIS_URL
        )
        times = sorted(r.at for r in server.requests)
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)
    span = times[-1] - times[0]
    window = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    print(
        f"\npoliteness: {processes} processes, {len(times)} pages, one host, rate "
        f"{POLITE_RATE:g}/s burst {POLITE_BURST}: span {span:.2f} s "
        f"(ideal {(pages - POLITE_BURST) / POLITE_RATE:.2f} s), "
        f"most requests in any 1 s window {window} (limit {POLITE_BURST + POLITE_RATE:g}), "
        f"exit codes {codes}"
    )
    return codes == [0] * processes and window <= POLITE_BURST + POLITE_RATE


def _run(server: LocalServer, index: int) -> dict:
    url = server.url(CASES[index].path)
    cmd = [sys.executable, "-m", "tests.hostile_report", "--child", url, str(index)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode:
        return {
            "outcome": "crashed",
            "stage": "-",
            "seconds": 0.0,
            "rss_mb": 0.0,
            "detail": done.stderr[-200:],
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
