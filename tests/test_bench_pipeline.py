"""`newsworker bench pipeline`: the local web makes every page an article of its own, the
steady rate, and end to end on a tiny web: the real service (private Redis, workers, beat,
SQLite) stores every page, and the table is printed. Loopback only."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys

import pytest

from tasks.clean import clean_html
from tests.celeryproc import ROOT
from worker.bench.pipeline import completion_times, make_pages, own_identity, steady_rate

GOLDEN = sorted((ROOT / "tests" / "pages").glob("*.html"))


def with_canonical(html: str, href: str) -> str:
    """A golden page declaring a canonical on its own site (as some dev pages do)."""
    return html.replace("<head>", f'<head><link rel="canonical" href="{href}">', 1)


def dev_pages() -> list[str]:
    """Two pages whose copies would share an article id: a canonical that is a path on the
    host (any copy on the same host), and one relative to the page's folder."""
    html = [p.read_text(encoding="utf-8") for p in GOLDEN[:2]]
    assert all("<head>" in h for h in html)
    return [with_canonical(html[0], "/story/the-one"), with_canonical(html[1], "the-story")]


def test_every_page_of_the_web_is_an_article_of_its_own():
    html = dev_pages()
    pages = make_pages(html, hosts=2, count=10)  # 5 copies of each over 2 hosts
    ids = {clean_html(p.html, f"http://127.0.0.{p.host + 2}:8000{p.path}").id for p in pages}
    assert len(ids) == len(pages)
    assert {p.host for p in pages} == {0, 1}
    # the first copy of a page on each host is the page as it is; later ones only have their
    # canonical declarations renamed, the rest of the page is left whole
    assert [p.html == html[i % 2] for i, p in enumerate(pages)] == [True] * 4 + [False] * 6
    for i, p in enumerate(pages[4:], 4):
        assert p.html.replace("x-canonical", "canonical") == html[i % 2]


def test_own_identity_renames_only_the_canonical_declarations():
    page = (
        '<link rel="canonical" href="/a"><link REL=canonical href=/b>'
        '<link rel="alternate canonical" href="/c"><meta property="og:url" content="/d">'
        '<meta name=og:url content=/e><script>{"mainEntityOfPage": {"url": "/f"}}</script>'
        '<p>a canonical text about og:url</p><script>{"canonical": "tag"}</script>'
    )
    assert own_identity(page) == (
        '<link rel="x-canonical" href="/a"><link REL=x-canonical href=/b>'
        '<link rel="alternate x-canonical" href="/c"><meta property="x-og:url" content="/d">'
        '<meta name=x-og:url content=/e><script>{"x-mainEntityOfPage": {"url": "/f"}}</script>'
        '<p>a canonical text about og:url</p><script>{"canonical": "tag"}</script>'
    )


def test_the_steady_rate_leaves_out_the_start_and_the_tail():
    # 3 s of start-up, then 10 articles/s for 100 articles, then a slow last one
    done_at = [3.0 + k / 10 for k in range(100)] + [20.0]
    assert steady_rate(done_at) == pytest.approx(10.0)
    assert steady_rate([]) == 0.0 and steady_rate([1.0]) == 0.0


def test_completion_times_spread_polled_counts_over_the_interval():
    samples = [(0.0, 0), (1.0, 0), (2.0, 4), (3.0, 4), (4.0, 6)]
    assert completion_times(samples) == [1.25, 1.5, 1.75, 2.0, 3.5, 4.0]


@pytest.mark.integration
@pytest.mark.slow
def test_the_service_stores_every_page_of_the_local_web_and_prints_the_table(tmp_path):
    pages = tmp_path / "html"  # the tests' own golden pages, in the dev set's layout
    pages.mkdir()
    for i, html in enumerate(dev_pages()):  # 6 pages of 2: copies that share a host
        (pages / f"{i}.html.gz").write_bytes(gzip.compress(html.encode("utf-8")))
    out = subprocess.run(
        [sys.executable, "-m", "worker.cli", "bench", "pipeline", "--hosts", "2", "--pages", "6"]
        + ["--latency", "0.1", "--contenders", "service,cleaner,life", "--threads", "4"]
        + ["--pages-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "service: 6 stored" in out.stdout
    assert "NOT every page stored" not in out.stdout
    assert "web: 6 pages, 6 distinct article ids" in out.stdout
    # whole-run and steady rates, each with its ratio to the bound
    assert re.search(
        r"newsworker \(threads 2x4\) +\d+\.\d +- +\d+ % +\d+\.\d +- +\d+ %", out.stdout
    )
    assert re.search(r"cleaner alone, \d+ processes +\d+\.\d", out.stdout)
    assert "MB of keys per 1,000 stored articles" in out.stdout
    # the entry's life without Celery: every page stored, its CPU split by part
    assert re.search(
        r"entry's life without Celery \(one thread, 6 articles\): \d+\.\d ms of CPU an "
        r"article \(clean \d+\.\d, fetch \d+\.\d, near-duplicate check \d+\.\d, store "
        r"\d+\.\d, Redis and the rest -?\d+\.\d\): any engine on these parts reaches at most "
        r"\d+ % of the bound",
        out.stdout,
    )
