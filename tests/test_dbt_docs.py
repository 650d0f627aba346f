"""The dbt docs site is generated again only when what it shows changes."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.transformation.project import docs_fingerprint

COLUMNS = [
    ("marts", "analysis_dataset", "spor", "INTEGER", 1),
    ("raw", "nir_deltakere", "kjonn", "VARCHAR", 1),
    ("analysis", "model_fit", "aic", "DOUBLE", 1),
]


def _target(tmp_path: Path, name: str, description: str = "Per exit.", created_at: float = 1.0) -> Path:
    target = tmp_path / name
    target.mkdir()
    manifest = {
        "metadata": {"dbt_version": "1.11.0", "generated_at": f"2026-11-22T0{int(created_at)}:00:00Z"},
        "nodes": {
            "model.iwh.analysis_dataset": {
                "schema": "marts",
                "name": "analysis_dataset",
                "alias": "analysis_dataset",
                "description": description,
                "created_at": created_at,
                "compiled_path": str(target / "compiled" / "analysis_dataset.sql"),
            }
        },
        "sources": {
            "source.iwh.raw.nir_deltakere": {"schema": "raw", "identifier": "nir_deltakere", "description": "NIR"}
        },
    }
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_a_new_parse_of_the_same_project_has_the_same_fingerprint(tmp_path):
    first = docs_fingerprint(_target(tmp_path, "a", created_at=1.0), COLUMNS)
    assert docs_fingerprint(_target(tmp_path, "b", created_at=2.0), COLUMNS) == first


def test_a_changed_description_or_documented_column_changes_the_fingerprint(tmp_path):
    first = docs_fingerprint(_target(tmp_path, "a"), COLUMNS)
    assert docs_fingerprint(_target(tmp_path, "b", description="Per participant."), COLUMNS) != first
    retyped = [("marts", "analysis_dataset", "spor", "BIGINT", 1), *COLUMNS[1:]]
    assert docs_fingerprint(_target(tmp_path, "c"), retyped) != first
    added_to_source = [*COLUMNS, ("raw", "nir_deltakere", "extra", "VARCHAR", 2)]
    assert docs_fingerprint(_target(tmp_path, "d"), added_to_source) != first


def test_tables_outside_the_dbt_project_do_not_count(tmp_path):
    first = docs_fingerprint(_target(tmp_path, "a"), COLUMNS)
    other_analysis_tables = [*COLUMNS, ("analysis", "vif", "gvif", "DOUBLE", 1)]
    assert docs_fingerprint(_target(tmp_path, "b"), other_analysis_tables) == first
