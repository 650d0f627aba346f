"""dbt models and seeds as Dagster assets; the blocking and warning dbt tests as asset checks; dbt docs as a report."""

import json
from collections.abc import Iterator

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue, Output
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets

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
)
from orchestration.transformation.reuse import (
    not_yet_built,
    save_state,
    source_loads,
    state_selection,
    usable_state,
)
from orchestration.transformation.translator import WarehouseDbtTranslator, is_checked_test

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
CHECKED_TESTS = frozenset(
    unique_id
    for unique_id, node in MANIFEST["nodes"].items()
    if node["resource_type"] == "test" and is_checked_test(node)
)
REUSE_REASON = "not rebuilt: its code and the sources it reads are unchanged since the last successful build"


def _reused_output(unique_id: str) -> Output:
    key = TRANSLATOR.get_asset_key(MANIFEST["nodes"][unique_id])
    return Output(
        None,
        output_name=dbt_warehouse_assets.get_output_name_for_asset_key(key),
        metadata={"reused": MetadataValue.text(REUSE_REASON)},
    )


def _dagster_events(
    invocation: DbtCliInvocation, context: AssetExecutionContext, reuse: bool
) -> Iterator[Output | AssetCheckResult]:
    """dbt's results as Dagster events: an output per model and seed, a check result per blocking
    or warning test (translator.is_checked_test). The other tests make no event: a failing one fails
    the build, and every result is in run_results.json.

    With `reuse`, every model and seed dbt did not select has an output too, or Dagster would skip
    what is downstream of it; each comes before the first result downstream of it (reuse.not_yet_built).
    """
    done: set[str] = set()
    for event in invocation.stream_raw_events():
        unique_id = event.raw_event["data"].get("node_info", {}).get("unique_id", "")
        if unique_id.startswith("test.") and unique_id not in CHECKED_TESTS:
            continue
        results = list(
            event.to_default_asset_events(
                manifest=MANIFEST,
                dagster_dbt_translator=TRANSLATOR,
                context=context,
                target_path=invocation.target_path,
            )
        )
        if results and reuse:
            parents = MANIFEST["nodes"][unique_id]["depends_on"].get("nodes", [])
            yield from map(_reused_output, not_yet_built(MANIFEST, parents, done))
            done.add(unique_id)
        yield from results
    if reuse:
        reused = not_yet_built(MANIFEST, sorted(MANIFEST["nodes"]), done)
        if reused:
            context.log.info(f"{len(reused)} dbt models and seeds unchanged since the last successful build")
        yield from map(_reused_output, reused)


@dbt_assets(manifest=MANIFEST, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR, name="dbt_warehouse")
def dbt_warehouse_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of seeds, staging, intermediate and marts (harmonisation.md), building only what
    changed since the last successful build (reuse.py); then the dbt docs site for analysts under
    IWH_HOME/reports/dbt_docs/."""
    settings = warehouse.settings()
    apply_dbt_environment(settings)
    variables = dbt_vars(settings)
    target = dbt_target_path(settings)
    target.mkdir(parents=True, exist_ok=True)
    # A selection made in the UI is built as asked, with dagster-dbt's own selection of it.
    whole_project = context.selected_asset_keys == set(dbt_warehouse_assets.keys) and (
        context.selected_asset_check_keys == set(dbt_warehouse_assets.check_keys)
    )
    if not whole_project:
        build = dbt.cli([*BUILD_ARGS, *variables], context=context, target_path=target)
        import_in_background()
        yield from _dagster_events(build, context, reuse=False)
        state = None
    else:
        with warehouse.connect(read_only=True) as con:
            state = usable_state(settings, MANIFEST, con)
            # What each source holds now, for this build's selection and the next one's.
            loads = source_loads(MANIFEST, con)
        build = dbt.cli(
            [*BUILD_ARGS, *variables, *(state_selection(state, MANIFEST, loads) if state else [])],
            manifest=MANIFEST,
            dagster_dbt_translator=TRANSLATOR,
            target_path=target,
        )
        # Started once dbt runs: before, this thread's own imports would slow dagster-dbt's
        # preparation of the command (Python on both threads).
        import_in_background()
        yield from _dagster_events(build, context, reuse=state is not None)
        save_state(target, settings, loads)

    with warehouse.connect(read_only=True) as con:
        columns = con.execute(WAREHOUSE_COLUMNS).fetchall()
    fingerprint = docs_fingerprint(MANIFEST, variables, columns)
    # Most runs bring new data, not a new project: the docs of the last run are still right,
    # and generating them again costs a dbt process.
    if docs_are_current(settings, fingerprint):
        context.log.info("dbt docs unchanged: the project and the warehouse's columns are those of the last run")
    else:
        # A build of the whole project compiled every node into this target: the catalog is all
        # that is left to do.
        compile_args = ["--no-compile"] if whole_project and state is None else []
        dbt.cli(["docs", "generate", "--static", *compile_args, *variables], target_path=target).wait()
        context.log.info(f"dbt docs written to {copy_static_docs(target, settings, fingerprint)}")
