"""The yearly refresh: every delivered cohort year is re-checked (unchanged files are no-ops)."""

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from iwh.landing import discover
from orchestration.ingestion.assets import ingest_cohort_job
from orchestration.ingestion.partitions import COHORT_PARTITIONS_NAME, unregistered_cohort_years
from orchestration.resources import WarehouseResource

# A cohort year's register extract and accounts are usually complete in the first quarter of
# the next year; 1 April, 06:00 Oslo time, picks them up before the spring reporting.
YEARLY_CRON = "0 6 1 4 *"


@schedule(
    name="yearly_schedule",
    cron_schedule=YEARLY_CRON,
    execution_timezone="Europe/Oslo",
    job=ingest_cohort_job,
    description="Yearly refresh of every delivered cohort year.",
)
def yearly_schedule(context: ScheduleEvaluationContext, warehouse: WarehouseResource) -> list[RunRequest]:
    inventory = discover(warehouse.settings().landing_dir)
    new_years = unregistered_cohort_years(context.instance, inventory)
    if new_years:
        context.instance.add_dynamic_partitions(COHORT_PARTITIONS_NAME, new_years)
    scheduled = context.scheduled_execution_time.date().isoformat()
    return [
        RunRequest(
            partition_key=str(year), run_key=f"yearly-{scheduled}-{year}", tags={"iwh/trigger": "yearly_schedule"}
        )
        for year in inventory.cohort_years()
    ]
