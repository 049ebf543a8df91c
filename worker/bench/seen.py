"""`newsworker bench seen`: Redis bytes per remembered entry of the seen index, and its speed.

Inserts N entry keys into a scratch key prefix (arrival times spread over the TTL, so every
time slice is alive, as in a running service), measures the server's ``used_memory`` delta,
then checks that every inserted key reads as seen and that fresh keys never do. The peer, on
a sample in the same run, is the naive layout: one ``SET key 1 EX ttl`` per entry. All keys
of the run are deleted at the end, also on errors. Other clients of the same server move
``used_memory`` too: run it on a quiet server (or database) for clean figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import redis

from tasks.dedupe import entry_key
from tasks.dedupe.seen import RECORD, SeenIndex
from tasks.rediskeys import Keys
from worker.cli.common import CliError

DEFAULT_URL = "redis://127.0.0.1:6379/15"
TTL = 90 * 86_400
BATCH = 1000  # keys per mark script call
POLL = 100  # keys per lookup call (a large feed poll)


def add_seen_parser(bench_subparsers) -> argparse.ArgumentParser:
    """Add `seen` to the `newsworker bench` sub-commands."""
    parser = bench_subparsers.add_parser("seen", help="Memory and speed of the seen index.")
    parser.add_argument("--entries", type=int, default=1_000_000, help="Entries to insert.")
    parser.add_argument("--sample", type=int, default=100_000, help="Entries for the naive peer.")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("NEWS_REDIS_URL") or DEFAULT_URL,
        help="A Redis to use (a scratch key prefix is used and removed).",
    )
    parser.add_argument(
        "--private-server",
        action="store_true",
        help="Start a private redis-server (unix socket) for figures no other "
        "client disturbs (redis-server on PATH, else the embedded one).",
    )
    parser.set_defaults(func=run)
    return parser


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def make_keys(count: int, tag: str) -> list[str]:
    return [entry_key(f"urn:bench:{tag}:{i}", None, None, None) for i in range(count)]


def insert(index: SeenIndex, entries: list[str], start: float) -> float:
    """Mark all entries, arrival times spread evenly over one TTL; returns seconds taken."""
    began = time.perf_counter()
    for i in range(0, len(entries), BATCH):
        index.mark_many(entries[i : i + BATCH], start + index.ttl * i / len(entries))
    return time.perf_counter() - began


def lookups(index: SeenIndex, entries: list[str], now: float) -> tuple[int, float]:
    """(entries answered "not seen", seconds) for feed-poll sized lookups."""
    began, fresh = time.perf_counter(), 0
    for i in range(0, len(entries), POLL):
        fresh += len(index.unseen(entries[i : i + POLL], now))
    return fresh, time.perf_counter() - began


def naive(client: redis.Redis, keys: Keys, entries: list[str]) -> float:
    """Bytes per entry of one `SET prefix:naive:KEY 1 EX ttl` per entry."""
    before = used_memory(client)
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(entries, 1):
        pipe.set(f"{keys.prefix}:naive:{key}", b"1", ex=TTL)
        if i % BATCH == 0:
            pipe.execute()
    pipe.execute()
    return (used_memory(client) - before) / len(entries)


def cleanup(client: redis.Redis, prefix: str) -> None:
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


@contextlib.contextmanager
def private_server():
    """A throw-away redis-server on a unix socket (no TCP port), stopped afterwards."""
    from worker.service import ServiceError, redis_binary

    try:  # the machine's redis-server, else the one the `embedded` extra ships
        binary = shutil.which("redis-server") or redis_binary()
    except ServiceError as exc:
        raise CliError(f"--private-server: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="bench-seen-") as folder:
        sock = os.path.join(folder, "redis.sock")
        cmd = [
            binary,
            "--port",
            "0",
            "--unixsocket",
            sock,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield wait_for(sock)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def wait_for(sock: str) -> redis.Redis:
    client = redis.Redis(unix_socket_path=sock)
    for _ in range(100):
        try:
            client.ping()
            return client
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise CliError("the private redis-server did not start")


def run(args) -> int:
    if args.entries < 1 or args.sample < 1:
        raise CliError("--entries and --sample must be at least 1")
    with contextlib.ExitStack() as stack:
        if args.private_server:
            client, where = stack.enter_context(private_server()), "private redis-server"
        else:
            client, where = redis.Redis.from_url(args.redis_url), args.redis_url
        stack.callback(client.close)
        version = client.info("server")["redis_version"]
        print(f"redis {version} at {where}")
        keys = Keys(f"bench-seen-{uuid.uuid4().hex[:8]}")
        stack.callback(cleanup, client, keys.prefix)
        return measure(client, keys, args.entries, args.sample)


def measure(client: redis.Redis, keys: Keys, count: int, sample: int) -> int:
    index = SeenIndex(client, keys, TTL)
    entries = make_keys(count, "seen")
    start = time.time() - TTL
    before = used_memory(client)
    seconds = insert(index, entries, start)
    per_entry = (used_memory(client) - before) / count
    buckets = list(client.scan_iter(match=f"{keys.prefix}:seen:*", count=5000))
    payload = sum(client.strlen(k) for k in buckets) / count
    accounted = sum(client.memory_usage(k, samples=0) or 0 for k in buckets) / count
    print(
        f"seen index: {count:,} entries, ttl {TTL // 86_400} d in {len(index._slices(start + TTL))} "
        f"slices, {len(buckets):,} buckets, {RECORD}-byte records + unary directories"
    )
    print(
        f"  memory: {per_entry:.2f} bytes/entry (used_memory delta); MEMORY USAGE of the "
        f"buckets {accounted:.2f}; payload {payload:.2f}"
    )
    if abs(per_entry - accounted) > 0.1 * accounted:
        print(
            "  note: used_memory moved with other clients' writes; MEMORY USAGE is the steadier figure"
        )
    print(f"  insert: {count / seconds:,.0f} entries/s ({BATCH} per script call)")
    probe = entries[:: max(1, count // 20_000)]
    missed, secs = lookups(index, probe, start + TTL)
    fresh, _ = lookups(index, make_keys(len(probe), "fresh"), start + TTL)
    print(
        f"  lookup: {len(probe) / secs:,.0f} entries/s ({POLL} per call = 1 round trip); "
        f"{missed} of {len(probe):,} inserted not found, "
        f"{len(probe) - fresh} of {len(probe):,} fresh falsely seen"
    )
    sample = min(sample, count)
    peer = naive(client, keys, entries[:sample])
    print(f"naive peer (SET key 1 EX ttl, {sample:,} entries): {peer:.2f} bytes/entry")
    print(f"ratio naive / seen index: {peer / per_entry:.1f}x")
    return 0 if missed == 0 and fresh == len(probe) else 1
