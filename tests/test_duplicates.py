"""Integration tests of the duplicate index (real Redis, key prefix of the test's own): exact
copies, near-duplicates by MinHash, short stories by title plus lead, claims and expiry."""

from __future__ import annotations

import time

import pytest

from tasks.dedupe import content_hash
from tasks.dedupe.duplicates import BAND, CLAIM_TTL, RECORD, SAME_SITE_THRESHOLD, DuplicateIndex
from tasks.dedupe.fingerprint import jaccard, shingles
from tasks.models import Article, article_id
from tests.samples_dedupe import SAME_TEMPLATE_OTHER, SHORT_A, SHORT_B, WIRE, WIRE_SYNDICATED

pytestmark = pytest.mark.integration
DAY = 86_400


def article(body: str, url: str, title: str = "t") -> Article:
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        body=body,
        fetched_at="2024-05-01T00:00:00+00:00",
        content_hash=content_hash(body),
        word_count=len(body.split()),
    )


def paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n\n") if p.strip()]


def index_keys(redis_client, keys) -> list[bytes]:
    return list(redis_client.scan_iter(f"{keys.neardup}:*"))


def test_same_body_under_another_url_is_a_duplicate(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    first = article(SHORT_A, "https://a.example/1")
    now = time.time()
    assert index.find(first, now) is None
    index.remember(first, now)
    assert index.find(first, now) is None  # never its own id
    again = article(SHORT_A.upper(), "https://b.example/other", title="another title")
    assert index.find(again, now) == first.id
    long_copy = article(WIRE, "https://c.example/x")
    index.remember(long_copy, now)
    assert index.find(article(WIRE, "https://d.example/y"), now) == long_copy.id


def test_syndicated_copy_is_a_near_duplicate(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    original = article(WIRE, "https://wire.example/rates")
    now = time.time()
    index.remember(original, now)
    assert index.find(article(WIRE_SYNDICATED, "https://paper.example/rates"), now) == original.id
    assert index.find(article(SAME_TEMPLATE_OTHER, "https://wire.example/cut"), now) is None


def test_partner_edits_are_near_duplicates(redis_client, keys):
    """The edits of issue 13, each on WIRE: every copy is linked to the original."""
    parts = paragraphs(WIRE)
    edits = {
        "lead+credit": ["The bank kept rates on hold again.", *parts[1:]]
        + ["This story was first published by The Wire."],
        "trimmed": [*parts[:-2], "Read the full story at wire.example."],
        "note+related": ["Editor's note: updated with market reaction.", *parts[:2]]
        + ["Related: Markets rally", *parts[2:4], "Related: What rates mean for you", *parts[4:]],
        "dateline+merged": [
            "NEW YORK (Wire) \u2014 " + " ".join(parts[i : i + 2]).replace("\u201c", '"')
            for i in range(0, len(parts), 2)
        ],
    }
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    original = article(WIRE, "https://wire.example/rates")
    now = time.time()
    index.remember(original, now)
    for n, (kind, body) in enumerate(edits.items()):
        copy = article("\n\n".join(body), f"https://partner{n}.example/rates")
        assert jaccard(shingles(WIRE), shingles(copy.body)) >= 0.6, kind
        assert index.find(copy, now) == original.id, kind


def test_other_story_on_the_same_template_is_not_linked(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    index.remember(article(WIRE, "https://wire.example/rates"), now)
    assert jaccard(shingles(WIRE), shingles(SAME_TEMPLATE_OTHER)) > 0.1  # shares a lot
    # from another site (the looser threshold); the same site is stricter still
    assert index.find(article(SAME_TEMPLATE_OTHER, "https://elsewhere.example/cut"), now) is None


def test_same_site_copies_need_a_closer_match(redis_client, keys):
    """One site's pages share its template: from the same site a candidate needs an
    estimated Jaccard of SAME_SITE_THRESHOLD, from another site the threshold."""
    parts = paragraphs(WIRE)
    trimmed = "\n\n".join([*parts[: len(parts) // 2 + 1], "Read the full story."])
    assert 0.5 < jaccard(shingles(WIRE), shingles(trimmed)) < SAME_SITE_THRESHOLD - 0.1
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    original = article(WIRE, "https://www.wire.example/rates")
    index.remember(original, now)
    assert index.find(article(trimmed, "https://paper.example/rates"), now) == original.id
    assert index.find(article(trimmed, "https://news.wire.example/rates-short"), now) is None
    assert index.find(article(WIRE, "https://news.wire.example/rates2"), now) == original.id


def test_short_stories_match_on_title_and_lead_both(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    original = article(SHORT_A, "https://local.example/1", title="Water main bursts")
    index.remember(original, now)
    credited = SHORT_A + " This story was first published by the Local."
    assert index.find(article(credited, "https://p.example/1", "Water main bursts"), now) == (
        original.id
    )
    # same template, other story: lead differs (and title too), never linked
    assert index.find(article(SHORT_B, "https://local.example/2", "Gas leak"), now) is None
    # same title, another lead: not linked; same lead, another title: not linked
    other_lead = "Firefighters were called to the High Street. " + SHORT_A
    assert index.find(article(other_lead, "https://p.example/2", "Water main bursts"), now) is None
    assert index.find(article(credited, "https://p.example/3", "Road closed"), now) is None


def test_near_duplicate_entries_age_out(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    original = article(WIRE, "https://wire.example/rates")
    index.remember(original, time.time() - 31 * DAY)
    assert all(0 < redis_client.ttl(k) <= 30 * DAY * 5 / 4 for k in index_keys(redis_client, keys))
    copy = article(WIRE_SYNDICATED, "https://paper.example/rates")
    assert index.find(copy, time.time()) is None


def test_records_are_kept_for_the_ttl(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    original = article(WIRE, "https://wire.example/rates")
    now = time.time()
    index.remember(original, now)
    copy = article(WIRE_SYNDICATED, "https://paper.example/rates")
    assert index.find(copy, now + 30 * DAY - 5) == original.id
    assert index.find(copy, now + 30 * DAY + 5) is None


def test_two_copies_at_the_same_moment_one_is_new(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=3600)
    first = article(WIRE, "https://a.example.com/story")
    second = article(WIRE, "https://b.example.com/story")
    assert index.find(first, time.time()) is None  # neither is remembered (stored) yet
    assert index.find(second, time.time()) == first.id
    assert index.find(first, time.time()) is None  # its own claim is not a duplicate


def test_near_duplicates_at_the_same_moment_one_is_new(redis_client, keys):
    """Both find()'d before either is stored (remembered): the second is a duplicate."""
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
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
    copy = article(WIRE, "https://b.example.com/story")
    assert index.find(copy, now + CLAIM_TTL - 5) == first.id
    assert index.find(copy, now + CLAIM_TTL + 5) is None  # the unconfirmed claim lapsed
    index.remember(first, now)
    assert index.find(copy, now + CLAIM_TTL + 5) == first.id  # confirmed: the full TTL


def test_a_claim_never_stored_lapses(redis_client, keys):
    """Found new, then never stored (drop mode): after CLAIM_TTL a copy is new, not a
    duplicate of the missing id."""
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    lost = article(WIRE, "https://a.example.com/lost")
    now = time.time()
    assert index.find(lost, now) is None
    later = article(WIRE, "https://b.example.com/later")
    assert index.find(later, now + CLAIM_TTL + 1) is None
    index.remember(later, now + CLAIM_TTL + 2)
    third = article(WIRE, "https://c.example.com/third")
    assert index.find(third, now + CLAIM_TTL + 3) == later.id


def test_earliest_primary_wins_among_equals(redis_client, keys):
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    first, second = (article(WIRE, f"https://{h}.example/s") for h in ("first", "second"))
    index.remember(second, now)
    index.remember(first, now - 60)  # stored later, arrived (stamped) earlier
    assert index.find(article(WIRE, "https://third.example/s"), now) == first.id


def test_many_articles_in_shared_buckets_stay_exact(redis_client, keys):
    """300 distinct stories (word salad from one vocabulary) fill every bucket; each exact and
    near copy still finds its own original and no other."""
    import random

    rng = random.Random(13)
    vocab = [f"w{i}" for i in range(3000)]
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    stories = [" ".join(rng.choices(vocab, k=150)) for _ in range(300)]
    originals = [article(s, f"https://o.example/{i}") for i, s in enumerate(stories)]
    for a in originals:
        assert index.find(a, now) is None
        index.remember(a, now)
    for i in range(0, 300, 7):
        near = "breaking " + stories[i][: int(len(stories[i]) * 0.85)] + " first published here"
        assert index.find(article(near, f"https://c.example/{i}"), now) == originals[i].id


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


def test_memory_per_article_is_small(redis_client, keys):
    """The payload is RECORD + 20 band records; the used_memory delta is measured in
    `newsworker bench dedupe` (a shared test server is too noisy for it)."""
    index = DuplicateIndex(redis_client, keys, ttl=30 * DAY)
    now = time.time()
    for i in range(50):
        index.remember(article(f"story {i} " + WIRE, f"https://m.example/{i}"), now)
    stored = sum(redis_client.strlen(k) for k in index_keys(redis_client, keys))
    assert stored <= 50 * (RECORD + 20 * BAND)
    assert RECORD + 20 * BAND <= 300


def test_remember_reuses_the_fingerprint_find_computed(redis_client, keys):
    """The storage task in the same process reuses find()'s fingerprint; a changed body is
    computed afresh."""
    body = " ".join(f"word{i} and more text for a long story" for i in range(80))
    story = article(body, "http://a.test/x")
    index = DuplicateIndex(redis_client, keys, ttl=60)
    first = index.fingerprint(story)
    assert index.fingerprint(story) is first
    assert first == index.compute(story)
    changed = article(body + " more", "http://a.test/x")
    assert index.fingerprint(changed) is not first
    assert index.fingerprint(changed) == index.compute(changed) != first
