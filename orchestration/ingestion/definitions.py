"""Ingestion: the raw tables, loaded per cohort year (and the reference data as a whole), with the
landing sensor and the yearly schedule that start their runs."""

from dagster import Definitions

from orchestration.ingestion.assets import ingest_cohort_job, ingest_reference_job, raw_assets, reference_assets
from orchestration.ingestion.schedules import yearly_schedule
from orchestration.ingestion.sensors import landing_sensor

defs = Definitions(
    assets=[*raw_assets, *reference_assets],
    jobs=[ingest_cohort_job, ingest_reference_job],
    sensors=[landing_sensor],
    schedules=[yearly_schedule],
)
