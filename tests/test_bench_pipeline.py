"""`newsworker bench pipeline` end to end on a tiny web: the real service (private Redis,
workers, beat, SQLite) stores every page, and the table is printed. Loopback only."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys

import pytest

from tests.celeryproc import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_service_stores_every_page_of_the_local_web_and_prints_the_table(tmp_path):
    pages = tmp_path / "html"  # the tests' own golden pages, in the dev set's layout
    pages.mkdir()
    for page in sorted((ROOT / "tests" / "pages").glob("*.html")):
        (pages / f"{page.stem}.html.gz").write_bytes(gzip.compress(page.read_bytes()))
    out = subprocess.run(
        [sys.executable, "-m", "worker.cli", "bench", "pipeline", "--hosts", "2", "--pages", "6"]
        + ["--latency", "0.1", "--contenders", "service,cleaner", "--threads", "4"]
        + ["--pages-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "service: 6 stored" in out.stdout
    assert re.search(r"newsworker \(threads 2x4\) +\d+\.\d", out.stdout)
    assert re.search(r"cleaner alone, \d+ processes +\d+\.\d", out.stdout)
    assert "MB of keys per 1,000 stored articles" in out.stdout
