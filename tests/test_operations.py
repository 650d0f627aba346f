"""Operating the warehouse: repeat runs, readers during runs, concurrent runs, exports.

These tests work on copies of the session's built warehouse, so they can run the pipeline
again without disturbing other tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from pipeline_env import point_environment_at
from warehouse_content import content_checksums

READER_SCRIPT = textwrap.dedent(
    """
    import duckdb, pathlib, sys, time
    snapshot, log, stop = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    con = duckdb.connect(snapshot, read_only=True)
    with log.open("w") as out:
        while not stop.exists():
            n, run_id = con.execute(
                "select count(*), min(run_id) from analysis.model_fit").fetchone()
            exits = con.execute("select count(*) from marts.participant_exits").fetchone()[0]
            out.write(f"{n} {run_id} {exits}\\n")
            out.flush()
            time.sleep(0.2)
    """
)


def _copy_home(built_warehouse, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(built_warehouse.settings.home, home, ignore=shutil.ignore_patterns("warehouse.lock"))
    return home


def _published_run_id(snapshot: Path) -> str:
    code = "import duckdb,sys; print(duckdb.connect(sys.argv[1], read_only=True).execute('select min(run_id) from analysis.model_fit').fetchone()[0])"
    return subprocess.run(
        [sys.executable, "-c", code, str(snapshot)], check=True, capture_output=True, text=True
    ).stdout.strip()


def _dbt_nodes_run(home: Path) -> list[str]:
    """The dbt nodes the home's last dbt build ran (dbt's run_results.json)."""
    run_results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())
    return sorted(result["unique_id"] for result in run_results["results"])


@pytest.mark.slow
def test_a_repeat_run_gives_identical_tables_while_a_reader_keeps_answering(built_warehouse, tmp_path):
    from orchestration.runner import run_pipeline

    home = _copy_home(built_warehouse, tmp_path)
    settings = point_environment_at(built_warehouse.landing_dir, home)
    snapshot = settings.published_path
    before = content_checksums(snapshot)
    old_run_id = _published_run_id(snapshot)
    docs = settings.reports_dir / "dbt_docs" / "index.html"
    docs_written = docs.stat().st_mtime_ns
    assert len(_dbt_nodes_run(home)) > 100, "the session's build ran every dbt node"

    log, stop = tmp_path / "reader.log", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(snapshot), str(log), str(stop)], stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1)
        outcome = run_pipeline(settings)
        time.sleep(0.5)
    finally:
        stop.touch()
        _, reader_errors = reader.communicate(timeout=60)
    assert outcome.ok, outcome.failures
    assert outcome.ingested == [], "unchanged deliveries must not be ingested again"
    assert reader.returncode == 0, reader_errors

    answers = log.read_text().splitlines()
    assert len(answers) >= 10
    assert set(answers) == {answers[0]}, "the open reader kept seeing one consistent snapshot"
    assert answers[0].split()[1] == old_run_id

    assert _published_run_id(snapshot) != old_run_id, "a new connection sees the new publication"
    assert content_checksums(snapshot) == before, "same deliveries, same tables (run metadata aside)"
    assert content_checksums(settings.previous_published_path) == before
    assert docs.stat().st_mtime_ns == docs_written, "same project and columns: the dbt docs are not generated again"
    assert _dbt_nodes_run(home) == [], "same project and deliveries: dbt selected no node to build again"


def test_the_stata_export_has_the_marts_values_and_value_labels(built_warehouse):
    settings = built_warehouse.settings
    dta = settings.exports_dir / "marts__analysis_dataset.dta"
    parquet = settings.exports_dir / "marts__analysis_dataset.parquet"
    from_stata = pd.read_stata(dta, convert_categoricals=False)
    from_parquet = pd.read_parquet(parquet)
    assert len(from_stata) == len(from_parquet) > 0
    for column in ("alder", "botid", "norsk_score", "spor", "maloppnaelse", "ordning", "tiltak_fag_vgo"):
        pd.testing.assert_series_equal(
            from_stata[column].astype("float64"), from_parquet[column].astype("float64"), check_names=False
        )
    assert (from_stata["person_key"] == from_parquet["person_key"]).all()

    with pd.io.stata.StataReader(dta) as reader:
        labels = reader.value_labels()
    assert labels["spor"] == {1: "liten eller ingen skolegang", 2: "en del skolegang", 3: "god allmennutdanning"}
    assert labels["kjonn_mann"] == {0: "kvinne", 1: "mann"}
    assert labels["tiltak_fag_vgo"] == {0: "nei", 1: "ja"}
    labelled = pd.read_stata(dta)
    assert set(labelled["ordning"].dropna().unique()) == {"introduksjonsprogrammet", "Jobbsjansen"}
