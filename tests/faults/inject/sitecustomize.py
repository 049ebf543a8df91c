"""Loaded at start-up by the worker processes of test_poison.py only (its directory is put on
their PYTHONPATH): the cleaner raises on a page carrying POISON_MARK, as a bug in it would,
and a page carrying KILL_MARK kills the pool process (a crash in a C library). Injected, not
found: a real input that breaks today's cleaner gets fixed, and the test would lose its poison."""

from __future__ import annotations

import os

from tasks.clean import article
from tests.faults.poison_marks import KILL_MARK, POISON_MARK

_real_clean = article._clean


def _poisoned_clean(html, *args):
    text = html.decode("utf-8", "replace") if isinstance(html, bytes | bytearray) else html
    if POISON_MARK in (text or ""):
        raise RuntimeError("the cleaner choked on this page")
    if KILL_MARK in (text or ""):
        os._exit(70)
    return _real_clean(html, *args)


article._clean = _poisoned_clean
