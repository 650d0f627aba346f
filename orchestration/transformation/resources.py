"""The dbt CLI resource: dagster-dbt's own, for this repository's dbt project."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from iwh.settings import Settings
from orchestration.transformation.project import apply_dbt_environment, dbt_cli_resource


def dbt_resource(settings: Settings | None = None) -> DbtCliResource:
    """The warehouse path is also set again by the dbt asset from its WarehouseResource at run time,
    so a run configured with another IWH_HOME builds there."""
    apply_dbt_environment(settings or Settings.from_env())
    return dbt_cli_resource()
