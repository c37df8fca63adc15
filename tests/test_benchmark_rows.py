"""The GPU benchmarks keep every finished row: saved the moment it is measured, a failed run recorded
and skipped, and no CUDA found before anything is prepared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from rows import RunFailed, measure_all, read_rows  # noqa: E402


def test_each_row_is_on_disk_when_measured_and_a_failure_is_a_row(tmp_path):
    results = tmp_path / "rows.jsonl"
    seen_on_disk = []

    def measure(item):
        seen_on_disk.append(len(read_rows(results)))  # rows already saved when the next measurement starts
        if item["n"] == 2:
            raise RunFailed("out of memory")
        return {"speed": item["n"] * 10}

    rows = measure_all([{"n": 1}, {"n": 2}, {"n": 3}], measure, results, show=lambda row: None)
    assert seen_on_disk == [0, 1, 2]
    saved = read_rows(results)
    assert saved == rows and [r.get("speed") for r in saved] == [10, None, 30]
    assert saved[1]["error"] == "out of memory" and all("at" in r for r in saved)


def test_rows_survive_a_later_crash_and_earlier_results_are_kept(tmp_path):
    results = tmp_path / "rows.jsonl"
    results.write_text(json.dumps({"n": 0, "speed": 0}) + "\n")  # an earlier call's row

    def measure(item):
        if item["n"] == 2:
            raise KeyboardInterrupt  # the call's time ran out
        return {"speed": item["n"]}

    with pytest.raises(KeyboardInterrupt):
        measure_all([{"n": 1}, {"n": 2}], measure, results, show=lambda row: None)
    assert [r["n"] for r in read_rows(results)] == [0, 1]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-CUDA path")
@pytest.mark.parametrize("script", ["train.py", "generate.py"])
def test_gpu_benchmarks_stop_before_preparing_anything_without_cuda(tmp_path, script):
    work = tmp_path / "work"
    extra = ["--work", str(work)] if script == "train.py" else []
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--gpu", "--results", str(tmp_path / "r.jsonl"), *extra],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=120,
    )
    assert proc.returncode != 0 and "no CUDA device" in proc.stderr and "Traceback" not in proc.stderr
    assert not work.exists() and not (tmp_path / "r.jsonl").exists()
