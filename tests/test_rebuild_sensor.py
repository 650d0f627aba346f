"""After a successful ingestion run, the warehouse is rebuilt and published exactly once."""

from __future__ import annotations

from dagster import DagsterInstance, build_run_status_sensor_context, job, op

from orchestration.definitions import defs
from orchestration.publication.sensors import rebuild_after_ingestion_sensor


@op
def stand_in_for_ingestion():
    return None


@job
def finished_ingestion():
    stand_in_for_ingestion()


def test_a_finished_ingestion_run_requests_one_warehouse_build():
    instance = DagsterInstance.ephemeral()
    result = finished_ingestion.execute_in_process(instance=instance)
    context = build_run_status_sensor_context(
        sensor_name=rebuild_after_ingestion_sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )
    request = rebuild_after_ingestion_sensor(context)
    assert request.run_key == f"after-{result.run_id}"
    assert request.tags == {"iwh/trigger": "ingestion_finished"}
    assert rebuild_after_ingestion_sensor.job_name == "build_warehouse_job"
    assert rebuild_after_ingestion_sensor in defs.sensors
