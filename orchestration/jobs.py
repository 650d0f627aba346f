"""The unpartitioned warehouse build; per-cohort ingestion has its own job beside its assets."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from orchestration.ingestion.assets import raw_assets
from orchestration.progress import report_root_cause

# Everything not partitioned by cohort: reference tables, dbt, expectations, models, reports,
# exports and publication. It reads all loaded cohorts.
build_warehouse_job = define_asset_job(
    name="build_warehouse_job",
    selection=AssetSelection.all() - AssetSelection.assets(*raw_assets),
    description="Reference tables, dbt build, data-quality checkpoints, models, reports, exports and publication.",
    hooks={report_root_cause},
)
