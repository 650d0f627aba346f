"""One pipeline stage per process, so the harness can measure each stage's CPU time and peak memory.

Usage: python -m benchmarks.stages STAGE   (IWH_LANDING_DIR / IWH_HOME from the environment)
Stages run the real Dagster assets of that stage against the working warehouse left by the
previous stage, in pipeline order.
"""

from __future__ import annotations

import sys

from dagster import AssetCheckKey, AssetKey

STAGES = ("ingest", "dbt", "expectations", "models", "reports", "publication")


def _keys(assets_defs) -> list[AssetKey]:
    return [key for assets_def in assets_defs for key in assets_def.keys]


def stage_selection(stage: str) -> list[AssetKey]:
    from orchestration.analysis import assets as analysis_assets
    from orchestration.definitions import defs
    from orchestration.ingestion import assets as ingestion_assets
    from orchestration.quality import assets as quality_assets
    from orchestration.transformation.assets import dbt_warehouse_assets

    if stage == "dbt":
        return _keys(ingestion_assets.reference_assets) + _keys([dbt_warehouse_assets])
    if stage == "expectations":
        return _keys(quality_assets.assets)
    analysis_keys = _keys(analysis_assets.assets)
    if stage == "models":
        return [key for key in analysis_keys if key.path[0] == "analysis"]
    if stage == "reports":
        return [key for key in analysis_keys if key.path[0] != "analysis"]
    if stage == "publication":
        built = set(_keys(ingestion_assets.raw_assets + ingestion_assets.reference_assets))
        built |= set(_keys([dbt_warehouse_assets])) | set(_keys(quality_assets.assets)) | set(analysis_keys)
        return [key for key in defs.resolve_asset_graph().executable_asset_keys if key not in built]
    raise ValueError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")


def stage_checks(stage: str, selection: list[AssetKey], all_checks) -> set[AssetCheckKey]:
    """The asset checks of the stage's assets. The blocking gate on marts.analysis_dataset judges the
    expectation results, so it runs with the expectations, not with the dbt build that makes the mart
    (there it would fail for want of results and stop the stage)."""
    from orchestration.quality.assets import critical_expectations

    (gate,) = critical_expectations.check_keys
    own = {check for check in all_checks if check.asset_key in set(selection) and check != gate}
    return own | {gate} if stage == "expectations" else own


def run_stage(stage: str) -> bool:
    from iwh.landing import discover
    from iwh.settings import Settings
    from orchestration.definitions import defs
    from orchestration.instance import prepare_instance
    from orchestration.runner import PARTITIONS_NAME

    settings = Settings.from_env()
    instance = prepare_instance(settings)
    if stage == "ingest":
        years = [str(year) for year in sorted(discover(settings.landing_dir).cohort_years())]
        known = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
        instance.add_dynamic_partitions(PARTITIONS_NAME, [y for y in years if y not in known])
        job = defs.resolve_job_def("ingest_cohort_job")
        return all(
            job.execute_in_process(instance=instance, partition_key=year, raise_on_error=False).success
            for year in years
        )
    job = defs.resolve_job_def("build_warehouse_job")
    selection = stage_selection(stage)
    checks = stage_checks(stage, selection, job.asset_layer.asset_graph.asset_check_keys)
    subset = job.get_subset(asset_selection=set(selection), asset_check_selection=checks)
    return subset.execute_in_process(instance=instance, raise_on_error=False).success


if __name__ == "__main__":
    sys.exit(0 if run_stage(sys.argv[1]) else 1)
