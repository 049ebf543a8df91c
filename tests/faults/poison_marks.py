"""The marks that make a page poison for the workers of test_poison.py (inject/sitecustomize.py
acts on them there; the test process itself is never patched)."""

POISON_MARK = "poison-page-for-the-fault-suite"  # the cleaner raises on a page carrying it
KILL_MARK = "page-that-kills-its-worker"  # the pool process dies on a page carrying it
