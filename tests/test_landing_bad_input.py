"""Every kind of bad input listed in landing-zone.md, against a warehouse that already holds
and has published good data.

File-level problems: load_partition raises DeliveryError with a message naming the file (and
row and column where there is one), and every table and the published snapshot are exactly
as before. Row-level problems: the row is listed in quality.quarantine with its reason, the
rest of the file loads, the other partitions and the published snapshot are unchanged.
The quarantine threshold is tested at the end, through `iwh run` on a copy of the sample:
the same delivery publishes below it and blocks above it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pytest
from pipeline_env import RUN_ENVIRONMENT, point_environment_at, restored_environment
from test_landing_fixtures import (
    EXAMPLES,
    LOG,
    copy_examples,
    load_everything,
    quarantine_rows,
    raw_rows,
    read_table,
    settings_for,
    write_table,
)
from test_quality_pipeline import read_nir, write_nir

from iwh.landing import DeliveryError, changed_partitions, code_lists, discover, load_partition, quarantine
from iwh.landing.contract import QUARANTINE_REASONS
from iwh.publication import publish
from iwh.settings import Settings, SettingsError

if TYPE_CHECKING:
    from orchestration.runner import RunOutcome
from iwh.warehouse import connect

NIR_2019 = "nir/nir_deltakere_2019.csv"
JS_2018 = "jobbsjansen/individrapportering_2018.csv"
JS_2020 = "jobbsjansen/individrapportering_2020.csv"
WAREHOUSE_TABLES = (
    "raw.nir_deltakere",
    "raw.nir_tiltak",
    "raw.jobbsjansen_individrapportering",
    "raw.jobbsjansen_prosjekter",
    "raw.kostra_f275",
    "raw.ssb_statbank",
    "raw.ssb_sentralitet",
    "raw.klass_131_kommuner",
    "quality.quarantine",
    "quality.load_log",
    "quality.code_list_checks",
)


class Warehouse:
    """A working warehouse loaded from the examples and published: a private copy of the template."""

    def __init__(self, template: Path, tmp_path: Path):
        shutil.copytree(template, tmp_path / "copy")
        self.landing = tmp_path / "copy" / "landing"
        self.settings = settings_for(self.landing, tmp_path / "copy" / "home")
        self.published_sha256 = self.current_published_sha256()
        self.con = connect(self.settings)
        self.before = self.snapshot()

    def current_published_sha256(self) -> str:
        return hashlib.sha256(self.settings.published_path.read_bytes()).hexdigest()

    def snapshot(self) -> dict[str, list[dict]]:
        tables = {}
        for table in WAREHOUSE_TABLES:
            relation = self.con.sql(f"select * from {table} order by all")
            tables[table] = [dict(zip(relation.columns, row)) for row in relation.fetchall()]
        return tables

    def assert_unchanged(self) -> None:
        assert self.snapshot() == self.before
        assert self.current_published_sha256() == self.published_sha256

    def assert_only_partition_replaced(self, source: str, year: int) -> None:
        """Every other partition, its quarantine rows and the published snapshot are as before."""

        def elsewhere(tables: dict[str, list[dict]]) -> dict[str, list[dict]]:
            kept = {}
            for table, rows in tables.items():
                if table == f"raw.{source}":
                    rows = [r for r in rows if r["cohort_year"] != year]
                elif table in ("quality.quarantine", "quality.code_list_checks"):
                    rows = [r for r in rows if (r["source"], r["cohort_year"]) != (source, year)]
                elif table == "quality.load_log":
                    rows = [r for r in rows if r["run_id"] != "bad-input"]
                kept[table] = rows
            return kept

        assert elsewhere(self.snapshot()) == elsewhere(self.before)
        assert self.current_published_sha256() == self.published_sha256

    def load(self, source: str, year: int) -> None:
        load_partition(self.con, self.settings, source, year, "bad-input", LOG)


@pytest.fixture(scope="module")
def warehouse_template(tmp_path_factory) -> Path:
    """Examples loaded and published once; every test gets its own copy."""
    root = tmp_path_factory.mktemp("template")
    landing = copy_examples(root / "landing")
    settings = settings_for(landing, root / "home")
    con = connect(settings)
    load_everything(con, settings)
    # The stand-in for a built warehouse: publication refuses a warehouse without marts.
    con.execute("create schema if not exists marts")
    con.close()
    publish(settings)
    return root


@pytest.fixture
def warehouse(warehouse_template, tmp_path) -> Warehouse:
    built = Warehouse(warehouse_template, tmp_path)
    yield built
    built.con.close()


def _nir_2019() -> tuple[list[str], list[list[str]]]:
    return read_table(EXAMPLES / NIR_2019)


def _rewrite_nir_2019(landing: Path, change: Callable[[list[str], list[list[str]]], None]) -> None:
    header, rows = _nir_2019()
    change(header, rows)
    write_table(landing / NIR_2019, header, rows)


def _set(header: list[str], rows: list[list[str]], row_number: int, column: str, value: str) -> None:
    rows[row_number - 2][header.index(column)] = value


# --- file-level problems -----------------------------------------------------------------


def _without_column(column: str) -> Callable[[Path], None]:
    def write(landing: Path) -> None:
        header, rows = _nir_2019()
        index = header.index(column)
        write_table(
            landing / NIR_2019, header[:index] + header[index + 1 :], [r[:index] + r[index + 1 :] for r in rows]
        )

    return write


def _js_without_identifier_columns(landing: Path) -> None:
    header, rows = read_table(EXAMPLES / JS_2018)
    keep = [i for i, name in enumerate(header) if name not in ("fnr", "duf")]
    write_table(landing / JS_2018, [header[i] for i in keep], [[r[i] for i in keep] for r in rows])


def _write_bytes(relative: str, content: bytes) -> Callable[[Path], None]:
    def write(landing: Path) -> None:
        (landing / relative).write_bytes(content)

    return write


def _truncated_mid_row(landing: Path) -> None:
    original = (EXAMPLES / NIR_2019).read_bytes()
    last_line_start = original.rstrip(b"\n").rfind(b"\n") + 1
    cut = last_line_start + [i for i, b in enumerate(original[last_line_start:]) if b == ord(";")][8]
    (landing / NIR_2019).write_bytes(original[:cut])


def _truncated_in_quotes(landing: Path) -> None:
    import csv

    header, rows = _nir_2019()
    write_table(landing / NIR_2019, header, rows, quoting=csv.QUOTE_ALL)
    content = (landing / NIR_2019).read_bytes()
    (landing / NIR_2019).write_bytes(content[: content.rstrip(b"\n").rfind(b"\n") + 20])


def _stray_quote(landing: Path) -> None:
    original = (EXAMPLES / NIR_2019).read_bytes()
    (landing / NIR_2019).write_bytes(original.replace(b";Etiopia;", b';"Etiopia"x;'))


def _truncated_xlsx(landing: Path) -> None:
    original = (EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx").read_bytes()
    (landing / "jobbsjansen" / "individrapportering_2019.xlsx").write_bytes(original[: len(original) // 2])


def _undecodable_utf8(landing: Path) -> None:
    original = (EXAMPLES / NIR_2019).read_bytes()
    lines = original.split(b"\n")
    header = lines[0].decode().split(";")
    fields = lines[2].split(b";")
    fields[header.index("StatsborgerskapForste")] = b"Etiopia\xff"
    lines[2] = b";".join(fields)
    (landing / NIR_2019).write_bytes(b"\n".join(lines))


def _undefined_windows_1252_byte(landing: Path) -> None:
    original = (EXAMPLES / "regnskap" / "kostra_f275_2019.csv").read_bytes()
    (landing / "regnskap" / "kostra_f275_2019.csv").write_bytes(original.replace(b"Bergen", b"Berg\x81en"))


def _tab_separated(landing: Path) -> None:
    header, rows = _nir_2019()
    write_table(landing / NIR_2019, header, rows, separator="\t")


def _xlsx_beside_csv(landing: Path) -> None:
    shutil.copy(
        EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx",
        landing / "jobbsjansen" / "individrapportering_2018.xlsx",
    )


def _klass_missing(landing: Path) -> None:
    (landing / "ssb" / "klass_131_kommuner.csv").unlink()
    _rewrite_nir_2019(landing, lambda header, rows: _set(header, rows, 2, "Kjonn", "K"))


def _linked_file(landing: Path) -> None:
    # The target is a valid delivery: what is refused is reading through a link at all.
    outside = landing.parent / "outside"
    outside.mkdir()
    shutil.copy(EXAMPLES / NIR_2019, outside / "nir_deltakere_2019.csv")
    (landing / NIR_2019).unlink()
    (landing / NIR_2019).symlink_to(outside / "nir_deltakere_2019.csv")


def _linked_source_directory(landing: Path) -> None:
    elsewhere = landing.parent / "nir_elsewhere"
    shutil.move(landing / "nir", elsewhere)
    (landing / "nir").symlink_to(elsewhere, target_is_directory=True)


LINK_REFUSED = "filen er en symbolsk lenke, og lenker leses ikke: legg selve filen i mottakskatalogen"
OUTSIDE_REFUSED = (
    "filen ligger utenfor mottakskatalogen (katalogen den står i er en lenke), og leses ikke: "
    "legg selve filen i mottakskatalogen"
)

FILE_LEVEL_CASES: dict[str, tuple[Callable[[Path], None], str, int, str]] = {
    "required column missing": (
        _without_column("AvsluttetDato"),
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 1: required column missing: AvsluttetDato",
    ),
    "no identifier column": (
        _js_without_identifier_columns,
        "jobbsjansen_individrapportering",
        2018,
        "jobbsjansen/individrapportering_2018.csv, row 1: required column missing: fnr or duf",
    ),
    "empty file": (_write_bytes(NIR_2019, b""), "nir_deltakere", 2019, "nir/nir_deltakere_2019.csv: the file is empty"),
    "only a BOM and blank lines": (
        _write_bytes(NIR_2019, b"\xef\xbb\xbf\n\n"),
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv: the file is empty",
    ),
    "header without rows": (
        _write_bytes(NIR_2019, (EXAMPLES / NIR_2019).read_bytes().split(b"\n")[0] + b"\n"),
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv: the file has a header but no data rows",
    ),
    "truncated in the middle of a row": (
        _truncated_mid_row,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 5: 9 fields where the header has 21: a truncated or ragged row",
    ),
    "truncated inside a quoted value": (
        _truncated_in_quotes,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 5: 2 fields where the header has 21: a truncated or ragged row",
    ),
    "stray quote": (
        _stray_quote,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 3: malformed quoting: text after a closing quote, or a quote that is never closed",
    ),
    "truncated xlsx": (
        _truncated_xlsx,
        "jobbsjansen_individrapportering",
        2019,
        "jobbsjansen/individrapportering_2019.xlsx: not a readable .xlsx workbook (ZipError: truncated or not Excel?)",
    ),
    "binary file named .csv": (
        _write_bytes(NIR_2019, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 3: NUL bytes: this is not a CSV text file (binary, or UTF-16?)",
    ),
    "workbook named .csv": (
        _write_bytes(NIR_2019, (EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx").read_bytes()),
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv: this is a zip/.xlsx workbook, not CSV text; deliver it as .xlsx or CSV",
    ),
    "CSV text named .xlsx": (
        lambda landing: (landing / "jobbsjansen" / "individrapportering_2019.xlsx").write_bytes(
            (EXAMPLES / JS_2018).read_bytes()
        ),
        "jobbsjansen_individrapportering",
        2019,
        "jobbsjansen/individrapportering_2019.xlsx: not a readable .xlsx workbook (ZipError: truncated or not Excel?)",
    ),
    "undecodable bytes in a UTF-8 file": (
        _undecodable_utf8,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 3, column StatsborgerskapForste: "
        "undecodable bytes: the file is UTF-8 elsewhere but this byte sequence is not UTF-8",
    ),
    "byte undefined in Windows-1252": (
        _undefined_windows_1252_byte,
        "kostra_f275",
        2019,
        "regnskap/kostra_f275_2019.csv, row 3, column kommunenavn: undecodable bytes: neither UTF-8 nor Windows-1252",
    ),
    "wrong separator gives one column": (
        _tab_separated,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv, row 1: the header row is a single column: the separator must be ';' (or ',')",
    ),
    "two files for one cohort year": (
        _xlsx_beside_csv,
        "jobbsjansen_individrapportering",
        2018,
        "jobbsjansen/individrapportering_2018.csv, jobbsjansen/individrapportering_2018.xlsx: "
        "two deliveries for jobbsjansen_individrapportering 2018: keep one of them",
    ),
    "municipality reference missing": (
        _klass_missing,
        "nir_deltakere",
        2019,
        "nir/nir_deltakere_2019.csv: the municipality reference ssb/klass_131_kommuner.csv is missing, "
        "so municipalities cannot be checked",
    ),
    "a symbolic link": (_linked_file, "nir_deltakere", 2019, f"{NIR_2019}: {LINK_REFUSED}"),
    "a file in a linked directory, outside the landing zone": (
        _linked_source_directory,
        "nir_deltakere",
        2019,
        f"{NIR_2019}: {OUTSIDE_REFUSED}",
    ),
}


def test_linked_files_are_listed_as_refused_and_never_read(warehouse):
    _linked_file(warehouse.landing)
    (warehouse.landing / "ssb" / "klass_131_kommuner.csv").unlink()
    (warehouse.landing / "ssb" / "klass_131_kommuner.csv").symlink_to(warehouse.landing.parent / "missing.csv")

    inventory = discover(warehouse.landing)
    refused = {(f.relative_path, f.sha256, f.refused) for f in inventory.files if f.refused}

    assert refused == {(NIR_2019, "", LINK_REFUSED), ("ssb/klass_131_kommuner.csv", "", LINK_REFUSED)}
    assert ("nir_deltakere", 2019) in changed_partitions(warehouse.con, inventory)
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2020.csv")
    _set(header, rows, 2, "AntallTimerDeltattNorsk", "100")
    write_table(warehouse.landing / "nir" / "nir_deltakere_2020.csv", header, rows)
    with pytest.raises(DeliveryError) as raised:
        warehouse.load("nir_deltakere", 2020)
    assert str(raised.value) == (
        f"nir/nir_deltakere_2020.csv: the municipality reference ssb/klass_131_kommuner.csv: {LINK_REFUSED}"
    )
    warehouse.assert_unchanged()


@pytest.mark.parametrize("case", FILE_LEVEL_CASES)
def test_file_level_problem_fails_the_partition_and_changes_nothing(case, warehouse):
    write, source, year, message = FILE_LEVEL_CASES[case]
    write(warehouse.landing)

    with pytest.raises(DeliveryError) as raised:
        warehouse.load(source, year)

    assert str(raised.value) == message
    warehouse.assert_unchanged()


# --- row-level problems ------------------------------------------------------------------


def _load_changed_nir_2019(warehouse: Warehouse, change: Callable[[list[str], list[list[str]]], None]) -> list[tuple]:
    _rewrite_nir_2019(warehouse.landing, change)
    warehouse.load("nir_deltakere", 2019)
    warehouse.assert_only_partition_replaced("nir_deltakere", 2019)
    assert (
        warehouse.con.execute("select count(*) from raw.nir_deltakere where cohort_year = 2019").fetchall()[0][0] == 4
    )
    return quarantine_rows(warehouse.con, "nir_deltakere")


def test_fnr_with_wrong_control_digits_is_quarantined(warehouse, caplog):
    fnr = _nir_2019()[1][1][_nir_2019()[0].index("Fodselsnummer")]
    broken = fnr[:-1] + str((int(fnr[-1]) + 1) % 10)
    with caplog.at_level(logging.WARNING):
        quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 3, "Fodselsnummer", broken))

    assert quarantined == [(NIR_2019, 3, "Fodselsnummer", "invalid_identifier", "invalid control digits", None)]
    assert f"{NIR_2019}: row 3, column Fodselsnummer: invalid_identifier: invalid control digits" in caplog.messages
    person_keys = warehouse.con.execute(
        "select _row_number, person_key is null from raw.nir_deltakere where cohort_year = 2019 order by 1"
    ).fetchall()
    assert person_keys == [(2, False), (3, True), (4, False), (5, False)]


def test_fnr_of_wrong_length_is_quarantined(warehouse):
    quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 4, "Fodselsnummer", "0203850491"))
    assert quarantined == [
        (NIR_2019, 4, "Fodselsnummer", "invalid_identifier", "wrong length (10 characters, expected 11 digits)", None)
    ]


def test_missing_fnr_is_quarantined(warehouse):
    quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 2, "Fodselsnummer", ""))
    assert quarantined == [
        (NIR_2019, 2, "Fodselsnummer", "invalid_identifier", "empty: Fodselsnummer is required", None)
    ]


def test_duf_of_wrong_length_is_quarantined(warehouse):
    header, rows = read_table(EXAMPLES / JS_2020)
    _set(header, rows, 2, "duf", "00295563695")
    write_table(warehouse.landing / JS_2020, header, rows)

    warehouse.load("jobbsjansen_individrapportering", 2020)

    assert quarantine_rows(warehouse.con, "jobbsjansen_individrapportering") == [
        (JS_2020, 2, "duf", "invalid_identifier", "wrong length (11 digits, expected 12)", None)
    ]
    warehouse.assert_only_partition_replaced("jobbsjansen_individrapportering", 2020)


def test_date_that_does_not_parse_is_quarantined(warehouse):
    quarantined = _load_changed_nir_2019(
        warehouse, lambda h, r: _set(h, r, 4, "DatoForForsteVedtakIntro", "31.02.2016")
    )
    assert quarantined == [
        (
            NIR_2019,
            4,
            "DatoForForsteVedtakIntro",
            "invalid_date",
            "'31.02.2016' is not a date (dd.mm.yyyy or yyyy-mm-dd)",
            "31.02.2016",
        )
    ]
    stored = warehouse.con.execute(
        "select datoforforstevedtakintro from raw.nir_deltakere where cohort_year = 2019 and _row_number = 4"
    ).fetchall()[0]
    assert stored == ("31.02.2016",)


def test_end_date_outside_the_cohort_year_is_quarantined(warehouse):
    quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 5, "AvsluttetDato", "2018-01-18"))
    assert quarantined == [
        (NIR_2019, 5, "AvsluttetDato", "date_outside_cohort", "2018-01-18 is outside cohort year 2019", "2018-01-18")
    ]


def test_code_outside_its_list_is_quarantined(warehouse):
    header, rows = read_table(EXAMPLES / JS_2018)
    _set(header, rows, 2, "v4_1", "12")
    _set(header, rows, 3, "v5_1", "Over 50 %")
    write_table(warehouse.landing / JS_2018, header, rows)

    warehouse.load("jobbsjansen_individrapportering", 2018)

    assert quarantine_rows(warehouse.con, "jobbsjansen_individrapportering") == [
        (JS_2018, 2, "v4_1", "code_outside_list", "'12' is not one of 1–9", "12"),
        (
            JS_2018,
            3,
            "v5_1",
            "code_outside_list",
            "'Over 50 %' is not one of 1–6 or Under 10 %, 10-19 %, 20-29 %, 30-49 %, 50 % eller mer, Vet ikke",
            "Over 50 %",
        ),
    ]
    warehouse.assert_only_partition_replaced("jobbsjansen_individrapportering", 2018)


def test_nir_register_code_outside_its_list_is_quarantined(warehouse):
    quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 2, "Kjonn", "X"))
    assert quarantined == [(NIR_2019, 2, "Kjonn", "code_outside_list", "'X' is not one of K, M", "X")]


def _seed_advice(seed: str) -> str:
    return (
        f" finnes ikke i seed `{seed}`: legg etiketten til i seed `{seed}` (dbt_project/seeds/{seed}.csv) "
        "for å kartlegge den, eller be dataeieren rette leveransen"
    )


def test_unknown_end_reason_label_is_quarantined_naming_the_seed_to_extend(warehouse, caplog):
    # Labels match as dbt's label_key does: case, surrounding spaces and dash type do not count.
    def change(header: list[str], rows: list[list[str]]) -> None:
        _set(header, rows, 2, "Avslutningsaarsak", "  ORDINÆR UTDANNING – VIDEREGÅENDE SKOLE ")
        _set(header, rows, 3, "Avslutningsaarsak", "Reist hjem")

    with caplog.at_level(logging.WARNING):
        quarantined = _load_changed_nir_2019(warehouse, change)

    detail = "'Reist hjem'" + _seed_advice("nir_avslutningsaarsaker")
    assert quarantined == [(NIR_2019, 3, "Avslutningsaarsak", "unknown_label", detail, "Reist hjem")]
    assert f"{NIR_2019}: row 3, column Avslutningsaarsak: unknown_label: {detail}" in caplog.messages
    stored = warehouse.con.execute(
        "select _row_number, avslutningsaarsak from raw.nir_deltakere where cohort_year = 2019 order by 1"
    ).fetchall()
    assert stored[:2] == [(2, "ORDINÆR UTDANNING – VIDEREGÅENDE SKOLE"), (3, "Reist hjem")]


def test_unknown_country_labels_are_quarantined_in_both_sources(warehouse):
    quarantined = _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 4, "StatsborgerskapForste", "Atlantis"))
    header, rows = read_table(EXAMPLES / JS_2020)
    _set(header, rows, 3, "v2_5", "Atlantis")
    write_table(warehouse.landing / JS_2020, header, rows)
    warehouse.load("jobbsjansen_individrapportering", 2020)

    detail = "'Atlantis'" + _seed_advice("land_regioner")
    assert quarantined == [(NIR_2019, 4, "StatsborgerskapForste", "unknown_label", detail, "Atlantis")]
    assert quarantine_rows(warehouse.con, "jobbsjansen_individrapportering") == [
        (JS_2020, 3, "v2_5", "unknown_label", detail, "Atlantis")
    ]


def test_unknown_measure_label_is_quarantined(warehouse):
    tiltak_2019 = "nir/nir_tiltak_2019.csv"
    header, rows = read_table(EXAMPLES / tiltak_2019)
    _set(header, rows, 4, "Tiltak", "Fallskjermkurs")
    write_table(warehouse.landing / tiltak_2019, header, rows)

    warehouse.load("nir_tiltak", 2019)

    assert quarantine_rows(warehouse.con, "nir_tiltak") == [
        (tiltak_2019, 4, "Tiltak", "unknown_label", "'Fallskjermkurs'" + _seed_advice("nir_tiltak"), "Fallskjermkurs")
    ]
    warehouse.assert_only_partition_replaced("nir_tiltak", 2019)
    assert len(raw_rows(warehouse.con, "nir_tiltak", 2019)) == len(rows)


def test_extending_the_seed_maps_a_quarantined_label_on_the_next_load(warehouse, tmp_path, monkeypatch):
    _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 3, "Avslutningsaarsak", "Reist hjem"))
    seeds = tmp_path / "seeds"
    shutil.copytree(code_lists.SEEDS_DIR, seeds)
    with (seeds / "nir_avslutningsaarsaker.csv").open("a", encoding="utf-8") as seed:
        seed.write("Reist hjem,,,true\n")
    monkeypatch.setattr(code_lists, "SEEDS_DIR", seeds)

    def changed() -> list[tuple[str, int]]:
        return changed_partitions(warehouse.con, discover(warehouse.landing))

    # Every partition checked against the seed is checked again; the others stay as loaded.
    assert changed() == [("nir_deltakere", year) for year in (2017, 2018, 2019, 2020)]
    warehouse.load("nir_deltakere", 2019)

    assert quarantine_rows(warehouse.con, "nir_deltakere") == []
    assert changed() == [("nir_deltakere", year) for year in (2017, 2018, 2020)]


def test_municipality_unknown_to_klass_in_the_cohort_year_is_quarantined(warehouse):
    header, rows = read_table(EXAMPLES / "nir" / "nir_deltakere_2020.csv")
    _set(header, rows, 2, "Avsl_Kommunenummer", "0231")  # Skedsmo, merged into Lillestrøm in 2020
    write_table(warehouse.landing / "nir" / "nir_deltakere_2020.csv", header, rows)
    js_header, js_rows = read_table(EXAMPLES / JS_2020)
    _set(js_header, js_rows, 3, "v1_1", "Skedsmo")
    write_table(warehouse.landing / JS_2020, js_header, js_rows)

    warehouse.load("nir_deltakere", 2020)
    warehouse.load("jobbsjansen_individrapportering", 2020)

    assert quarantine_rows(warehouse.con) == [
        (
            JS_2020,
            3,
            "v1_1",
            "unknown_municipality",
            "'Skedsmo' is not a KLASS 131 municipality name valid in 2020",
            "Skedsmo",
        ),
        (
            "nir/nir_deltakere_2020.csv",
            2,
            "Avsl_Kommunenummer",
            "unknown_municipality",
            "'0231' is not a KLASS 131 municipality code valid in 2020",
            "0231",
        ),
    ]
    assert warehouse.current_published_sha256() == warehouse.published_sha256


def test_same_person_twice_in_a_cohort_file_is_quarantined(warehouse):
    def duplicate(header: list[str], rows: list[list[str]]) -> None:
        _set(header, rows, 5, "Fodselsnummer", rows[0][header.index("Fodselsnummer")])

    quarantined = _load_changed_nir_2019(warehouse, duplicate)
    assert quarantined == [
        (NIR_2019, 2, "Fodselsnummer", "duplicate_person", "the same person is in rows 2, 5", None),
        (NIR_2019, 5, "Fodselsnummer", "duplicate_person", "the same person is in rows 2, 5", None),
    ]


def test_several_problems_in_one_row_are_each_listed(warehouse):
    def break_row(header: list[str], rows: list[list[str]]) -> None:
        _set(header, rows, 3, "Fodselsaar", "19x0")
        _set(header, rows, 3, "AntallTimerDeltattNorsk", "12,5,0")
        _set(header, rows, 3, "SporForste", "4")

    quarantined = _load_changed_nir_2019(warehouse, break_row)
    assert quarantined == [
        (NIR_2019, 3, "AntallTimerDeltattNorsk", "invalid_number", "'12,5,0' is not a number", "12,5,0"),
        (NIR_2019, 3, "Fodselsaar", "invalid_number", "'19x0' is not a whole number", "19x0"),
        (NIR_2019, 3, "SporForste", "code_outside_list", "'4' is not one of 1–3", "4"),
    ]
    assert warehouse.con.execute(
        "select rows_delivered, rows_quarantined from quality.load_log where run_id = 'bad-input'"
    ).fetchall() == [(4, 1)]


def test_a_corrected_redelivery_clears_the_quarantine_of_its_partition(warehouse):
    _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 2, "Kjonn", "X"))
    shutil.copy(EXAMPLES / NIR_2019, warehouse.landing / NIR_2019)

    warehouse.load("nir_deltakere", 2019)

    assert quarantine_rows(warehouse.con, "nir_deltakere") == []
    loaded_before = [
        {k: v for k, v in row.items() if k != "_loaded_at"}
        for row in warehouse.before["raw.nir_deltakere"]
        if row["cohort_year"] == 2019
    ]
    assert raw_rows(warehouse.con, "nir_deltakere", 2019) == sorted(loaded_before, key=lambda r: r["_row_number"])


# --- the quarantine read back: summary and threshold ---------------------------------------


def _three_bad_rows(header: list[str], rows: list[list[str]]) -> None:
    _set(header, rows, 3, "Avslutningsaarsak", "Reist hjem")
    _set(header, rows, 4, "Avslutningsaarsak", "reist hjem ")
    _set(header, rows, 5, "Kjonn", "X")


def test_quarantine_summary_groups_by_reason_and_column_with_what_to_do(warehouse):
    _load_changed_nir_2019(warehouse, _three_bad_rows)

    assert quarantine.summary(warehouse.con) == [
        quarantine.QuarantineGroup(
            "nir_deltakere",
            "unknown_label",
            "Avslutningsaarsak",
            2,
            "Reist hjem",
            "Etiketten finnes ikke i seed `nir_avslutningsaarsaker`: legg etiketten til i seed "
            "`nir_avslutningsaarsaker` (dbt_project/seeds/nir_avslutningsaarsaker.csv) for å kartlegge den, "
            "eller be dataeieren rette leveransen, og kjør `iwh run` på nytt.",
        ),
        quarantine.QuarantineGroup(
            "nir_deltakere",
            "code_outside_list",
            "Kjonn",
            1,
            "X",
            "Koden er ikke i kodelisten i leveransekontrakten (landing-zone.md): be dataeieren rette verdien og "
            "levere filen på nytt.",
        ),
    ]


def test_markup_in_a_quarantined_value_reaches_the_auditors_report_as_text(warehouse):
    from expectations import auditors_report

    markup = "<img src=x onerror=alert(1)>"
    _load_changed_nir_2019(warehouse, lambda h, r: _set(h, r, 3, "StatsborgerskapForste", markup))

    page = auditors_report.render(warehouse.con, "run-test", pd.DataFrame(), warehouse.landing, synthetic=False)

    assert [group.example_value for group in quarantine.summary(warehouse.con)] == [markup]
    assert markup not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_every_quarantine_reason_has_advice():
    fallback = quarantine.advice("no such reason", "v1_1")
    assert all(quarantine.advice(reason, "Avslutningsaarsak") != fallback for reason in QUARANTINE_REASONS)


def test_a_delivery_passes_the_threshold_only_when_its_share_is_above_it(warehouse):
    _load_changed_nir_2019(warehouse, _three_bad_rows)

    over = quarantine.over_threshold(warehouse.con, 1.0)

    assert [(d.source_file, d.rows_delivered, d.rows_quarantined) for d in over] == [(NIR_2019, 4, 3)]
    assert over[0].message(1.0) == (
        f"{NIR_2019} (nir_deltakere, årgang 2019): 3 av 4 rader i karantene (75 % > grensen 1 %). "
        "Vanligste årsaker: unknown_label i Avslutningsaarsak (2), code_outside_list i Kjonn (1)."
    )
    assert quarantine.over_threshold(warehouse.con, 75) == []
    others = [d for d in quarantine.deliveries(warehouse.con) if d.source_file != NIR_2019]
    assert others and all(d.rows_quarantined == 0 and d.rows_delivered > 0 for d in others)


@pytest.mark.parametrize(("text", "threshold"), [(None, 1.0), ("", 1.0), ("2,5", 2.5), ("0.25", 0.25), ("0", 0.0)])
def test_quarantine_threshold_setting(text, threshold):
    environ = {} if text is None else {"IWH_QUARANTINE_THRESHOLD_PCT": text}
    assert Settings.from_env(environ).quarantine_threshold_pct == threshold


@pytest.mark.parametrize("text", ["en prosent", "-1", "101", "nan"])
def test_quarantine_threshold_setting_outside_a_percentage_is_refused(text):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"IWH_QUARANTINE_THRESHOLD_PCT": text})
    assert str(raised.value) == (
        f"IWH_QUARANTINE_THRESHOLD_PCT={text!r} is not a percentage between 0 and 100 (e.g. 1 or 2,5)"
    )


# --- the quarantine threshold, through `iwh run` -------------------------------------------

THRESHOLD_YEAR = 2018
THRESHOLD_FILE = f"nir/nir_deltakere_{THRESHOLD_YEAR}.csv"
UNKNOWN_END_REASON = "Reist hjem"


@dataclass(frozen=True)
class PlantedRows:
    label_rows: tuple[int, ...]
    duplicate_rows: tuple[int, int]
    rows_in_file: int


def _plant_row_problems(landing: Path) -> PlantedRows:
    """Three unknown end reasons and one person twice in one NIR file: 5 rows of 1 600 (0.31 %)."""
    path = landing / THRESHOLD_FILE
    header, rows, encoding = read_nir(path)
    reason, person = header.index("Avslutningsaarsak"), header.index("Fodselsnummer")
    label_indexes = (3, 40, 700)
    for index in label_indexes:
        rows[index][reason] = UNKNOWN_END_REASON
    rows[900][person] = rows[100][person]
    write_nir(path, header, rows, encoding)
    # Spreadsheet rows: the header is row 1.
    return PlantedRows(tuple(i + 2 for i in label_indexes), (102, 902), len(rows))


@dataclass(frozen=True)
class ThresholdRuns:
    planted: PlantedRows
    settings: Settings
    below: RunOutcome
    published_after_below: str
    above: RunOutcome
    above_terminal: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def threshold_runs(sample_landing, tmp_path_factory) -> ThresholdRuns:
    """The same delivery run twice: under the default threshold (1 %), then under 0,25 %."""
    from orchestration.progress import Display
    from orchestration.runner import run_pipeline

    root = tmp_path_factory.mktemp("threshold")
    shutil.copytree(sample_landing, root / "landing")
    planted = _plant_row_problems(root / "landing")
    with restored_environment(*RUN_ENVIRONMENT, "IWH_QUARANTINE_THRESHOLD_PCT"):
        os.environ.pop("IWH_QUARANTINE_THRESHOLD_PCT", None)
        settings = point_environment_at(root / "landing", root / "home")
        below = run_pipeline(settings, display=Display(io.StringIO()))
        published = _sha256(settings.published_path) if settings.published_path.exists() else ""
        os.environ["IWH_QUARANTINE_THRESHOLD_PCT"] = "0,25"
        terminal = io.StringIO()
        above = run_pipeline(settings, display=Display(terminal))
    return ThresholdRuns(planted, settings, below, published, above, terminal.getvalue())


@pytest.mark.slow
def test_row_problems_below_the_threshold_are_quarantined_and_the_rest_is_published(threshold_runs):
    runs = threshold_runs
    assert runs.below.ok, runs.below.failures
    with duckdb.connect(str(runs.settings.published_path), read_only=True) as con:
        quarantined = con.execute(
            "select row_number, column_name, reason, value from quality.quarantine where source_file = ? order by 1",
            [THRESHOLD_FILE],
        ).fetchall()
        modelled_rows = {
            row
            for (row,) in con.execute(
                "select source_row from marts.participant_exits where source_file = ?", [THRESHOLD_FILE]
            ).fetchall()
        }
        reasons = con.execute(
            "select reason, n_rows from marts.exclusions "
            "where source_file = ? and step = 'quarantined' and outcome = 'maloppnaelse' order by 1",
            [THRESHOLD_FILE],
        ).fetchall()
    first, second = runs.planted.duplicate_rows
    assert quarantined == [
        (runs.planted.label_rows[0], "Avslutningsaarsak", "unknown_label", UNKNOWN_END_REASON),
        (runs.planted.label_rows[1], "Avslutningsaarsak", "unknown_label", UNKNOWN_END_REASON),
        (first, "Fodselsnummer", "duplicate_person", None),
        (runs.planted.label_rows[2], "Avslutningsaarsak", "unknown_label", UNKNOWN_END_REASON),
        (second, "Fodselsnummer", "duplicate_person", None),
    ]
    quarantined_rows = {row for row, *_ in quarantined}
    assert modelled_rows == set(range(2, runs.planted.rows_in_file + 2)) - quarantined_rows
    assert reasons == [("duplicate_person", 2), ("unknown_label", 3)]


@pytest.mark.slow
def test_row_problems_above_the_threshold_block_publication_naming_the_delivery(threshold_runs):
    runs = threshold_runs
    assert not runs.above.published
    assert any("quarantine_threshold" in failure for failure in runs.above.failures)
    assert _sha256(runs.settings.published_path) == runs.published_after_below
    message = (
        f"{THRESHOLD_FILE} (nir_deltakere, årgang {THRESHOLD_YEAR}): 5 av {runs.planted.rows_in_file} rader i "
        "karantene (0,31 % > grensen 0,25 %). Vanligste årsaker: unknown_label i Avslutningsaarsak (3), "
        "duplicate_person i Fodselsnummer (2)."
    )
    assert message in runs.above_terminal
    assert "the published warehouse is unchanged" in runs.above_terminal
