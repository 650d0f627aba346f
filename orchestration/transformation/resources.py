"""The dbt CLI resource, pointing at this repository's dbt project and the venv's own dbt."""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from packaging.version import Version

from iwh.settings import Settings
from orchestration.transformation.project import DBT_PROJECT_DIR, apply_dbt_environment
from orchestration.transformation.warm_dbt import CLIENT_EXECUTABLE


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource without the in-process dbt adapter or the `dbt --version` process.

    Before every dbt command dagster-dbt loads the dbt profile and project in this process and
    registers an adapter, which it needs only to fetch column metadata and row counts after the
    command. The pipeline fetches neither, and the adapter cost about 3 s per command (measured:
    two commands per build, 6 s of a 25 s dbt step at scale 1). dagster-dbt runs the command without
    an adapter when none can be made, which is what this resource always asks for.
    """

    def _initialize_dbt_core_adapter(self, args):
        return None

    @cached_property
    def _cli_version(self) -> Version:
        """dagster-dbt asks the dbt executable for its version (`dbt --version`, a 3 s process per
        build). The executable, `iwh-dbt`, runs this venv's own dbt, so its version is the installed
        dbt-core's."""
        return Version(version("dbt-core"))


def dbt_resource(settings: Settings | None = None) -> DbtCliResource:
    """A DbtCliResource for dbt_project/. The warehouse path is also set again by the dbt asset
    from its WarehouseResource at run time, so a run configured with another IWH_HOME builds there."""
    apply_dbt_environment(settings or Settings.from_env())
    return WarehouseDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(CLIENT_EXECUTABLE),
    )
