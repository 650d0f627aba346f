"""Benchmark harness: wall time, CPU time and peak memory of every pipeline stage.

    python -m benchmarks.run                          # scales 1 and 100, 3 repeats (the README's numbers)
    python -m benchmarks.run --scales 0.05 --repeats 1 --out /tmp/bench.json
    python -m benchmarks.run --scales 100 --skip rerun_new_year    # the re-run target is scale 1's
    python -m benchmarks.run --scales 1 --skip ingest              # targets only: no staged build

Each stage runs in its own process (`benchmarks/stages.py`), measured with wait4(2) and a
sampler of the whole process tree's memory: generation (`iwh sample`), ingestion, reference
data + dbt build, expectations, models, reports, publication; then the end-to-end `iwh run` on
a fresh IWH_HOME with the sample already written; the M2 fit alone on the warehouse just built
(`benchmarks/m2_fit.py`, which also reports the fit's own seconds); and a re-run after one new
cohort year arrives. Medians over the repeats are written as JSON, with the issue's targets and
whether the medians meet them, and printed as the README's table.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.stages import STAGES

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NEW_YEAR = 2020
TREE_SAMPLE_S = 0.5
# The performance targets (issue 17; M2 fit: issue 11), per scale: (stage, metric, upper limit).
TARGETS = {
    "1": [("end_to_end", "wall_s", 45), ("rerun_new_year", "wall_s", 30), ("m2_fit", "fit_wall_s", 5)],
    "100": [("end_to_end", "wall_s", 300), ("end_to_end", "peak_tree_pss_mb", 8192)],
}


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process and all its descendants, in kilobytes (0 once it has gone).

    PSS, not RSS: the models and the report fork worker processes that share the parent's pages
    copy-on-write, and each child's RSS counts those shared pages again (at scale 100, 13 GB of
    summed RSS). PSS divides a shared page between the processes sharing it, so the sum is the
    memory the tree holds."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _cpu_stolen_and_total() -> tuple[int, int]:
    """The machine's CPU time stolen by the hypervisor, and all its CPU time, in clock ticks since boot.

    On a virtual machine the host can take a large and varying share of the CPUs (seen here: 38 %
    of an idle minute), which slows every measurement without showing in its CPU time."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    return fields[7], sum(fields[:8])


def cpu_stolen_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else 0.0


def _sample_tree_pss(pid: int, done: threading.Event, peak: list[int]) -> None:
    """Sample from the start, so a short command is seen at least once."""
    while True:
        peak[0] = max(peak[0], _tree_pss_kb(pid))
        if done.wait(TREE_SAMPLE_S):
            return


# prctl(2): orphaned descendants are re-parented to this process, which can then wait for them.
PR_SET_CHILD_SUBREAPER = 36
ORPHANS_TIMEOUT_S = 60


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants: `iwh run` leaves its forkserver
    (orchestration/forkserver.py), which forked the dbt commands and figure workers, to end after it
    exits. Waiting for it counts the CPU time of that whole subtree in this process's children."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _reap_orphans() -> None:
    """Wait for every descendant the measured command left running (see become_subreaper)."""
    deadline = time.monotonic() + ORPHANS_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)
    raise RuntimeError(f"processes left by the measured command still run after {ORPHANS_TIMEOUT_S} s")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], env: dict[str, str], label: str, json_output: bool = False) -> dict:
    """Run a command to completion; its wall seconds, the CPU seconds of its whole process tree
    (including what it left running, become_subreaper), the peak resident memory (MB) of its largest
    process (exact, from the kernel) and the peak proportional memory of its whole process tree
    (sampled: dbt and worker processes run as descendants of `iwh run`), the share of the machine's
    CPU time the hypervisor took meanwhile, plus the JSON object it printed when json_output is set."""
    print(f"  {label} …", file=sys.stderr, flush=True)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        cpu_before = _cpu_stolen_and_total()
        tree_cpu_before = _children_cpu_s()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=stdout if json_output else subprocess.DEVNULL, stderr=stderr
        )
        done, tree_peak = threading.Event(), [0]
        sampler = threading.Thread(target=_sample_tree_pss, args=(process.pid, done, tree_peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        cpu_after = _cpu_stolen_and_total()
        done.set()
        sampler.join()
        _reap_orphans()
        tree_cpu = _children_cpu_s() - tree_cpu_before
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"{label} failed with exit code {process.returncode}:\n{tail}")
        stdout.seek(0)
        printed = json.loads(stdout.read()) if json_output else {}
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(tree_cpu, 2),
        # Linux reports ru_maxrss in kilobytes.
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_pss_mb": round(tree_peak[0] / 1024, 1),
        "cpu_stolen_pct": cpu_stolen_percent(cpu_before, cpu_after),
        **printed,
    }


def environment(landing: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IWH_LANDING_DIR=str(landing),
        IWH_HOME=str(home),
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
        DAGSTER_DISABLE_TELEMETRY="true",
    )
    env.pop("IWH_PSEUDONYM_KEY", None)
    return env


def move_cohort(source: Path, destination: Path, year: int) -> list[Path]:
    """Move one cohort year's delivered files (``<name>_<year>.<ext>``) from one landing tree to
    another, keeping their relative paths; the moved files' relative paths."""
    moved = []
    for path in sorted(source.rglob(f"*_{year}.*")):
        relative = path.relative_to(source)
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, destination / relative)
        moved.append(relative)
    return moved


MEASUREMENTS = ("generate", *STAGES, "end_to_end", "m2_fit", "rerun_new_year")


def one_repeat(
    scale: float, workdir: Path, seed: int, results: dict[str, dict], save: Callable[[], None], skip: set[str]
) -> None:
    """Measure every stage not in ``skip`` into ``results``, calling ``save`` after each (a late failure
    keeps the rest). Generation always runs: every other measurement needs its sample."""
    landing, home = workdir / "landing", workdir / "home"
    env = environment(landing, home)
    iwh = str(BIN / "iwh")

    def record(stage: str, command: list[str], label: str, json_output: bool = False) -> None:
        results[stage] = measure(command, env, label, json_output)
        save()

    record("generate", [iwh, "sample", "--out", str(landing), "--scale", str(scale), "--seed", str(seed)], "generate")
    # The stages build on one another, so skipping one skips the rest of the staged build.
    staged = [stage for stage in STAGES if not skip & set(STAGES[: STAGES.index(stage) + 1])]
    for stage in staged:
        record(stage, [sys.executable, "-m", "benchmarks.stages", stage], stage)

    if "end_to_end" not in skip:
        shutil.rmtree(home, ignore_errors=True)
        record("end_to_end", [iwh, "run"], "end-to-end iwh run")
    # M2 is fitted on the analysis dataset of whichever build ran: the staged one or the end-to-end run.
    if "m2_fit" not in skip and ("models" in staged or "end_to_end" not in skip):
        record("m2_fit", [sys.executable, "-m", "benchmarks.m2_fit"], "M2 fit", json_output=True)
    if "rerun_new_year" in skip:
        return

    # A new cohort arrives: the warehouse holds every year but the last, then its files land.
    if not move_cohort(landing, workdir / "held_back", NEW_YEAR):
        raise RuntimeError(f"the sample in {landing} has no files of cohort {NEW_YEAR}")
    shutil.rmtree(home, ignore_errors=True)
    measure([iwh, "run"], env, f"build without cohort {NEW_YEAR} (not reported)")
    move_cohort(workdir / "held_back", landing, NEW_YEAR)
    record("rerun_new_year", [iwh, "run"], f"re-run after cohort {NEW_YEAR} arrives")


def medians(repeats: list[dict[str, dict]]) -> dict[str, dict]:
    return {
        stage: {
            metric: round(statistics.median(run[stage][metric] for run in repeats), 2) for metric in repeats[0][stage]
        }
        for stage in repeats[0]
    }


def target_checks(scale: str, median: dict[str, dict]) -> list[dict]:
    return [
        {
            "stage": stage,
            "metric": metric,
            "limit": limit,
            "median": median[stage][metric],
            "met": median[stage][metric] < limit,
        }
        for stage, metric, limit in TARGETS.get(scale, [])
        if stage in median
    ]


def markdown(report: dict) -> str:
    """The medians as the README's table, and the targets with their verdicts."""
    lines = []
    for scale, result in report["scales"].items():
        lines += [
            f"Scale {scale}, median of {report['repeats']}:",
            "",
            "| measurement | wall (s) | CPU (s) | peak memory, largest process (MB) | peak memory, all processes, PSS (MB) "
            "| CPU taken by the host (%) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for stage, numbers in result["median"].items():
            lines.append(
                f"| {stage} | {numbers['wall_s']:.1f} | {numbers['cpu_s']:.1f} | {numbers['peak_rss_mb']:.0f} "
                f"| {numbers['peak_tree_pss_mb']:.0f} | {numbers['cpu_stolen_pct']:.0f} |"
            )
        lines.append("")
        for check in result["targets"]:
            verdict = "met" if check["met"] else "NOT met"
            lines.append(
                f"- target: {check['stage']} {check['metric']} < {check['limit']}: {check['median']} ({verdict})"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 100.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch space (default: a temporary directory)")
    parser.add_argument(
        "--skip",
        nargs="+",
        default=[],
        choices=[m for m in MEASUREMENTS if m != "generate"],
        metavar="MEASUREMENT",
        help=f"measurements to leave out, from: {', '.join(MEASUREMENTS[1:])}",
    )
    args = parser.parse_args(argv)
    become_subreaper()

    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "repeats": args.repeats,
        "scales": {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")

    for scale in args.scales:
        runs: list[dict[str, dict]] = []
        report["scales"][f"{scale:g}"] = {"runs": runs}
        for repeat in range(args.repeats):
            print(f"scale {scale:g}, repeat {repeat + 1}/{args.repeats}", file=sys.stderr, flush=True)
            runs.append({})
            with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
                one_repeat(scale, Path(scratch), args.seed, runs[-1], save, set(args.skip))
        median = medians(runs)
        report["scales"][f"{scale:g}"] = {
            "median": median,
            "targets": target_checks(f"{scale:g}", median),
            "runs": runs,
        }
        save()
    print(markdown(report))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
