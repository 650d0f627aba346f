"""The dbt docs site is generated again only when what it shows changes: the project's files, the
run's vars, or the warehouse columns of the project's relations."""

from __future__ import annotations

import shutil

import pytest

from orchestration.transformation import project
from orchestration.transformation.project import docs_fingerprint

VARS = ["--vars", '{"outcome_variant": "report_text"}']
MANIFEST = {
    "metadata": {"dbt_version": "1.11.2"},
    "nodes": {
        "model.iwh.analysis_dataset": {
            "schema": "marts",
            "name": "analysis_dataset",
            "alias": "analysis_dataset",
            "depends_on": {"nodes": ["source.iwh.nir.deltakere"]},
        }
    },
    "sources": {
        "source.iwh.nir.deltakere": {"schema": "raw", "identifier": "nir_deltakere"},
        "source.iwh.analysis.model_fit": {"schema": "analysis", "identifier": "model_fit"},
    },
}
COLUMNS = [
    ("marts", "analysis_dataset", "spor", "INTEGER", 1),
    ("raw", "nir_deltakere", "kjonn", "VARCHAR", 1),
    ("analysis", "model_fit", "aic", "DOUBLE", 1),
]


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """A copy of the dbt project to edit, with what dbt generated in it."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(project.DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (copy / "target").mkdir()
    monkeypatch.setattr(project, "DBT_PROJECT_DIR", copy)
    return copy


def test_the_same_project_and_columns_give_the_same_fingerprint(project_copy):
    first = docs_fingerprint(MANIFEST, VARS, COLUMNS)
    (project_copy / "target" / "manifest.json").write_text("{}")
    assert docs_fingerprint(MANIFEST, VARS, COLUMNS) == first, "what dbt generates is not part of the project"


def test_an_edited_project_file_or_other_vars_change_the_fingerprint(project_copy):
    first = docs_fingerprint(MANIFEST, VARS, COLUMNS)
    assert docs_fingerprint(MANIFEST, ["--vars", '{"outcome_variant": "table8_literal"}'], COLUMNS) != first
    overview = project_copy / "models" / "overview.md"
    overview.write_text(overview.read_text() + "\nEn ny setning.\n")
    assert docs_fingerprint(MANIFEST, VARS, COLUMNS) != first


def test_a_changed_documented_column_changes_the_fingerprint(project_copy):
    first = docs_fingerprint(MANIFEST, VARS, COLUMNS)
    retyped = [("marts", "analysis_dataset", "spor", "BIGINT", 1), *COLUMNS[1:]]
    assert docs_fingerprint(MANIFEST, VARS, retyped) != first
    added_to_source = [*COLUMNS, ("raw", "nir_deltakere", "extra", "VARCHAR", 2)]
    assert docs_fingerprint(MANIFEST, VARS, added_to_source) != first


def test_tables_outside_the_dbt_project_or_written_after_dbt_do_not_count(project_copy):
    """analysis.model_fit is a source no model reads: the models step writes it after dbt."""
    first = docs_fingerprint(MANIFEST, VARS, COLUMNS)
    other_analysis_tables = [*COLUMNS, ("analysis", "vif", "gvif", "DOUBLE", 1)]
    assert docs_fingerprint(MANIFEST, VARS, other_analysis_tables) == first
    assert docs_fingerprint(MANIFEST, VARS, [*COLUMNS, ("analysis", "model_fit", "bic", "DOUBLE", 2)]) == first
