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


def _dates_folder(folder, pages):
    (folder / "html").mkdir(parents=True)
    truth = {}
    for key, (html, url, day) in pages.items():
        with gzip.open(folder / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as f:
            f.write(html)
        truth[key] = {"url": url, "date": day}
    (folder / "truth.json").write_text(json.dumps(truth), "utf-8")


def test_bench_extract_prints_dates_beside_the_body(tmp_path, capsys):
    body_dir = tmp_path / "extraction"
    (body_dir / "html").mkdir(parents=True)
    text = "The council met on Tuesday, and it voted to approve the new budget for next year."
    page = "<html><head>{meta}</head><body><article><p>" + text + "</p></article></body></html>"
    with gzip.open(body_dir / "html" / "p1.html.gz", "wt", encoding="utf-8") as f:
        f.write(page.format(meta=""))
    truth = {"p1": {"articleBody": text, "url": "https://x.example/a"}}
    (body_dir / "ground-truth.json").write_text(json.dumps(truth), "utf-8")
    dated = '<meta property="article:published_time" content="2021-10-06T14:30:00Z">'
    _dates_folder(
        tmp_path / "dates-dev",
        {
            "d1": (page.format(meta=dated), "https://x.example/a", "2021-10-06"),
            "d2": (page.format(meta=dated), "https://x.example/b", "2021-10-07"),
            "d3": (page.format(meta=""), "https://x.example/c", "2021-10-08"),
        },
    )
    assert main(["bench", "extract", str(body_dir), "--peers", "", "--passes", "1"]) == 0
    out = capsys.readouterr().out
    assert "dates: 3 pages from" in out
    # one right day, one wrong, one missing: precision 1/2, recall 1/2, F 0.5
    assert "newsworker      1.000  1.000  1.000" in out
    assert " 0.500  0.500  0.500 " in out


def test_bench_extract_dates_can_be_left_out(tmp_path, capsys):
    (tmp_path / "html").mkdir()
    text = "The council met on Tuesday, and it voted to approve the new budget for next year."
    with gzip.open(tmp_path / "html" / "p1.html.gz", "wt", encoding="utf-8") as f:
        f.write(f"<html><body><article><p>{text}</p></article></body></html>")
    truth = {"p1": {"articleBody": text, "url": "https://x.example/a"}}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), "utf-8")
    assert main(["bench", "extract", str(tmp_path), "--peers", "", "--dates", ""]) == 0
    assert "dates:" not in capsys.readouterr().out
    assert main(["bench", "extract", str(tmp_path), "--peers", "", "--dates", "/nope"]) == 2
    assert "truth.json" in capsys.readouterr().err
