"""benchmarks/real_grid.py: the Pareto front and the committed report (unit tests of our code; the figures themselves
come from real photos and the real firmware, which these tests do not need)."""

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_grid  # noqa: E402


def _row(name, accuracy, size):
    return {"name": name, "int8": {"accuracy": accuracy}, "file_bytes": size}


def test_pareto_front_keeps_only_rows_no_other_row_beats():
    rows = [_row("a", 0.90, 30), _row("b", 0.85, 40), _row("c", 0.97, 50), _row("d", 0.96, 250), _row("e", 0.99, 250)]
    assert [r["name"] for r in real_grid.pareto_front(rows, "file_bytes")] == ["a", "c", "e"]
    assert real_grid.pareto_front([], "file_bytes") == []


def test_committed_report_is_what_its_json_says(tmp_path):
    results = json.loads(real_grid.JSON_PATH.read_text())
    real_grid.write_markdown(results, tmp_path / "real_grid.md")
    assert (tmp_path / "real_grid.md").read_text() == real_grid.MD_PATH.read_text(), (
        "benchmarks/real_grid.md was not written from real_grid.json: run benchmarks/real_grid.py --report-only")


def test_the_shipped_student_is_the_grid_row_that_meets_the_aim():
    results = json.loads(real_grid.JSON_PATH.read_text())
    rows = results["grid"] + results["students"]
    small = [r for r in rows if r["file_bytes"] <= real_grid.LIMIT_SMALL]
    best = max(small, key=lambda r: r["int8"]["accuracy"])
    shipped = (ROOT / "tinymask" / "weights" / "mask_real_student_pw7_96_int8.tflite").read_bytes()
    assert best["file_sha256"] == hashlib.sha256(shipped).hexdigest() and best["file_bytes"] == len(shipped)
    assert best["int8"]["accuracy"] >= real_grid.AIM_ACCURACY
    assert all(seen["loads"] and seen["outputs"] == 2 for seen in best["firmware"].values())
