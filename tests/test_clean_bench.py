"""`newsworker bench extract`: the shingle metric and the command on a tiny folder."""

from __future__ import annotations

import gzip
import json

from worker.cli import main
from worker.cli.bench import aggregate, page_counts, shingles


def test_shingles_and_counts():
    assert shingles("one two") == {("one", "two"): 1}
    assert sum(shingles("a b c d e").values()) == 2
    assert page_counts("a b c d e", "a b c d") == (1, 0, 1)
    scores = aggregate([page_counts("a b c d e", "a b c d"), page_counts("x y", "")])
    assert scores["precision"] == 1.0 and scores["recall"] == 0.25


def test_bench_extract_command(tmp_path, capsys):
    (tmp_path / "html").mkdir()
    text = "The council met on Tuesday, and it voted to approve the new budget for next year."
    html = (
        f"<html><body><nav><a href='/'>Home</a></nav><article><p>{text}</p></article></body></html>"
    )
    with gzip.open(tmp_path / "html" / "p1.html.gz", "wt", encoding="utf-8") as f:
        f.write(html)
    truth = {"p1": {"articleBody": text, "url": "https://x.example/a"}}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), "utf-8")
    assert (
        main(["bench", "extract", str(tmp_path), "--peers", "", "--passes", "1", "--worst", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "newsworker      1.000  1.000  1.000" in out


def test_bench_extract_missing_folder(tmp_path, capsys):
    assert main(["bench", "extract", str(tmp_path / "nope"), "--peers", ""]) == 2
    assert "ground-truth.json" in capsys.readouterr().err
