"""Integration tests of the Redis indexes (real Redis, key prefix of the test's own)."""

from __future__ import annotations

import time

import pytest

from tasks.dedupe import content_hash, entry_key
from tasks.dedupe.duplicates import CLAIM_TTL, DuplicateIndex
from tasks.dedupe.seen import SeenIndex
from tasks.models import Article, article_id
from tests.samples_dedupe import SAME_TEMPLATE_OTHER, SHORT_A, SHORT_B, WIRE, WIRE_SYNDICATED

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


def article(body: str, url: str) -> Article:
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title="t",
        body=body,
        fetched_at="2024-05-01T00:00:00+00:00",
        content_hash=content_hash(body),
        word_count=len(body.split()),
    )


def test_same_body_under_another_url_is_a_duplicate(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    first = article(SHORT_A, "https://a.example/1")
    now = time.time()
    assert index.find(first, now) is None
    index.remember(first, now)
    assert index.find(first, now) is None  # never its own id
    again = article(SHORT_A.upper(), "https://b.example/other")
    assert index.find(again, now) == first.id


def test_syndicated_copy_is_a_near_duplicate(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY, distance=3)
    original = article(WIRE, "https://wire.example/rates")
    now = time.time()
    index.remember(original, now)
    assert index.find(article(WIRE_SYNDICATED, "https://paper.example/rates"), now) == original.id
    assert index.find(article(SAME_TEMPLATE_OTHER, "https://wire.example/cut"), now) is None


def test_short_template_bodies_are_never_near_duplicates(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY, distance=16)  # even a loose threshold
    now = time.time()
    index.remember(article(SHORT_A, "https://local.example/1"), now)
    assert index.find(article(SHORT_B, "https://local.example/2"), now) is None


def test_near_duplicate_entries_age_out(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    original = article(WIRE, "https://wire.example/rates")
    index.remember(original, time.time() - 31 * DAY)
    band_keys = list(redis_client.scan_iter(f"{keys.prefix}:sim:*"))
    assert len(band_keys) == 4 and all(0 < redis_client.ttl(k) <= 30 * DAY for k in band_keys)
    copy = article(WIRE_SYNDICATED, "https://paper.example/rates")
    assert index.find(copy, time.time()) is None
    band_keys = list(redis_client.scan_iter(f"{keys.prefix}:sim:*"))
    members = {m for k in band_keys for m in redis_client.hkeys(k)}
    assert members == {copy.id.encode()}  # stale members pruned; the new copy's own claim left


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


def test_wider_threshold_uses_more_bands(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY, distance=6)
    original = article(WIRE, "https://wire.example/rates")
    now = time.time()
    index.remember(original, now)
    assert len(list(redis_client.scan_iter(f"{keys.prefix}:sim:*"))) == 7  # pigeonhole: d + 1
    edited = WIRE.replace("stubborn", "persistent").replace("four basis", "five basis")
    assert index.find(article(edited, "https://paper.example/x"), now) == original.id
    assert index.find(article(SAME_TEMPLATE_OTHER, "https://wire.example/cut"), now) is None


def test_two_copies_at_the_same_moment_one_is_new(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=3600)
    first = article(WIRE, "https://a.example.com/story")
    second = article(WIRE, "https://b.example.com/story")
    assert index.find(first, time.time()) is None  # neither is remembered (stored) yet
    assert index.find(second, time.time()) == first.id
    assert index.find(first, time.time()) is None  # its own claim is not a duplicate


def test_near_duplicates_at_the_same_moment_one_is_new(redis_client, keys):
    """Both find()'d before either is stored (remembered): the second is a duplicate."""
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY, distance=3)
    original = article(WIRE, "https://wire.example/rates")
    copy = article(WIRE_SYNDICATED, "https://paper.example/rates")
    now = time.time()
    assert index.find(original, now) is None
    assert index.find(copy, now) == original.id
    third = article(WIRE_SYNDICATED, "https://other.example/rates")  # an exact copy of the copy
    assert index.find(third, now) == original.id  # not the copy, which is never stored


def test_claim_is_short_until_remembered(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    first = article(WIRE, "https://a.example.com/story")
    now = time.time()
    assert index.find(first, now) is None
    content = keys.content(first.content_hash)
    assert 0 < redis_client.ttl(content) <= CLAIM_TTL < 30 * DAY
    index.remember(first, now)
    assert CLAIM_TTL < redis_client.ttl(content) <= 30 * DAY
    assert redis_client.get(content) == first.id.encode()
    band = next(redis_client.scan_iter(f"{keys.prefix}:sim:*"))
    assert not redis_client.hget(band, first.id).endswith(b":c")  # bands confirmed too


def test_a_claim_never_stored_lapses(redis_client, keys):
    """Found new, then never stored (drop mode): after CLAIM_TTL a copy is new, not a
    duplicate of the missing id; remember() does not take over another article's body."""
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    lost = article(WIRE, "https://a.example.com/lost")
    now = time.time()
    assert index.find(lost, now) is None
    redis_client.delete(keys.content(lost.content_hash))  # what the short TTL does in an hour
    later = article(WIRE, "https://b.example.com/later")
    assert index.find(later, now + CLAIM_TTL + 1) is None  # the provisional bands lapsed too
    index.remember(lost, now + CLAIM_TTL + 2)  # a late store of the first one
    assert redis_client.get(keys.content(lost.content_hash)) == later.id.encode()


def test_find_and_remember_are_one_round_trip_each(redis_client, keys, count_commands):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    warm = article(WIRE, "https://warm.example/1")
    index.remember(warm, time.time())
    index.find(warm, time.time())  # scripts loaded now
    sent = count_commands()
    fresh = article(SAME_TEMPLATE_OTHER, "https://wire.example/cut")
    assert index.find(fresh, time.time()) is None
    index.remember(fresh, time.time())
    assert sent == ["EVALSHA", "EVALSHA"]
