"""`newsworker bench dedupe`: the command on a tiny folder (real Redis, a scratch prefix the
command removes), and its one-line errors."""

from __future__ import annotations

import gzip
import json
import random
from html import escape

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.samples_dedupe import SAME_TEMPLATE_OTHER, WIRE
from worker.cli import main

pytestmark = pytest.mark.integration


def folder_of(tmp_path, bodies: dict[str, str]):
    (tmp_path / "html").mkdir()
    truth = {}
    for key, body in bodies.items():
        paras = "".join(f"<p>{escape(p)}</p>" for p in body.split("\n\n"))
        html = f"<html><head><title>{key} story</title></head><body><article>{paras}</article>"
        with gzip.open(tmp_path / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as f:
            f.write(html + "</body></html>")
        truth[key] = {"articleBody": body, "url": f"https://{key}.example/story"}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), "utf-8")
    return tmp_path


def test_bench_dedupe_command(tmp_path, redis_client, capsys):
    rng = random.Random(3)
    vocab = [f"word{i}" for i in range(2000)]
    salad = "\n\n".join(" ".join(rng.choices(vocab, k=60)) + "." for _ in range(6))
    folder = folder_of(tmp_path, {"wire": WIRE, "cut": SAME_TEMPLATE_OTHER, "salad": salad})
    args = ["bench", "dedupe", str(folder), "--copies", "1", "--articles", "30"]
    code = main([*args, "--redis-url", TEST_REDIS_URL])
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert code in (0, 1)  # 1: 30 articles cannot amortize the buckets (bytes/article)
    for kind in ("lead replaced + credit line", "dateline + quotes + merged"):
        assert f"{kind:<32}      3      3      3  100.0%" in out
    assert "copies linked to another story 0" in flat
    assert "distinct stories 0 in 3 pairs" in flat and "own reports of one event 0 in 1" in flat
    assert "bytes/article (used_memory delta)" in out and "checks/s" in out
    assert not list(redis_client.scan_iter("{bench-dedupe-*"))  # scratch keys removed
    assert not list(redis_client.scan_iter("bench-dedupe-*"))


def test_bench_dedupe_errors(tmp_path, capsys):
    assert main(["bench", "dedupe", str(tmp_path / "nope")]) == 2
    assert "ground-truth.json" in capsys.readouterr().err
    folder = folder_of(tmp_path, {"a": WIRE})
    assert main(["bench", "dedupe", str(folder), "--threshold", "3"]) == 2
    assert "--threshold" in capsys.readouterr().err
