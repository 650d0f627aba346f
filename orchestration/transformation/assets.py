"""dbt models and seeds as Dagster assets; dbt tests as asset checks; dbt docs as a report."""

import os
import shutil
import tempfile
from pathlib import Path

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.background_imports import import_in_background
from orchestration.resources import WarehouseResource
from orchestration.transformation.project import (
    PARTIAL_PARSE_FILE,
    apply_dbt_environment,
    copy_static_docs,
    dbt_vars,
    docs_are_current,
    docs_fingerprint,
    ensure_manifest,
    saved_parse_path,
)
from orchestration.transformation.translator import WarehouseDbtTranslator

# dbt's recommendation: unit tests check the SQL on fixed rows, so they run in development and CI
# (tests/test_dbt_harmonisation.py), not on every production build.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]
WAREHOUSE_COLUMNS = """
    select table_schema, table_name, column_name, data_type, ordinal_position
    from information_schema.columns order by all
"""


@dbt_assets(
    manifest=ensure_manifest(),
    dagster_dbt_translator=WarehouseDbtTranslator(),
    name="dbt_warehouse",
)
def dbt_warehouse_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of seeds, staging, intermediate and marts (harmonisation.md), its tests as asset
    checks; then the dbt docs site for analysts under IWH_HOME/reports/dbt_docs/."""
    settings = warehouse.settings()
    apply_dbt_environment(settings)
    variables = dbt_vars(settings)
    # Per-run artefacts (compiled SQL, run results, dbt's log) go to a scratch directory beside the
    # warehouse instead of accumulating in the repository's dbt_project/target/. Both dbt commands
    # share it, so docs generation starts from the build's parse, and the parse is kept for the next
    # run of this home (a full parse costs more than a small build).
    saved_parse = saved_parse_path(settings)
    with tempfile.TemporaryDirectory(prefix="dbt-run-", dir=settings.home) as scratch:
        target = Path(scratch) / "target"
        target.mkdir()
        if saved_parse.exists():
            shutil.copyfile(saved_parse, target / PARTIAL_PARSE_FILE)
        build = dbt.cli([*BUILD_ARGS, *variables], context=context, target_path=target)
        import_in_background()
        yield from build.stream()
        with warehouse.connect(read_only=True) as con:
            columns = con.execute(WAREHOUSE_COLUMNS).fetchall()
        fingerprint = docs_fingerprint(target, columns)
        # Most runs bring new data, not a new project: the docs of the last run are still right,
        # and generating them again costs a dbt process (about 4 s).
        if docs_are_current(settings, fingerprint):
            context.log.info("dbt docs unchanged: the project and the warehouse's columns are those of the last run")
        else:
            # The build just compiled every node into this target: the catalog is all that is left to do.
            dbt.cli(["docs", "generate", "--static", "--no-compile", *variables], target_path=target).wait()
            context.log.info(f"dbt docs written to {copy_static_docs(target, settings, fingerprint)}")
        if (target / PARTIAL_PARSE_FILE).exists():
            os.replace(target / PARTIAL_PARSE_FILE, saved_parse)
