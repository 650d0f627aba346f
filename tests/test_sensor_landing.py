"""The landing sensor and the yearly schedule, evaluated with Dagster's testing APIs."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context, instance_for_test
from test_landing_fixtures import EXAMPLES, copy_examples

from orchestration.ingestion.partitions import COHORT_PARTITIONS_NAME
from orchestration.ingestion.schedules import yearly_schedule
from orchestration.ingestion.sensors import landing_sensor
from orchestration.resources import WarehouseResource

ALL_YEARS = ["2017", "2018", "2019", "2020"]
COHORT_SOURCES = [
    "jobbsjansen_individrapportering",
    "jobbsjansen_prosjekter",
    "kostra_f275",
    "nir_deltakere",
    "nir_tiltak",
]
# The register follow-up arrives a year or more after its cohort: the examples have none for 2020.
FOLLOWED_UP_YEARS = ["2017", "2018", "2019"]
FOLLOWUP_SOURCE = "register_status_ett_aar_etter"


@pytest.fixture
def instance():
    with instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def landing(tmp_path) -> Path:
    return copy_examples(tmp_path / "landing")


@pytest.fixture
def resources(landing, tmp_path) -> dict[str, WarehouseResource]:
    return {"warehouse": WarehouseResource(landing_dir=str(landing), home=str(tmp_path / "home"))}


def evaluate(instance: DagsterInstance, resources, cursor: str | None):
    """One sensor tick, applying its partition requests as the daemon would."""
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = landing_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def requested(result) -> list[tuple[str, str | None, list[str]]]:
    return [
        (request.job_name, request.partition_key, [key.path[-1] for key in request.asset_selection])
        for request in result.run_requests
    ]


def test_first_tick_requests_every_delivered_partition_and_reference_table(instance, resources):
    result = evaluate(instance, resources, cursor=None)

    assert requested(result) == [
        *(
            ("ingest_cohort_job", year, COHORT_SOURCES + ([FOLLOWUP_SOURCE] if year in FOLLOWED_UP_YEARS else []))
            for year in ALL_YEARS
        ),
        ("ingest_reference_job", None, ["klass_131_kommuner", "ssb_sentralitet", "ssb_statbank"]),
    ]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [ALL_YEARS]
    assert instance.get_dynamic_partitions(COHORT_PARTITIONS_NAME) == ALL_YEARS


def test_touching_nothing_requests_nothing(instance, resources, landing):
    first = evaluate(instance, resources, cursor=None)
    # A file rewritten with the same bytes (a new mtime, same hash) is not a change either.
    deltakere = landing / "nir" / "nir_deltakere_2019.csv"
    deltakere.write_bytes(deltakere.read_bytes())
    os.utime(deltakere, (1_700_000_000, 1_700_000_000))

    second = evaluate(instance, resources, cursor=first.cursor)

    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert second.cursor == first.cursor


def test_adding_a_2021_delivery_requests_exactly_the_2021_partition(instance, resources, landing):
    first = evaluate(instance, resources, cursor=None)
    shutil.copy(EXAMPLES / "nir" / "nir_deltakere_2020.csv", landing / "nir" / "nir_deltakere_2021.csv")
    shutil.copy(EXAMPLES / "nir" / "nir_tiltak_2020.csv", landing / "nir" / "nir_tiltak_2021.csv")

    second = evaluate(instance, resources, cursor=first.cursor)

    assert requested(second) == [("ingest_cohort_job", "2021", ["nir_deltakere", "nir_tiltak"])]
    assert [list(r.partition_keys) for r in second.dynamic_partitions_requests] == [["2021"]]
    assert instance.get_dynamic_partitions(COHORT_PARTITIONS_NAME) == [*ALL_YEARS, "2021"]


def test_a_corrected_redelivery_requests_only_its_partition_and_asset(instance, resources, landing):
    first = evaluate(instance, resources, cursor=None)
    deltakere = landing / "nir" / "nir_deltakere_2019.csv"
    deltakere.write_bytes(deltakere.read_bytes().replace(b";Syria;", b";Irak;", 1))

    second = evaluate(instance, resources, cursor=first.cursor)

    assert requested(second) == [("ingest_cohort_job", "2019", ["nir_deltakere"])]
    assert second.run_requests[0].run_key.startswith("cohort-2019:")
    assert second.run_requests[0].run_key != first.run_requests[2].run_key
    assert second.dynamic_partitions_requests == []


def test_run_keys_follow_file_hashes(instance, resources):
    first = evaluate(instance, resources, cursor=None)
    # A reset cursor over the same files asks for the same run keys, which Dagster skips.
    again = evaluate(instance, resources, cursor=None)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]


def test_unknown_files_are_not_requested(instance, resources, landing):
    first = evaluate(instance, resources, cursor=None)
    (landing / "nir" / "notater.txt").write_text("ikke en leveranse")

    second = evaluate(instance, resources, cursor=first.cursor)

    assert second.run_requests == []


def test_yearly_schedule_refreshes_every_delivered_year_in_oslo_time(instance, resources, landing):
    shutil.copy(EXAMPLES / "nir" / "nir_deltakere_2020.csv", landing / "nir" / "nir_deltakere_2021.csv")
    scheduled = dt.datetime(2027, 4, 1, 6, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    with build_schedule_context(instance=instance, scheduled_execution_time=scheduled, resources=resources) as context:
        requests = yearly_schedule(context)

    assert yearly_schedule.execution_timezone == "Europe/Oslo"
    assert yearly_schedule.cron_schedule == "0 6 1 4 *"
    assert [(r.partition_key, r.run_key) for r in requests] == [
        (year, f"yearly-2027-04-01-{year}") for year in [*ALL_YEARS, "2021"]
    ]
    assert instance.get_dynamic_partitions(COHORT_PARTITIONS_NAME) == [*ALL_YEARS, "2021"]


def test_sensor_asset_selection_uses_the_raw_asset_keys(instance, resources):
    result = evaluate(instance, resources, cursor=None)
    assert result.run_requests[0].asset_selection[0] == AssetKey(["raw", "jobbsjansen_individrapportering"])
