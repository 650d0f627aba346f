"""The one Definitions object: `dagster dev` (via workspace.yaml) and `iwh run` both load this."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from orchestration.analysis import assets as analysis_assets
from orchestration.ingestion import assets as ingestion_assets
from orchestration.ingestion.schedules import yearly_schedule
from orchestration.ingestion.sensors import landing_sensor
from orchestration.jobs import build_warehouse_job
from orchestration.progress import progress_logger
from orchestration.publication.assets import build_publication_assets
from orchestration.publication.sensors import rebuild_after_ingestion_sensor
from orchestration.quality import assets as quality_assets
from orchestration.resources import WarehouseResource
from orchestration.transformation.assets import dbt_warehouse_assets
from orchestration.transformation.resources import dbt_resource

_built_assets = [
    *ingestion_assets.raw_assets,
    *ingestion_assets.reference_assets,
    dbt_warehouse_assets,
    *quality_assets.assets,
    *analysis_assets.assets,
]

defs = Definitions(
    assets=[
        *_built_assets,
        *build_publication_assets([key for assets_def in _built_assets for key in assets_def.keys]),
    ],
    asset_checks=[*quality_assets.checks],
    jobs=[ingestion_assets.ingest_cohort_job, ingestion_assets.ingest_reference_job, build_warehouse_job],
    sensors=[landing_sensor, rebuild_after_ingestion_sensor],
    schedules=[yearly_schedule],
    resources={
        "warehouse": WarehouseResource(),
        "dbt": dbt_resource(),
    },
    # One process per run: DuckDB takes one writer per file, and the run holds the writer lock.
    executor=in_process_executor,
    loggers={"console": progress_logger},
)
