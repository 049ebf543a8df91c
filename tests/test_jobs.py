"""The pure helpers of the task shells: back-off and the delays Celery is given."""

from __future__ import annotations

import random

from config.settings import load_settings
from tasks.jobs import RETRY_CAP, backoff, countdown


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for tries, step in ((0, 30), (1, 60), (2, 120), (20, RETRY_CAP)):
        assert step / 2 <= backoff(tries, 30.0, rng) <= step


def test_countdowns_stay_under_the_visibility_timeout_and_the_cap():
    settings = load_settings({}, visibility_timeout=3600)
    assert countdown(1e12, settings) == RETRY_CAP * 0.8  # a Retry-After of 30,000 years
    assert countdown(10.0, settings) == 10.0
    assert countdown(0.0, settings) == 0.5
    short = load_settings({}, visibility_timeout=10)
    assert countdown(600.0, short) == 8.0  # woken early, the task waits again: never run twice
