"""The marts' dbt contracts: a model whose columns or types leave its contract fails `dbt build`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.transformation.project import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_environment, dbt_vars

pytestmark = pytest.mark.slow


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
