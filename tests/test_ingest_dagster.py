"""Ingestion through Dagster: raw assets per cohort partition, and no identifier anywhere after a run.

The leakage test feeds deliveries with identifiers in every place one can hide — the
identifier columns, invalid identifiers, an identifier in a free-text extra column, one in a
shifted contract column, a duplicate person, a file that fails — then scans every table of
the warehouse and every log line of the runs for an 11-digit run passing the
fødselsnummer checksum, and for any delivered identifier.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import openpyxl
import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize
from stdnum.no import fodselsnummer
from test_landing_fixtures import EXAMPLES, TEST_KEY, copy_examples, read_table, valid_fnr, write_table

from iwh.landing import discover
from orchestration.ingestion.assets import raw_assets, reference_assets
from orchestration.ingestion.partitions import COHORT_PARTITIONS_NAME
from orchestration.resources import WarehouseResource

ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
DIGIT_RUN = re.compile(r"\d{11,12}")


def checksum_valid_runs(text: str) -> list[str]:
    return [run for run in ELEVEN_DIGITS.findall(text) if fodselsnummer.is_valid(run)]


def delivered_identifiers(landing: Path) -> set[str]:
    """Every 11/12-digit run in every delivered file, however encoded."""
    found = set()
    for path in landing.rglob("*.csv"):
        found |= set(DIGIT_RUN.findall(path.read_bytes().decode("cp1252", errors="replace")))
    for path in landing.rglob("*.xlsx"):
        workbook = openpyxl.load_workbook(path, read_only=True)
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            found |= {str(cell) for cell in row if cell is not None and DIGIT_RUN.fullmatch(str(cell))}
        workbook.close()
    return found


@pytest.fixture
def environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IWH_PSEUDONYM_KEY", TEST_KEY)
    landing = copy_examples(tmp_path / "landing")
    resource = WarehouseResource(landing_dir=str(landing), home=str(tmp_path / "home"))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(COHORT_PARTITIONS_NAME, [str(y) for y in discover(landing).cohort_years()])
        yield landing, resource, instance


def materialize_year(instance, resource: WarehouseResource, year: int, assets=raw_assets):
    return materialize(
        [*assets], instance=instance, resources={"warehouse": resource}, partition_key=str(year), raise_on_error=False
    )


def test_a_cohort_partition_materialises_every_raw_asset(environment):
    landing, resource, instance = environment
    result = materialize_year(instance, resource, 2019)

    assert result.success
    materialized = sorted(event.asset_key.path[-1] for event in result.get_asset_materialization_events())
    assert materialized == [
        "jobbsjansen_individrapportering",
        "jobbsjansen_prosjekter",
        "kostra_f275",
        "nir_deltakere",
        "nir_tiltak",
        "register_status_ett_aar_etter",
    ]
    with resource.connect() as con:
        counts = con.execute(
            "select (select count(*) from raw.nir_deltakere where cohort_year = 2019), "
            "(select count(*) from raw.nir_tiltak where cohort_year = 2019), "
            "(select count(*) from raw.jobbsjansen_individrapportering where cohort_year = 2019)"
        ).fetchall()
    assert counts == [(4, 4, 4)]


def test_a_source_without_a_file_that_year_is_skipped_not_failed(environment):
    landing, resource, instance = environment
    (landing / "regnskap" / "kostra_f275_2019.csv").unlink()

    result = materialize_year(instance, resource, 2019)

    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert AssetKey(["raw", "kostra_f275"]) not in materialized
    assert AssetKey(["raw", "nir_deltakere"]) in materialized


def test_a_bad_file_fails_its_asset_with_the_delivery_message(environment):
    landing, resource, instance = environment
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2019.csv")
    keep = [i for i, name in enumerate(header) if name != "Fodselsnummer"]
    write_table(
        landing / "nir" / "nir_deltakere_2019.csv", [header[i] for i in keep], [[r[i] for i in keep] for r in rows]
    )

    result = materialize_year(instance, resource, 2019)

    assert not result.success
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == ["raw__nir_deltakere"]
    assert failures[0].step_failure_data.user_failure_data.description == (
        "nir/nir_deltakere_2019.csv, row 1: required column missing: Fodselsnummer"
    )


def _plant_identifiers(landing: Path) -> None:
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2019.csv")
    fnr_at = header.index("Fodselsnummer")
    rows[0][fnr_at] = rows[0][fnr_at][:-1] + str((int(rows[0][fnr_at][-1]) + 3) % 10)  # bad control digits
    rows[1][header.index("StatsborgerskapForste")] = valid_fnr(12, 3, 91, 123)  # a shifted column
    rows[3][fnr_at] = rows[2][fnr_at]  # the same person twice
    write_table(
        landing / "nir" / "nir_deltakere_2019.csv",
        [*header, "kommentar"],
        [
            [
                *row,
                f"gammelt nr {valid_fnr(1, 2, 85, 400 + i)} / {valid_fnr(3, 4, 70, 200 + i)[:6]} {valid_fnr(3, 4, 70, 200 + i)[6:]}",
            ]
            for i, row in enumerate(rows)
        ],
    )
    js_header, js_rows = read_table(EXAMPLES / "jobbsjansen" / "individrapportering_2018.csv")
    js_rows[0][js_header.index("fnr")] = "1234567890"  # wrong length
    write_table(landing / "jobbsjansen" / "individrapportering_2018.csv", js_header, js_rows)
    # A header-less file: its first line is a person's row, and the partition fails.
    headerless = landing / "nir" / "nir_tiltak_2017.csv"
    headerless.write_bytes(headerless.read_bytes().split(b"\n", 1)[1])


def test_no_identifier_in_any_table_or_log_line_after_a_run(environment, caplog):
    landing, resource, instance = environment
    _plant_identifiers(landing)
    identifiers = delivered_identifiers(landing)
    assert len(identifiers) >= 40

    with caplog.at_level(logging.DEBUG):
        runs = [materialize_year(instance, resource, year) for year in (2017, 2018, 2019, 2020)]
        runs.append(materialize([*reference_assets], instance=instance, resources={"warehouse": resource}))
    assert [run.success for run in runs] == [False, True, True, True, True]

    log_lines = [record.getMessage() for record in caplog.records]
    for run in runs:
        for entry in instance.all_logs(run.run_id):
            log_lines.append(entry.user_message)
            if entry.dagster_event and entry.dagster_event.event_type == DagsterEventType.STEP_FAILURE:
                log_lines.append(str(entry.dagster_event.step_failure_data.error.to_string()))
    assert any("nir_deltakere_2019.csv: row 2, column Fodselsnummer: invalid_identifier" in line for line in log_lines)

    cells = []
    with resource.connect() as con:
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' order by all"
        ).fetchall():
            values = con.execute(
                f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
            cells.extend(value for (value,) in values)
        planted = con.execute(
            "select _extra_columns, statsborgerskapforste from raw.nir_deltakere where cohort_year = 2019 and _row_number = 3"
        ).fetchall()
    assert len(cells) > 500
    assert planted == [
        ('{"kommentar":"gammelt nr <identifier removed> / <identifier removed>"}', "<identifier removed>")
    ]

    assert [run for text in [*cells, *log_lines] for run in checksum_valid_runs(text)] == []
    assert [text for text in [*cells, *log_lines] if any(identifier in text for identifier in identifiers)] == []


def test_materialisation_metadata_counts_rows_and_quarantine(environment):
    landing, resource, instance = environment
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2018.csv")
    rows[1][header.index("Kjonn")] = "Q"
    write_table(landing / "nir" / "nir_deltakere_2018.csv", header, rows)

    result = materialize_year(
        instance, resource, 2018, assets=[a for a in raw_assets if a.key.path[-1] == "nir_deltakere"]
    )

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert (metadata["rows_delivered"].value, metadata["rows_quarantined"].value, metadata["unchanged"].value) == (
        4,
        1,
        False,
    )
    assert metadata["quarantine_by_reason"].value == {"code_outside_list": 1}

    again = materialize_year(
        instance, resource, 2018, assets=[a for a in raw_assets if a.key.path[-1] == "nir_deltakere"]
    )
    (event,) = again.get_asset_materialization_events()
    assert event.materialization.metadata["unchanged"].value is True
