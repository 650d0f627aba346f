"""dbt models and seeds as Dagster assets; dbt tests as asset checks; dbt docs as a report."""

import json
import tempfile
from pathlib import Path

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.resources import WarehouseResource
from orchestration.transformation.project import apply_dbt_environment, copy_static_docs, ensure_manifest
from orchestration.transformation.translator import WarehouseDbtTranslator

# dbt's recommendation: unit tests check the SQL on fixed rows, so they run in development and CI
# (tests/test_dbt_harmonisation.py), not on every production build.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]


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
    variables = ["--vars", json.dumps({"outcome_variant": settings.outcome_variant})]
    # Per-run artefacts (compiled SQL, run results, dbt's log) go to a scratch directory beside the
    # warehouse instead of accumulating in the repository's dbt_project/target/.
    with tempfile.TemporaryDirectory(prefix="dbt-run-", dir=settings.home) as scratch:
        yield from dbt.cli([*BUILD_ARGS, *variables], context=context, target_path=Path(scratch) / "build").stream()
        docs_target = Path(scratch) / "docs"
        dbt.cli(["docs", "generate", "--static", *variables], target_path=docs_target).wait()
        docs = copy_static_docs(docs_target, settings)
    context.log.info(f"dbt docs written to {docs}")
