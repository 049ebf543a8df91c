"""The long fuzz run: each target of test_fuzz.py for its share of the time, in batches of
fresh random cases; prints cases, time and failures per target (the figures of docs/faults.md).

    .venv/bin/python -m tests.faults.fuzz_run --minutes 20
"""

from __future__ import annotations

import argparse
import time
import traceback
import warnings

from hypothesis import settings

from tests.faults import test_fuzz

TARGETS = {
    "clean_html": test_fuzz.test_clean_html_gives_an_article_or_no_content,
    "parse_feed": test_fuzz.test_parse_feed_gives_entries_or_a_feed_error,
    "parse_feeds": test_fuzz.test_feeds_file_gives_feeds_or_a_feeds_file_error,
    "load_feeds": test_fuzz.test_feeds_file_as_bytes_on_disk,
    "parse_opml": test_fuzz.test_opml_gives_feeds_or_a_feeds_file_error,
}


def run(name: str, test, seconds: float, batch: int) -> tuple[int, float, list[str]]:
    """Batches of ``batch`` cases until ``seconds`` are used; returns cases, time, failures."""
    failures: list[str] = []
    start = time.monotonic()
    before = test_fuzz.CASES[name]
    batched = settings(max_examples=batch, database=None)(test)
    while time.monotonic() - start < seconds:
        try:
            batched()
        except Exception as exc:  # noqa: BLE001 - a finding: keep it, go on fuzzing
            failures.append("".join(traceback.format_exception_only(exc)).strip()[-2000:])
    return test_fuzz.CASES[name] - before, time.monotonic() - start, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="in total, all targets")
    parser.add_argument("--batch", type=int, default=200, help="cases per hypothesis run")
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), default=sorted(TARGETS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # library warnings (issue 10) are not findings here
    share = args.minutes * 60 / len(args.only)
    print(f"{'target':<12} {'cases':>8} {'seconds':>8} {'cases/s':>8} failures")
    for name in args.only:
        cases, seconds, failures = run(name, TARGETS[name], share, args.batch)
        print(f"{name:<12} {cases:>8} {seconds:>8.0f} {cases / seconds:>8.1f} {len(failures)}")
        for failure in failures:
            print("    " + failure.replace("\n", "\n    "))


if __name__ == "__main__":
    main()
