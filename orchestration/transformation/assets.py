"""dbt models and seeds as Dagster assets; dbt tests as asset checks; dbt docs as a report."""

import json
from collections.abc import Iterator

from dagster import AssetCheckResult, AssetCheckSeverity, AssetExecutionContext, MetadataValue, Output
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.background_imports import import_in_background
from orchestration.resources import WarehouseResource
from orchestration.transformation.project import (
    DBT_PROJECT,
    apply_dbt_environment,
    copy_static_docs,
    dbt_target_path,
    dbt_vars,
    docs_are_current,
    docs_fingerprint,
    docs_site_exists,
)
from orchestration.transformation.reuse import BuildPlan, plan_build, record_build
from orchestration.transformation.translator import WarehouseDbtTranslator

# dbt's recommendation: unit tests check the SQL on fixed rows, so they run in development and CI
# (tests/test_dbt_harmonisation.py), not on every production build.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]
WAREHOUSE_COLUMNS = """
    select table_schema, table_name, column_name, data_type, ordinal_position
    from information_schema.columns order by all
"""
# Prepared before the definitions load (project.prepare_manifest), or by `dagster dev`.
MANIFEST = json.loads(DBT_PROJECT.manifest_path.read_text())
TRANSLATOR = WarehouseDbtTranslator()
# Where dagster-dbt keeps a check's dbt test in the check's metadata.
DBT_UNIQUE_ID_METADATA_KEY = "dagster_dbt/unique_id"
REUSE_REASON = "its inputs and the dbt project are unchanged since it last succeeded"


def _reused_results(context: AssetExecutionContext, plan: BuildPlan) -> Iterator[Output | AssetCheckResult]:
    """What the reused nodes stand for in this run: an output for each selected model and seed
    (Dagster skips every asset downstream of an output that is not yielded) and, for each selected
    test, the result it last had. They come before dbt's own events because reused nodes are only
    ever upstream of rebuilt ones."""
    checks = {spec.metadata.get(DBT_UNIQUE_ID_METADATA_KEY): spec for spec in context.assets_def.check_specs}
    for unique_id, status in plan.reused.items():
        node = MANIFEST["nodes"][unique_id]
        if node["resource_type"] == "test":
            spec = checks.get(unique_id)
            if spec is not None and spec.key in context.selected_asset_check_keys:
                yield AssetCheckResult(
                    asset_key=spec.asset_key,
                    check_name=spec.name,
                    passed=status == "pass",
                    severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity.ERROR,
                    metadata={"reused": MetadataValue.text(f"not run again: {REUSE_REASON}")},
                )
            continue
        key = TRANSLATOR.get_asset_key(node)
        if key in context.selected_asset_keys:
            yield Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key),
                metadata={"reused": MetadataValue.text(f"not rebuilt: {REUSE_REASON}")},
            )


@dbt_assets(manifest=MANIFEST, dagster_dbt_translator=TRANSLATOR, name="dbt_warehouse")
def dbt_warehouse_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of seeds, staging, intermediate and marts (harmonisation.md), its tests as asset
    checks, reusing nodes whose inputs are unchanged (reuse.py); then the dbt docs site for
    analysts under IWH_HOME/reports/dbt_docs/."""
    import_in_background()
    settings = warehouse.settings()
    apply_dbt_environment(settings)
    variables = dbt_vars(settings)
    # A selection made in the UI is rebuilt as asked; dbt's selection of it also relies on the
    # indirect selection of tests that reuse turns off (BuildPlan.dbt_args).
    whole_project = context.selected_asset_keys == set(dbt_warehouse_assets.keys) and (
        context.selected_asset_check_keys == set(dbt_warehouse_assets.check_keys)
    )
    with warehouse.connect() as con:
        plan = plan_build(con, MANIFEST, variables, reuse=whole_project)
    if len(plan.reused) == len(plan.fingerprints) and docs_site_exists(settings):
        # Nothing to build and nothing new to document: no dbt process at all (about 5 s).
        context.log.info(f"all {len(plan.reused)} dbt nodes reused: their inputs are unchanged; dbt not started")
        yield from _reused_results(context, plan)
        return
    if plan.reused:
        context.log.info(
            f"reusing {len(plan.reused)} of {len(plan.fingerprints)} dbt nodes: their inputs are unchanged"
        )
    target = dbt_target_path(settings)
    target.mkdir(parents=True, exist_ok=True)
    # Only this build's results may be recorded, even when dbt dies before writing its own.
    (target / "run_results.json").unlink(missing_ok=True)
    build = dbt.cli([*BUILD_ARGS, *variables, *plan.dbt_args(MANIFEST)], context=context, target_path=target)
    yield from _reused_results(context, plan)
    try:
        yield from build.stream()
    finally:
        with warehouse.connect() as con:
            record_build(con, plan, target / "run_results.json", context.run.run_id)
    with warehouse.connect(read_only=True) as con:
        columns = con.execute(WAREHOUSE_COLUMNS).fetchall()
    fingerprint = docs_fingerprint(target, columns)
    # Most runs bring new data, not a new project: the docs of the last run are still right,
    # and generating them again costs a dbt process (about 4 s).
    if docs_are_current(settings, fingerprint):
        context.log.info("dbt docs unchanged: the project and the warehouse's columns are those of the last run")
    else:
        # A build that reused no node compiled every node into this target: the catalog is all
        # that is left to do.
        compile_args = ["--no-compile"] if not plan.reused else []
        dbt.cli(["docs", "generate", "--static", *compile_args, *variables], target_path=target).wait()
        context.log.info(f"dbt docs written to {copy_static_docs(target, settings, fingerprint)}")
