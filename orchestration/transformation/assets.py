"""dbt models and seeds as Dagster assets; the blocking and warning dbt tests as asset checks; dbt docs as a report."""

import json
from collections.abc import Iterator

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    DagsterLogManager,
    Failure,
    MetadataValue,
    Output,
)
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.background_imports import import_in_background
from orchestration.resources import WarehouseResource
from orchestration.transformation.invocation import DbtCommand, DbtCommandError, NodeResult
from orchestration.transformation.project import (
    DBT_PROJECT,
    apply_dbt_environment,
    copy_static_docs,
    dbt_command,
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
# dbt's statuses of a test that ran (a test not run is "skipped").
TEST_OUTCOMES = frozenset({"pass", "warn", "fail", "error"})
REUSE_REASON = "not rebuilt: its code and the sources it reads are unchanged since the last successful build"


def _output(unique_id: str, metadata: dict) -> Output:
    key = TRANSLATOR.get_asset_key(MANIFEST["nodes"][unique_id])
    return Output(None, output_name=dbt_warehouse_assets.get_output_name_for_asset_key(key), metadata=metadata)


def _reused_output(unique_id: str) -> Output:
    return _output(unique_id, {"reused": MetadataValue.text(REUSE_REASON)})


def _check_keys() -> dict[str, AssetCheckKey]:
    """The asset check of each checked dbt test, by the test's unique_id (dagster-dbt's metadata)."""
    return {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in dbt_warehouse_assets.check_specs}


def _events(result: NodeResult, check_keys: dict[str, AssetCheckKey]) -> list[Output | AssetCheckResult]:
    """A node's result as Dagster events, as dagster-dbt makes them: an output for a model or seed
    dbt built, a check result for a checked test (translator.is_checked_test) that ran. The other
    tests make no event: a failing one fails the build, and every result is in run_results.json."""
    metadata = {
        "unique_id": result.unique_id,
        "status": result.status,
        "execution_duration": round(result.execution_time, 3),
    }
    node = MANIFEST["nodes"].get(result.unique_id)
    if node is None:
        return []
    if node["resource_type"] in ("model", "seed") and result.status == "success":
        return [_output(result.unique_id, metadata)]
    key = check_keys.get(result.unique_id)
    if key is None or result.status not in TEST_OUTCOMES:
        return []
    return [
        AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.status == "pass",
            severity=AssetCheckSeverity.WARN if result.status == "warn" else AssetCheckSeverity.ERROR,
            # dbt's words for a test that did not pass ("Got 3 results, configured to fail if != 0").
            description=None if result.status == "pass" else result.message,
            metadata={**metadata, "dagster_dbt/failed_row_count": result.failures},
        )
    ]


def _dagster_events(command: DbtCommand, reuse: bool, log: DagsterLogManager) -> Iterator[Output | AssetCheckResult]:
    """The build's results as Dagster events, as they come (_events).

    With `reuse`, every model and seed dbt did not select has an output too, or Dagster would skip
    what is downstream of it; each comes before the first result downstream of it (reuse.not_yet_built).
    """
    check_keys = _check_keys()
    done: set[str] = set()
    for result in command.results():
        events = _events(result, check_keys)
        if events and reuse:
            parents = MANIFEST["nodes"][result.unique_id]["depends_on"].get("nodes", [])
            yield from map(_reused_output, not_yet_built(MANIFEST, parents, done))
            done.add(result.unique_id)
        yield from events
    if reuse:
        reused = not_yet_built(MANIFEST, sorted(MANIFEST["nodes"]), done)
        if reused:
            log.info(f"{len(reused)} dbt models and seeds unchanged since the last successful build")
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
        # dagster-dbt's own translation of a selection into dbt's, and of the results into events.
        build = dbt.cli([*BUILD_ARGS, *variables], context=context, target_path=target)
        import_in_background()
        yield from build.stream()
        state = None
    else:
        with warehouse.connect(read_only=True) as con:
            state = usable_state(settings, MANIFEST, con)
            # What each source holds now, for this build's selection and the next one's.
            loads = source_loads(MANIFEST, con)
        selection = state_selection(state, MANIFEST, loads) if state else []
        build = dbt_command(settings, [*BUILD_ARGS, *variables, *selection])
        # Started once dbt runs: before, this thread's own imports would slow the start of dbt's
        # process (Python on both cores).
        import_in_background()
        try:
            yield from _dagster_events(build, reuse=state is not None, log=context.log)
        except DbtCommandError as error:
            raise Failure(description=str(error), allow_retries=False) from None
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
        docs = dbt_command(settings, ["docs", "generate", "--static", *compile_args, *variables])
        try:
            docs.wait()
        except DbtCommandError as error:
            raise Failure(description=str(error), allow_retries=False) from None
        context.log.info(f"dbt docs written to {copy_static_docs(target, settings, fingerprint)}")
