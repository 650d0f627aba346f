"""The benchmark harness runs at a small scale, so it cannot rot between releases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.run import MEASUREMENTS, cpu_stolen_percent, markdown, medians, move_cohort, target_checks

REPO = Path(__file__).resolve().parent.parent


def test_medians_and_targets_from_known_runs():
    runs = [
        {
            "end_to_end": {
                "wall_s": 50.0,
                "cpu_s": 40.0,
                "peak_rss_mb": 900.0,
                "peak_tree_pss_mb": 1200.0,
                "cpu_stolen_pct": 3.0,
            }
        },
        {
            "end_to_end": {
                "wall_s": 70.0,
                "cpu_s": 44.0,
                "peak_rss_mb": 800.0,
                "peak_tree_pss_mb": 1000.0,
                "cpu_stolen_pct": 30.0,
            }
        },
        {
            "end_to_end": {
                "wall_s": 55.0,
                "cpu_s": 41.5,
                "peak_rss_mb": 1000.0,
                "peak_tree_pss_mb": 1100.0,
                "cpu_stolen_pct": 12.0,
            }
        },
    ]
    median = medians(runs)
    assert median == {
        "end_to_end": {
            "wall_s": 55.0,
            "cpu_s": 41.5,
            "peak_rss_mb": 900.0,
            "peak_tree_pss_mb": 1100.0,
            "cpu_stolen_pct": 12.0,
        }
    }
    assert target_checks("1", median) == [
        {"stage": "end_to_end", "metric": "wall_s", "limit": 45, "median": 55.0, "met": False}
    ]
    report = {"repeats": 3, "scales": {"1": {"median": median, "targets": target_checks("1", median)}}}
    assert "| end_to_end | 55.0 | 41.5 | 900 | 1100 | 12 |" in markdown(report)
    assert "- target: end_to_end wall_s < 45: 55.0 (NOT met)" in markdown(report)


def test_a_cohort_is_held_back_and_returned_with_its_paths(tmp_path):
    landing, held_back = tmp_path / "landing", tmp_path / "held_back"
    names = [
        "nir/nir_deltakere_2019.csv",
        "nir/nir_deltakere_2020.csv",
        "jobbsjansen/individrapportering_2020.xlsx",
        "regnskap/kostra_f275_2020.csv",
        "ssb/07984.csv",
        "truth.json",
    ]
    for name in names:
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(name)

    moved = move_cohort(landing, held_back, 2020)
    assert sorted(map(str, moved)) == [
        "jobbsjansen/individrapportering_2020.xlsx",
        "nir/nir_deltakere_2020.csv",
        "regnskap/kostra_f275_2020.csv",
    ]
    assert sorted(str(p.relative_to(landing)) for p in landing.rglob("*.*")) == [
        "nir/nir_deltakere_2019.csv",
        "ssb/07984.csv",
        "truth.json",
    ]
    move_cohort(held_back, landing, 2020)
    assert sorted(str(p.relative_to(landing)) for p in landing.rglob("*.*")) == sorted(names)
    assert (landing / "nir/nir_deltakere_2020.csv").read_text() == "nir/nir_deltakere_2020.csv"


def test_harness_measures_every_stage_at_a_small_scale(tmp_path):
    """Every stage of the staged build and the M2 fit, through the real harness. The end-to-end
    run and the re-run are `iwh run` (tested throughout the suite) around `move_cohort` (above);
    left out here, they would triple the test's time."""
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--scales",
        "0.2",
        "--seed",
        "7",
        "--repeats",
        "1",
        "--skip",
        "end_to_end",
        "rerun_new_year",
        "--out",
        str(out),
        "--workdir",
        str(tmp_path),
    ]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]

    result = json.loads(out.read_text())["scales"]["0.2"]
    measured = [m for m in MEASUREMENTS if m not in ("end_to_end", "rerun_new_year")]
    assert list(result["median"]) == measured
    for stage, numbers in result["median"].items():
        assert numbers["wall_s"] > 0 and numbers["cpu_s"] > 0, stage
        assert 50 < numbers["peak_rss_mb"] < 8192, stage
        # Sampled, so it may miss a short peak, but it sees the run's processes while they live.
        assert 0 < numbers["peak_tree_pss_mb"] < 8192, stage
        assert 0 <= numbers["cpu_stolen_pct"] <= 100, stage
    assert 0 < result["median"]["m2_fit"]["fit_wall_s"] <= result["median"]["m2_fit"]["wall_s"]
    # A scale without targets reports none; the summary table names every measurement.
    assert result["targets"] == []
    assert all(f"| {stage} |" in completed.stdout for stage in measured)
    # The scratch space is the harness's own and is cleaned up.
    assert [path.name for path in tmp_path.iterdir()] == ["bench.json"]


def test_the_share_of_cpu_time_taken_by_the_host_is_stolen_ticks_over_all_ticks():
    assert cpu_stolen_percent((100, 1000), (400, 3000)) == 15.0
    assert cpu_stolen_percent((100, 1000), (100, 1000)) == 0.0


def test_cpu_time_counts_the_processes_a_command_leaves_running():
    """`iwh run` exits before its forkserver does; the harness waits for such orphans and counts
    their CPU time. Here the command exits at once and leaves a process that computes for 0.6 s."""
    harness = (
        "import json, sys; from benchmarks.run import become_subreaper, measure; become_subreaper(); "
        "print(json.dumps(measure(sys.argv[1:], {}, 'orphan')))"
    )
    orphan = "import time; start = time.process_time()\nwhile time.process_time() - start < 0.6: pass"
    leaves_orphan = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {orphan!r}])"
    completed = subprocess.run(
        [sys.executable, "-c", harness, sys.executable, "-c", leaves_orphan],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    measured = json.loads(completed.stdout.splitlines()[-1])
    # Without waiting for the orphan, only the command's own start-up would count (about 0.1 s).
    assert measured["cpu_s"] >= 0.6
