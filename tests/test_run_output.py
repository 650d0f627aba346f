"""What a person sees from `iwh run`: a short plain summary on a pipe, a progress bar on a terminal,
and everything else in the run log."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
IWH = Path(sys.executable).parent / "iwh"


def _environment(landing: Path, home: Path) -> dict[str, str]:
    env = {**os.environ, "IWH_LANDING_DIR": str(landing), "IWH_HOME": str(home)}
    env.pop("IWH_PSEUDONYM_KEY", None)
    return env


@pytest.fixture(scope="module")
def piped_run(sample_landing, tmp_path_factory):
    """`iwh run` on the small sample, its stdout and stderr pipes (not terminals)."""
    home = tmp_path_factory.mktemp("piped")
    result = subprocess.run(
        [str(IWH), "run"],
        env=_environment(sample_landing, home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sample_landing, home, result


def _summary_value(stdout: str, label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in stdout.splitlines() if line.startswith(f"{label}:"))


def test_a_run_on_a_pipe_prints_few_plain_lines_and_no_dbt_output(piped_run):
    _, _, result = piped_run
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert len(lines) < 60, "\n".join(lines)
    assert [line for line in lines if re.search(r"\bSTART\b", line)] == []
    assert [line for line in lines if "\x1b" in line or "\r" in line] == []
    assert "  ▶ dbt_warehouse" in lines
    assert "published." in lines


def test_the_summary_counts_are_the_warehouses(piped_run):
    _, home, result = piped_run
    with duckdb.connect(str(home / "published" / "warehouse.duckdb"), read_only=True) as con:
        delivered = con.execute("select sum(n_rows) from marts.exclusions where step = 'delivered'").fetchone()[0]
        quarantined = con.execute(
            "select count(*) from (select distinct source_file, file_sha256, row_number from quality.quarantine)"
        ).fetchone()[0]
        modelled = con.execute("select n from analysis.model_fit where model = 'm1'").fetchone()[0]
        cohorts = [
            row[0] for row in con.execute("select distinct cohort_year from raw.nir_deltakere order by 1").fetchall()
        ]
    assert delivered > 0 and modelled > 0
    assert _summary_value(result.stdout, "rows") == (
        f"{delivered} delivered, {quarantined} quarantined, {modelled} modelled (M1)"
    )
    assert _summary_value(result.stdout, "cohorts ingested") == ", ".join(str(year) for year in cohorts)
    stages = _summary_value(result.stdout, "time per stage")
    assert [part.rsplit(" ", 2)[0] for part in stages.split(", ")] == [
        "ingestion",
        "reference data",
        "dbt",
        "expectations",
        "models",
        "reports",
        "publication",
    ]


def test_the_run_log_holds_dbts_full_output(piped_run):
    _, home, result = piped_run
    run_log = Path(_summary_value(result.stdout, "run log"))
    assert run_log.parent == home / "logs"
    text = run_log.read_text()
    assert re.search(r"^\d+ of \d+ START ", text, flags=re.MULTILINE), "no dbt START line in the run log"
    # dbt's line for every node of the build: started, then passed, warned, failed, skipped or (exposures) no-op.
    reported = re.findall(r"^(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b", text, flags=re.MULTILINE)
    # Each dbt command numbers its own nodes: every command's every node is in the log.
    by_command: dict[int, set[int]] = {}
    for index, total in reported:
        by_command.setdefault(int(total), set()).add(int(index))
    assert len(by_command) >= 1 and max(by_command) > 100
    for total, indices in by_command.items():
        assert sorted(indices) == list(range(1, total + 1)), total
    assert "Completed successfully" in text
    assert "RUN_SUCCESS" in text  # Dagster's own log of the build


def test_a_terminal_sees_the_progress_bar(piped_run):
    landing, home, _ = piped_run
    primary, secondary = pty.openpty()
    env = {**_environment(landing, home), "TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen([str(IWH), "run"], env=env, cwd=REPO, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=600) == 0
    shown = b"".join(chunks).decode(errors="replace")
    assert "━" in shown  # rich's bar
    assert "models fitted" in shown
    assert "\x1b[" in shown
