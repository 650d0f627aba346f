"""The benchmark harness runs end to end at a tiny scale, so it cannot rot between releases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.run import MEASUREMENTS, markdown, medians, target_checks

REPO = Path(__file__).resolve().parent.parent


def test_medians_and_targets_from_known_runs():
    runs = [
        {"end_to_end": {"wall_s": 50.0, "cpu_s": 40.0, "peak_rss_mb": 900.0, "peak_tree_rss_mb": 1200.0}},
        {"end_to_end": {"wall_s": 70.0, "cpu_s": 44.0, "peak_rss_mb": 800.0, "peak_tree_rss_mb": 1000.0}},
        {"end_to_end": {"wall_s": 55.0, "cpu_s": 41.5, "peak_rss_mb": 1000.0, "peak_tree_rss_mb": 1100.0}},
    ]
    median = medians(runs)
    assert median == {"end_to_end": {"wall_s": 55.0, "cpu_s": 41.5, "peak_rss_mb": 900.0, "peak_tree_rss_mb": 1100.0}}
    assert target_checks("1", median) == [
        {"stage": "end_to_end", "metric": "wall_s", "limit": 60, "median": 55.0, "met": True}
    ]
    report = {"repeats": 3, "scales": {"1": {"median": median, "targets": target_checks("1", median)}}}
    assert "| end_to_end | 55.0 | 41.5 | 900 | 1100 |" in markdown(report)
    assert "- target: end_to_end wall_s < 60: 55.0 (met)" in markdown(report)


def test_harness_measures_every_stage_at_a_tiny_scale(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks.run", "--scales", "0.02", "--repeats", "1", "--out", str(out),
               "--workdir", str(tmp_path)]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]

    result = json.loads(out.read_text())["scales"]["0.02"]
    assert set(result["median"]) == set(MEASUREMENTS)
    for stage, numbers in result["median"].items():
        assert numbers["wall_s"] > 0 and numbers["cpu_s"] > 0, stage
        assert 50 < numbers["peak_rss_mb"] < 8192, stage
        # Sampled, so it may miss a short peak, but it sees the run's processes while they live.
        assert 0 < numbers["peak_tree_rss_mb"] < 8192, stage
    assert 0 < result["median"]["m2_fit"]["fit_wall_s"] <= result["median"]["m2_fit"]["wall_s"]
    # A scale without targets reports none; the summary table names every measurement.
    assert result["targets"] == []
    assert all(f"| {stage} |" in completed.stdout for stage in MEASUREMENTS)
    # The scratch space is the harness's own and is cleaned up.
    assert [path.name for path in tmp_path.iterdir()] == ["bench.json"]
