"""The dbt CLI resource, pointing at this repository's dbt project and the venv's own dbt."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from iwh.settings import Settings
from orchestration.transformation.project import DBT_EXECUTABLE, DBT_PROJECT_DIR, apply_dbt_environment


def dbt_resource(settings: Settings | None = None) -> DbtCliResource:
    """A DbtCliResource for dbt_project/. The warehouse path is also set again by the dbt asset
    from its WarehouseResource at run time, so a run configured with another IWH_HOME builds there."""
    apply_dbt_environment(settings or Settings.from_env())
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(DBT_EXECUTABLE),
    )
