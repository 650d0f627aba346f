"""The marts' dbt contracts (a model whose columns or types leave its contract fails `dbt build`),
the analysis tables as documented sources, and the exposures that read them."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.analysis.assets import TABLE_DESCRIPTIONS
from orchestration.transformation.project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_environment,
    dbt_vars,
    prepare_manifest,
)


def _build_analysis_dataset(project: Path, settings, warehouse: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **dbt_environment(settings), "IWH_WAREHOUSE_PATH": str(warehouse)}
    command = [str(DBT_EXECUTABLE), "build", "--select", "analysis_dataset", *dbt_vars(settings)]
    command += ["--project-dir", str(project), "--profiles-dir", str(project)]
    return subprocess.run(command, env=env, capture_output=True, text=True)


@pytest.fixture
def project_and_warehouse(built_warehouse, tmp_path) -> tuple[Path, Path]:
    """Copies of the dbt project and of a built warehouse (the model's parents are there)."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.settings.warehouse_path, warehouse)
    return project, warehouse


@pytest.mark.slow
def test_a_model_that_breaks_its_contract_fails_dbt_build(built_warehouse, project_and_warehouse):
    project, warehouse = project_and_warehouse
    kept = _build_analysis_dataset(project, built_warehouse.settings, warehouse)
    assert kept.returncode == 0, kept.stdout[-3000:]

    model = project / "models" / "marts" / "analysis_dataset.sql"
    model.write_text(
        "select * replace (cohort_year::varchar as cohort_year) from (\n" + model.read_text() + "\n) as model\n"
    )
    broken = _build_analysis_dataset(project, built_warehouse.settings, warehouse)
    assert broken.returncode != 0
    assert "contract" in broken.stdout and "cohort_year" in broken.stdout


def test_every_mart_has_an_enforced_contract_and_every_analysis_table_is_a_documented_source():
    manifest = json.loads(prepare_manifest().read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert {m["name"] for m in marts} >= {"participant_exits", "analysis_dataset", "municipality_year", "exclusions"}
    for mart in marts:
        assert mart["config"]["contract"]["enforced"], mart["name"]
        assert all(column.get("data_type") for column in mart["columns"].values()), mart["name"]
    sources = {s["name"]: s for s in manifest["sources"].values() if s["source_name"] == "analysis"}
    assert set(TABLE_DESCRIPTIONS) <= set(sources)
    for name in TABLE_DESCRIPTIONS:
        assert all(column["description"] for column in sources[name]["columns"].values()), name


def test_the_exposures_name_what_reads_the_marts_and_the_analysis_tables():
    manifest = json.loads(prepare_manifest().read_text())
    exposures = {e["name"]: set(e["depends_on"]["nodes"]) for e in manifest["exposures"].values()}
    assert {"analysis_report", "auditors_report", "unit_pages", "exports"} <= set(exposures)
    analysis_tables = {f"source.iwh.analysis.{name}" for name in TABLE_DESCRIPTIONS}
    assert exposures["exports"] >= analysis_tables | {"model.iwh.analysis_dataset", "seed.iwh.kodelister"}
    assert "source.iwh.analysis.contribution_indicators" in exposures["unit_pages"]
    assert {"model.iwh.exclusions", "source.iwh.quality.quarantine"} <= exposures["auditors_report"]


def test_every_coded_numeric_column_of_the_marts_names_a_code_list_of_the_seed():
    """Coded = a numeric column whose accepted_values test lists its codes; its value labels in the
    .dta files and the codebook come from the code list it names."""
    manifest = json.loads(prepare_manifest().read_text())
    with (DBT_PROJECT_DIR / "seeds" / "kodelister.csv").open(encoding="utf-8") as seed:
        lists: dict[str, set[int]] = {}
        for row in csv.DictReader(seed):
            lists.setdefault(row["kodeliste"], set()).add(int(row["kode"]))
    unlabelled = []
    for test in manifest["nodes"].values():
        if test["resource_type"] != "test" or test.get("test_metadata", {}).get("name") != "accepted_values":
            continue
        model = manifest["nodes"].get(test.get("attached_node") or "", {})
        column = model.get("columns", {}).get(test["column_name"], {})
        if model.get("schema") != "marts" or column.get("data_type") not in ("INTEGER", "BIGINT", "DOUBLE"):
            continue
        code_list = ((column.get("config") or {}).get("meta") or {}).get("kodeliste")
        codes = {int(value) for value in test["test_metadata"]["kwargs"]["values"]}
        if code_list not in lists or not codes <= lists[code_list]:
            unlabelled.append(f"{model['name']}.{test['column_name']}")
    assert unlabelled == []


def test_analysts_see_each_mart_and_its_columns_described_in_the_published_warehouse(built_warehouse):
    manifest = json.loads(prepare_manifest().read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    con = duckdb.connect(str(built_warehouse.settings.published_path), read_only=True)
    try:
        tables = dict(con.sql("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall())
        columns = {
            (table, column): comment
            for table, column, comment in con.sql(
                "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    assert len(marts) >= 4
    for mart in marts:
        assert tables[mart["name"]] == mart["description"]
        described = {name: column["description"] for name, column in mart["columns"].items() if column["description"]}
        assert described, mart["name"]
        assert {name: columns[mart["name"], name] for name in described} == described
