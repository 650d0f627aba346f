"""The landing sensor: runs for new or changed deliveries only.

It remembers, in its cursor, the SHA-256 of every delivery it has requested a run for, and
requests runs for the partitions whose files are new or differ. Run keys carry the hashes,
so a reset cursor does not make Dagster repeat a run for a file it has already seen.
The sensor never opens the warehouse: a run may be writing it.
"""

import hashlib
import json
from collections import defaultdict

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from iwh.landing import LandingInventory, discover
from orchestration.ingestion.assets import ingest_cohort_job, ingest_reference_job, raw_asset_key
from orchestration.ingestion.partitions import cohort_partitions, unregistered_cohort_years
from orchestration.resources import WarehouseResource

SENSOR_INTERVAL_SECONDS = 60


def delivery_fingerprints(inventory: LandingInventory) -> dict[str, str]:
    """'<source>/<year>' (or '<source>' for reference data) → hash of its files' names and hashes."""
    files_by_unit: dict[str, list[str]] = defaultdict(list)
    for landing_file in inventory.files:
        unit = (
            landing_file.source
            if landing_file.cohort_year is None
            else f"{landing_file.source}/{landing_file.cohort_year}"
        )
        files_by_unit[unit].append(f"{landing_file.relative_path}:{landing_file.sha256}")
    return {
        unit: hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()
        for unit, files in sorted(files_by_unit.items())
    }


def _run_key(prefix: str, fingerprints: dict[str, str]) -> str:
    combined = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:16]
    return f"{prefix}:{combined}"


@sensor(
    name="landing_sensor",
    jobs=[ingest_cohort_job, ingest_reference_job],
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests ingestion runs for exactly the cohort partitions (and reference tables) whose files are new or changed.",
)
def landing_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
    inventory = discover(warehouse.settings().landing_dir)
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen: dict[str, str] = cursor.get("deliveries", {})
    current = delivery_fingerprints(inventory)
    changed = {unit: fingerprint for unit, fingerprint in current.items() if seen.get(unit) != fingerprint}

    unknown = sorted(inventory.unknown_files)
    if unknown and unknown != cursor.get("unknown_files"):
        context.log.warning(f"files in the landing zone that are not deliveries (ignored): {', '.join(unknown)}")

    changed_by_year: dict[int, dict[str, str]] = defaultdict(dict)
    changed_references: dict[str, str] = {}
    for unit, fingerprint in changed.items():
        source, _, year = unit.partition("/")
        if year:
            changed_by_year[int(year)][source] = fingerprint
        else:
            changed_references[source] = fingerprint

    run_requests = [
        RunRequest(
            job_name=ingest_cohort_job.name,
            partition_key=str(year),
            asset_selection=[raw_asset_key(source) for source in sorted(sources)],
            run_key=_run_key(f"cohort-{year}", sources),
            tags={"iwh/trigger": "landing_sensor"},
        )
        for year, sources in sorted(changed_by_year.items())
    ]
    if changed_references:
        run_requests.append(
            RunRequest(
                job_name=ingest_reference_job.name,
                asset_selection=[raw_asset_key(source) for source in sorted(changed_references)],
                run_key=_run_key("reference", changed_references),
                tags={"iwh/trigger": "landing_sensor"},
            )
        )
    new_years = unregistered_cohort_years(context.instance, inventory)
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[cohort_partitions.build_add_request(new_years)] if new_years else [],
        cursor=json.dumps({"deliveries": current, "unknown_files": unknown}, sort_keys=True),
    )
