"""Partition semantics: discovery, idempotence, replacement of exactly one partition, the
pseudonym key rules, and a failure inside the transaction leaving everything as it was."""

from __future__ import annotations

import logging
import shutil

import duckdb
import pytest
from test_landing_fixtures import (
    EXAMPLES,
    LOG,
    TEST_KEY,
    load_everything,
    read_table,
    settings_for,
    write_table,
)

from iwh.landing import changed_partitions, changed_references, discover, load_partition
from iwh.pseudonym import person_key
from iwh.settings import DEMO_PSEUDONYM_KEY, SYNTHETIC_MARKER, SettingsError

ALL_PARTITIONS = [
    (source, year)
    for source in (
        "jobbsjansen_individrapportering",
        "jobbsjansen_prosjekter",
        "kostra_f275",
        "nir_deltakere",
        "nir_tiltak",
    )
    for year in (2017, 2018, 2019, 2020)
] + [("register_status_ett_aar_etter", year) for year in (2017, 2018, 2019)]
TABLES = (
    "nir_deltakere",
    "nir_tiltak",
    "jobbsjansen_individrapportering",
    "jobbsjansen_prosjekter",
    "kostra_f275",
    "register_status_ett_aar_etter",
)


def everything(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    tables = [f"raw.{t}" for t in TABLES] + ["quality.quarantine", "quality.load_log"]
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}


def test_discover_lists_partitions_references_and_unknown_files(landing):
    (landing / "nir" / "notater.txt").write_text("ikke en leveranse")
    (landing / "eksport.csv").write_text("a;b\n1;2\n")
    (landing / SYNTHETIC_MARKER).write_text("")
    (landing / "truth.json").write_text("{}")
    (landing / "nir" / ".~lock.nir_deltakere_2019.csv#").write_text("")

    inventory = discover(landing)

    assert inventory.partitions() == ALL_PARTITIONS
    assert inventory.cohort_years() == [2017, 2018, 2019, 2020]
    assert inventory.reference_sources() == ["klass_131_kommuner", "ssb_sentralitet", "ssb_statbank"]
    assert [f.relative_path for f in inventory.reference_files("ssb_statbank")] == [
        f"ssb/{table}.csv" for table in ("06445", "07984", "09588", "09817", "10540", "11342", "11715")
    ]
    assert inventory.unknown_files == ("eksport.csv", "nir/notater.txt")
    (deltakere,) = inventory.partition_files("nir_deltakere", 2019)
    assert deltakere.relative_path == "nir/nir_deltakere_2019.csv"
    assert len(deltakere.sha256) == 64


def test_loading_the_same_files_twice_changes_nothing(settings):
    con = duckdb.connect()
    load_everything(con, settings)
    first = everything(con)

    results = [load_partition(con, settings, source, year, "second", LOG) for source, year in ALL_PARTITIONS]

    assert all(result.unchanged for result in results)
    assert everything(con) == first
    assert changed_partitions(con, discover(settings.landing_dir)) == []
    assert changed_references(con, discover(settings.landing_dir)) == []


def test_a_corrected_redelivery_replaces_exactly_its_partition(settings, landing):
    con = duckdb.connect()
    load_everything(con, settings)
    before = everything(con)
    other_years = "select * from raw.nir_deltakere where cohort_year <> 2019 order by all"
    other_years_before = con.execute(other_years).fetchall()
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2019.csv")
    rows = rows[:3]  # one participant withdrawn
    rows[0][header.index("Avslutningsaarsak")] = "Arbeid"
    write_table(landing / "nir" / "nir_deltakere_2019.csv", header, rows)

    assert changed_partitions(con, discover(landing)) == [("nir_deltakere", 2019)]
    result = load_partition(con, settings, "nir_deltakere", 2019, "redelivery", LOG)

    after = everything(con)
    assert (result.unchanged, result.rows_delivered) == (False, 3)
    assert con.execute(other_years).fetchall() == other_years_before
    assert con.execute(
        "select _row_number, avslutningsaarsak from raw.nir_deltakere where cohort_year = 2019 order by 1"
    ).fetchall() == [(2, "Arbeid"), (3, "Ordinær opplæring - grunnskole"), (4, "Annet")]
    for table in TABLES[1:]:
        assert after[f"raw.{table}"] == before[f"raw.{table}"]
    assert len(after["quality.load_log"]) == len(before["quality.load_log"]) + 1


def test_person_keys_are_stable_across_sources_and_years(settings):
    con = duckdb.connect()
    load_everything(con, settings)
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2017.csv")
    fnr = rows[0][header.index("Fodselsnummer")]

    keys = con.execute(
        "select distinct person_key from raw.nir_deltakere where cohort_year = 2017 and _row_number = 2 "
        "union all select distinct person_key from raw.nir_tiltak where cohort_year = 2017 and _row_number = 2"
    ).fetchall()

    assert keys == [(person_key(fnr, TEST_KEY),), (person_key(fnr, TEST_KEY),)]


def test_a_real_delivery_without_a_pseudonym_key_is_refused(landing, tmp_path):
    con = duckdb.connect()
    with pytest.raises(SettingsError, match="IWH_PSEUDONYM_KEY is not set"):
        load_partition(con, settings_for(landing, tmp_path / "home", key=None), "nir_deltakere", 2019, "r", LOG)
    assert con.execute("select count(*) from raw.nir_deltakere").fetchall() == [(0,)]


def test_the_synthetic_sample_falls_back_to_the_demo_key_and_says_so(landing, tmp_path, caplog):
    (landing / SYNTHETIC_MARKER).write_text("")
    con = duckdb.connect()
    with caplog.at_level(logging.WARNING):
        load_partition(con, settings_for(landing, tmp_path / "home", key=None), "nir_deltakere", 2017, "r", LOG)

    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2017.csv")
    stored = con.execute("select person_key from raw.nir_deltakere where _row_number = 2").fetchall()
    assert stored == [(person_key(rows[0][header.index("Fodselsnummer")], DEMO_PSEUDONYM_KEY),)]
    assert any("public demo key" in message for message in caplog.messages)


def test_accounts_load_without_a_pseudonym_key(landing, tmp_path):
    con = duckdb.connect()
    result = load_partition(con, settings_for(landing, tmp_path / "home", key=None), "kostra_f275", 2018, "r", LOG)
    assert result.rows_delivered == 4


class FailingConnection:
    """A warehouse connection whose load-log insert fails: the last statement of the transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    def execute(self, query: str, *args):
        if query.startswith("insert into quality.load_log"):
            raise duckdb.IOException("disk full")
        return self._con.execute(query, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_failure_inside_the_transaction_rolls_back_the_whole_partition(settings, landing):
    con = duckdb.connect()
    load_everything(con, settings)
    before = everything(con)
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2019.csv")
    rows[0][header.index("Kjonn")] = "X"
    write_table(landing / "nir" / "nir_deltakere_2019.csv", header, rows)

    with pytest.raises(duckdb.IOException, match="disk full"):
        load_partition(FailingConnection(con), settings, "nir_deltakere", 2019, "r", LOG)

    assert everything(con) == before


def test_two_files_for_one_year_count_as_changed(settings, landing):
    con = duckdb.connect()
    load_everything(con, settings)
    shutil.copy(
        EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx",
        landing / "jobbsjansen" / "individrapportering_2018.xlsx",
    )

    assert changed_partitions(con, discover(landing)) == [("jobbsjansen_individrapportering", 2018)]


def test_a_changed_reference_file_is_reported(settings, landing):
    con = duckdb.connect()
    load_everything(con, settings)
    with (landing / "ssb" / "11342.csv").open("a", encoding="utf-8") as handle:
        handle.write('"0301 Oslo";"Folkemengde";"2017";..\n')

    assert changed_references(con, discover(landing)) == ["ssb_statbank"]
