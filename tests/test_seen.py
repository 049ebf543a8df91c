"""Integration tests of the seen index and leases (real Redis, key prefix of the test's own); the
duplicate index is tested in test_duplicates.py."""

from __future__ import annotations

import time

import pytest

from tasks.dedupe import entry_key
from tasks.dedupe.seen import SeenIndex

pytestmark = pytest.mark.integration
DAY = 86_400


def keys_for(n: int, tag: str = "") -> list[str]:
    return [entry_key(f"urn:test:{tag}{i}", None, None, None) for i in range(n)]


def test_unseen_keeps_order_and_marks_stick(redis_client, keys):
    index = SeenIndex(redis_client, keys, ttl=90 * DAY)
    now = time.time()
    entries = keys_for(20)
    assert index.unseen(entries, now) == entries
    index.mark_seen(entries[3], now)
    assert index.mark_many(entries[10:15], now) == 5
    assert index.mark_many(entries[10:15], now) == 0  # marking twice stores nothing new
    assert index.unseen(entries, now) == [
        k for i, k in enumerate(entries) if i != 3 and not 10 <= i < 15
    ]
    assert index.is_seen(entries[3], now) and not index.is_seen(entries[4], now)


def test_unseen_is_one_round_trip(redis_client, keys, count_commands):
    index = SeenIndex(redis_client, keys, ttl=90 * DAY)
    index.mark_many(keys_for(50), time.time())
    index.unseen(keys_for(1), time.time())  # the script is loaded now
    sent = count_commands()
    fresh = index.unseen(keys_for(200), time.time())
    assert sent == ["EVALSHA"]  # one command for the whole poll
    assert len(fresh) == 150


def test_no_false_seen_among_keys_sharing_a_bucket(redis_client, keys):
    """Keys whose first byte (the bucket) is equal and which differ in one bit only."""
    index = SeenIndex(redis_client, keys, ttl=90 * DAY)
    base = bytes.fromhex(keys_for(1)[0])
    neighbours = [bytes([*base[:15], base[15] ^ (1 << b)]).hex() for b in range(8)]
    shifted = (base[:1] + base[2:] + b"\x00").hex()  # same bytes, one position off
    now = time.time()
    index.mark_seen(base.hex(), now)
    assert index.unseen([*neighbours, shifted], now) == [*neighbours, shifted]
    assert index.unseen([base.hex()], now) == []


def test_marks_expire_after_ttl(redis_client, keys):
    index = SeenIndex(redis_client, keys, ttl=2)
    key = keys_for(1, "exp")[0]
    index.mark_seen(key, time.time())
    assert index.is_seen(key, time.time())
    time.sleep(1.0)
    assert index.is_seen(key, time.time())  # still within its TTL
    time.sleep(2.6)  # past ttl + one slice (ttl / 8, at least 1 s)
    assert not index.is_seen(key, time.time())
    assert not list(redis_client.scan_iter(f"{keys.prefix}:seen:*"))  # buckets expire whole


def test_slice_arithmetic_keeps_marks_for_at_least_ttl(redis_client, keys):
    ttl = 80 * DAY
    index = SeenIndex(redis_client, keys, ttl=ttl)
    start = time.time()
    key = keys_for(1, "slice")[0]
    index.mark_seen(key, start)
    assert index.is_seen(key, start + ttl - 1)
    assert not index.is_seen(key, start + ttl + ttl / 8 + 1)
    ttl_left = max(redis_client.ttl(k) for k in redis_client.scan_iter(f"{keys.prefix}:seen:*"))
    assert ttl <= ttl_left <= ttl + ttl / 8 + 1


def test_lease_is_exclusive_until_released_or_expired(redis_client, keys):
    index = SeenIndex(redis_client, keys, ttl=DAY)
    key = keys_for(1, "lease")[0]
    assert index.lease(key, 1)
    assert not index.lease(key, 1)
    index.release(key)
    assert index.lease(key, 1)
    time.sleep(1.2)
    assert index.lease(key, 60)


def test_crowded_sub_bucket_stays_exact(redis_client, keys):
    """300 keys sharing their first two bytes (one sub-bucket), next to other sub-buckets."""
    index = SeenIndex(redis_client, keys, ttl=90 * DAY)
    now = time.time()
    crowded = [(b"\xab\xcd" + i.to_bytes(14, "big")).hex() for i in range(1, 301)]
    assert index.mark_many(crowded[:200], now) == 200
    assert index.mark_many(crowded, now) == 100
    assert index.unseen(crowded, now) == []
    neighbours = [(b"\xab\xcd" + i.to_bytes(14, "big")).hex() for i in range(301, 311)]
    assert index.unseen(neighbours, now) == neighbours
    assert index.mark_many(crowded[250:], now) == 0
    around = [(bytes([0xAB, sub]) + bytes(range(14))).hex() for sub in (0, 0xCC, 0xCE, 0xFF)]
    assert index.mark_many(around, now) == 4
    assert index.unseen([*crowded, *around, *neighbours], now) == neighbours
    assert len(list(redis_client.scan_iter(f"{keys.prefix}:seen:*"))) == 1  # one bucket


def test_dense_buckets_match_a_plain_set(redis_client, keys):
    """Thousands of keys in two buckets, marked in random batches: the index answers exactly
    like a Python set (directory bits spanning many bytes, first and last sub-buckets)."""
    import random

    rng = random.Random(6)
    index = SeenIndex(redis_client, keys, ttl=90 * DAY)
    pool = [
        (bytes([rng.choice((0, 255)), rng.randrange(256)]) + rng.randbytes(14)).hex()
        for _ in range(3000)
    ]
    marked: set[str] = set()
    now = time.time()
    for _ in range(12):
        batch = rng.sample(pool, 300)
        assert index.mark_many(batch, now) == len(set(batch) - marked)
        marked.update(batch)
    assert index.unseen(pool, now) == [k for k in pool if k not in marked]
