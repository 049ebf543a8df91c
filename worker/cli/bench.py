"""`newsworker bench ...`: measured figures. `bench extract DIR` scores the cleaner (and peer
extractors) on a folder of real pages; `bench seen`, `bench dedupe` and `bench pipeline` come
from worker.bench.

The extraction metric is the public article-extraction benchmark's: text -> word tokens
(\\w+) -> multiset of 4-token shingles (1-3 tokens make one shingle); per page tp/fp/fn from
the multisets; precision averaged over pages with a prediction, recall over pages with a
truth; F1 the harmonic mean of the two averages. DIR holds html/<id>.html.gz and
ground-truth.json ({id: {"articleBody": ..., "url": ...}}).

Dates are scored beside the body on a second folder (--dates, by default a ``dates-dev``
folder next to DIR when there is one): html/<id>.html.gz and truth.json ({id: {"url": ...,
"date": "YYYY-MM-DD"}}), htmldate's metric (right day = tp, wrong day = fp, none = fn).
trafilatura's dates are htmldate's (the library it uses); readability finds none.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from worker.cli.common import CliError

WORD = re.compile(r"\w+")
SHINGLE = 4
PEERS = {"trafilatura": "trafilatura_body", "readability": "readability_body"}
DATE_PEERS = {"trafilatura": "htmldate_date"}  # the date extractor each peer uses


def shingles(text: str | None) -> Counter:
    """The multiset of 4-word shingles of a text (one shingle for 1-3 words)."""
    words = WORD.findall(text or "")
    if len(words) < SHINGLE:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))


def page_counts(truth: str, pred: str) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one page's shingles."""
    t, p = shingles(truth), shingles(pred)
    return sum((t & p).values()), sum((p - t).values()), sum((t - p).values())


def aggregate(counts: list[tuple[int, int, int]]) -> dict[str, float]:
    """Precision and recall averaged over pages, and their harmonic mean."""
    precs = [tp / (tp + fp) for tp, fp, _ in counts if tp + fp]
    recs = [tp / (tp + fn) for tp, _, fn in counts if tp + fn]
    p = statistics.mean(precs) if precs else 0.0
    r = statistics.mean(recs) if recs else 0.0
    return {"f1": 2 * p * r / (p + r) if p + r else 0.0, "precision": p, "recall": r}


def page_f1(tp: int, fp: int, fn: int) -> float:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def load_pages(folder: Path) -> dict[str, tuple[str, str, str]]:
    """id -> (html, url, true body) from a benchmark folder."""
    truth_file = folder / "ground-truth.json"
    if not truth_file.is_file():
        raise CliError(f"{folder}: no ground-truth.json (expected html/*.html.gz beside it)")
    truth = json.loads(truth_file.read_text("utf-8"))
    pages = {}
    for key in sorted(truth):
        path = folder / "html" / f"{key}.html.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                pages[key] = (
                    f.read(),
                    truth[key].get("url", ""),
                    truth[key].get("articleBody", ""),
                )
    if not pages:
        raise CliError(f"{folder}: no pages found under html/")
    return pages


def ours(html: str, url: str) -> str:
    """Our cleaner's body ("" when it finds none)."""
    from tasks.clean import clean_html
    from tasks.errors import NoContentError

    try:
        return clean_html(html, url, fetched_at="1970-01-01T00:00:00+00:00").body
    except NoContentError:
        return ""


def peer(name: str):
    """The body function of a peer extractor, or None (with a message) when not installed."""
    from worker.bench import peers as bench_peers

    if name not in PEERS:
        raise CliError(f"unknown peer {name!r} (known: {', '.join(PEERS)})")
    try:
        __import__("trafilatura" if name == "trafilatura" else "readability")
    except ImportError:
        print(f"peer {name}: not installed (pip install 'newsworker[bench]'); skipped")
        return None
    return getattr(bench_peers, PEERS[name])


def run(extract, pages: dict, passes: int) -> dict:
    """Score and time one extractor: a scored warm-up pass, then timed passes (median)."""
    preds, errors = {}, 0
    for key, (html, url, _) in pages.items():
        try:
            preds[key] = extract(html, url) or ""
        except Exception:  # noqa: BLE001 - a peer's crash counts as an empty prediction
            errors += 1
            preds[key] = ""
    times: dict[str, list[float]] = {k: [] for k in pages}
    for _ in range(max(passes, 1)):
        for key, (html, url, _) in pages.items():
            start = time.perf_counter()
            with contextlib.suppress(Exception):  # a crash was counted in the scored pass
                extract(html, url)
            times[key].append(time.perf_counter() - start)
    counts = {k: page_counts(pages[k][2], preds[k]) for k in pages}
    result: dict[str, Any] = dict(aggregate(list(counts.values())))
    medians = [statistics.median(v) for v in times.values()]
    result.update(errors=errors, seconds=sum(medians), ms=1000 * statistics.median(medians))
    result["counts"] = counts
    return result


def load_dates(folder: Path) -> list[tuple[str, bytes, str]]:
    """(url, html bytes, true day) of every page of a dates folder."""
    truth_file = folder / "truth.json"
    if not truth_file.is_file():
        raise CliError(f"{folder}: no truth.json (expected html/*.html.gz beside it)")
    truth = json.loads(truth_file.read_text("utf-8"))
    pages = []
    for key in sorted(truth):
        path = folder / "html" / f"{key}.html.gz"
        if path.is_file():
            pages.append(
                (truth[key].get("url", ""), gzip.decompress(path.read_bytes()), truth[key]["date"])
            )
    if not pages:
        raise CliError(f"{folder}: no pages found under html/")
    return pages


def our_date(html: bytes, url: str) -> str | None:
    """Our cleaner's publication day (None when it finds none or no article)."""
    from tasks.clean import clean_html
    from tasks.errors import NoContentError

    try:
        when = clean_html(html, url, fetched_at="1970-01-01T00:00:00+00:00").published_at
    except NoContentError:
        return None
    return when[:10] if when else None


def date_scores(find, pages: list[tuple[str, bytes, str]]) -> dict[str, float]:
    """F, precision and recall of a date finder, and its median ms per page."""
    tp = fp = fn = 0
    times = []
    for url, html, day in pages:
        start = time.perf_counter()
        try:
            got = find(html, url)
        except Exception:  # noqa: BLE001 - a peer that raises found no date
            got = None
        times.append(time.perf_counter() - start)
        got = got[:10] if got else None
        tp, fp, fn = tp + (got == day), fp + (got is not None and got != day), fn + (got is None)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"f": f, "precision": p, "recall": r, "ms": 1000 * statistics.median(times)}


def _date_finder(name: str):
    if name == "newsworker":
        return our_date
    if name not in DATE_PEERS:
        return None
    from worker.bench import peers as bench_peers

    try:
        __import__("htmldate")
    except ImportError:
        return None
    return getattr(bench_peers, DATE_PEERS[name])


def _dates_folder(args) -> Path | None:
    if args.dates is not None:
        return Path(args.dates) if args.dates else None
    sibling = Path(args.dir).resolve().parent / "dates-dev"
    return sibling if (sibling / "truth.json").is_file() else None


def cmd_extract(args) -> int:
    """Score ours and the peers on DIR (and their dates on the dates folder); print the table."""
    pages = load_pages(Path(args.dir))
    dates_dir = _dates_folder(args)
    date_pages = load_dates(dates_dir) if dates_dir else []
    extractors = [("newsworker", ours)]
    for name in filter(None, (p.strip() for p in args.peers.split(","))):
        fn = peer(name)
        if fn:
            extractors.append((name, fn))
    results = [(name, run(fn, pages, args.passes)) for name, fn in extractors]
    dates = {}
    for name, _ in extractors:
        find = _date_finder(name)
        dates[name] = date_scores(find, date_pages) if find and date_pages else None
    print(f"{len(pages)} pages from {args.dir}")
    if date_pages:
        print(f"dates: {len(date_pages)} pages from {dates_dir}")
    print(
        f"{'extractor':<14} {'F1':>6} {'prec':>6} {'recall':>6} {'err':>4} {'ms/page':>8} "
        f"{'ratio':>6}   {'date F':>6} {'prec':>6} {'recall':>6} {'ms/page':>8}"
    )
    base = results[0][1]["seconds"]
    for name, m in results:
        ratio = base / m["seconds"] if m["seconds"] else 0.0
        d = dates[name]
        when = (
            f"{d['f']:6.3f} {d['precision']:6.3f} {d['recall']:6.3f} {d['ms']:8.1f}"
            if d
            else f"{'-':>6} {'-':>6} {'-':>6} {'-':>8}"
        )
        print(
            f"{name:<14} {m['f1']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} "
            f"{m['errors']:4d} {m['ms']:8.1f} {ratio:6.2f}   {when}"
        )
    print("ratio = newsworker's total time / the extractor's total time")
    if date_pages:
        print("dates of trafilatura = htmldate's (extensive search); '-' = the peer finds none")
    if args.worst:
        counts = results[0][1]["counts"]
        print(f"\nworst {args.worst} pages for newsworker:")
        for key in sorted(counts, key=lambda k: page_f1(*counts[k]))[: args.worst]:
            print(f"  {page_f1(*counts[key]):.3f}  {key[:16]}  {pages[key][1]}")
    return 0


def register(sub) -> None:
    """Add `bench extract`, `bench pipeline`, `bench seen` and `bench dedupe`."""
    bench = sub.add_parser("bench", help="benchmarks: extraction, pipeline, seen index, dedupe")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    extract = bench_sub.add_parser("extract", help="score the cleaner (and peers) on real pages")
    extract.add_argument("dir", help="folder with html/<id>.html.gz and ground-truth.json")
    extract.add_argument(
        "--peers",
        default="trafilatura,readability",
        help="comma-separated peers: trafilatura, readability ('' for none)",
    )
    extract.add_argument("--passes", type=int, default=3, help="timed passes (median per page)")
    extract.add_argument("--worst", type=int, default=0, help="list the N pages with lowest F1")
    extract.add_argument(
        "--dates",
        default=None,
        metavar="DATES_DIR",
        help="pages with true publication days (html/, truth.json) scored beside the body; "
        "default: a dates-dev folder next to DIR; '' for none",
    )
    extract.set_defaults(func=cmd_extract)
    from worker.bench.dedupe import add_dedupe_parser
    from worker.bench.pipeline import add_pipeline_parser
    from worker.bench.seen import add_seen_parser

    add_pipeline_parser(bench_sub)
    add_seen_parser(bench_sub)
    add_dedupe_parser(bench_sub)
