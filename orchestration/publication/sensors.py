"""After new deliveries are ingested (by the landing sensor or the yearly schedule), rebuild and publish."""

from __future__ import annotations

from dagster import DagsterRunStatus, RunRequest, RunStatusSensorContext, run_status_sensor

from orchestration.ingestion.assets import ingest_cohort_job, ingest_reference_job
from orchestration.jobs import build_warehouse_job


@run_status_sensor(
    name="rebuild_after_ingestion_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_cohort_job, ingest_reference_job],
    request_job=build_warehouse_job,
    description="Builds, checks, models and publishes the warehouse after a successful ingestion run.",
)
def rebuild_after_ingestion_sensor(context: RunStatusSensorContext) -> RunRequest:
    # The run key makes one rebuild per finished ingestion run; queued rebuilds are idempotent.
    return RunRequest(run_key=f"after-{context.dagster_run.run_id}", tags={"iwh/trigger": "ingestion_finished"})
