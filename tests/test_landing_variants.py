"""Every variant the landing-zone contract allows gives the same typed raw rows.

A base delivery is rewritten as each allowed variant (encoding, BOMs, separator, decimal
comma, ISO dates, column order, extra columns, letter case, quoting, line endings, .xlsx);
each is loaded on its own and compared with the base, value by value.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import pytest
from test_landing_fixtures import (
    EXAMPLES,
    LOG,
    copy_examples,
    quarantine_rows,
    raw_rows,
    read_table,
    settings_for,
    write_table,
)

from iwh.landing import SOURCES, load_partition
from iwh.landing.contract import Kind

NIR_2018 = EXAMPLES / "nir" / "nir_deltakere_2018.csv"  # decimal commas, dd.mm.yyyy
JS_2017 = EXAMPLES / "jobbsjansen" / "individrapportering_2017.csv"  # Windows-1252, 2017 text codes
JS_2020 = EXAMPLES / "jobbsjansen" / "individrapportering_2020.csv"  # two UTF-8 BOMs, extra `kommentar`


def typed(source: str, rows: list[dict]) -> list[dict]:
    """Raw rows with each contract column read as its type (a number is a number however written)."""
    kinds = {c.raw_name: c.kind for c in SOURCES[source].columns}
    converted = []
    for row in rows:
        out = {}
        for name, value in row.items():
            kind = kinds.get(name)
            if value is not None and kind is Kind.DECIMAL:
                value = float(value)
            elif value is not None and kind is Kind.INTEGER:
                value = int(value)
            out[name] = value
        converted.append(out)
    return converted


def load_variant(
    tmp_path: Path, relative: str, write: Callable[[Path], None], source: str, year: int
) -> tuple[list[dict], list]:
    """Load one variant file in a fresh landing zone; returns typed rows and quarantine rows."""
    landing = tmp_path / "landing"
    landing.mkdir(parents=True)
    shutil.copytree(EXAMPLES / "ssb", landing / "ssb")
    (landing / relative).parent.mkdir(parents=True, exist_ok=True)
    write(landing / relative)
    con = duckdb.connect()
    try:
        load_partition(con, settings_for(landing, tmp_path / "home"), source, year, "variant", LOG)
        rows = raw_rows(con, source, year, exclude=("_file_sha256", "_source_file", "_extra_columns"))
        return typed(source, rows), quarantine_rows(con)
    finally:
        con.close()


def _nir_base() -> tuple[list[str], list[list[str]]]:
    return read_table(NIR_2018)


def _with_decimal_points(header, rows):
    decimal = {c.name for c in SOURCES["nir_deltakere"].columns if c.kind is Kind.DECIMAL}
    return header, [[v.replace(",", ".") if h in decimal else v for h, v in zip(header, row)] for row in rows]


def _with_iso_dates(header, rows):
    dates = {c.name for c in SOURCES["nir_deltakere"].columns if c.kind is Kind.DATE}

    def iso(value: str) -> str:
        return dt.datetime.strptime(value, "%d.%m.%Y").date().isoformat() if value else value

    return header, [[iso(v) if h in dates else v for h, v in zip(header, row)] for row in rows]


def _shuffled(header, rows):
    order = list(range(len(header)))
    random.Random(2019).shuffle(order)
    return [header[i] for i in order], [[row[i] for i in order] for row in rows]


def _with_extra_column(header, rows):
    return [*header, "kommentar"], [[*row, f"merknad {i}"] for i, row in enumerate(rows)]


def _lower_case_header_and_padded_cells(header, rows):
    return [h.lower() for h in header], [[f"  {v} " if v else v for v in row] for row in rows]


NIR_VARIANTS: dict[str, tuple[Callable, dict]] = {
    "utf-8 as delivered": (lambda h, r: (h, r), {}),
    "utf-8 with BOM": (lambda h, r: (h, r), {"boms": 1}),
    "utf-8 with two BOMs": (lambda h, r: (h, r), {"boms": 2}),
    "windows-1252": (lambda h, r: (h, r), {"encoding": "cp1252"}),
    "windows-1252, CRLF": (lambda h, r: (h, r), {"encoding": "cp1252", "line_end": "\r\n"}),
    "utf-8 with BOM, CRLF": (lambda h, r: (h, r), {"boms": 1, "line_end": "\r\n"}),
    "comma separator, quoted decimal commas": (lambda h, r: (h, r), {"separator": ","}),
    "comma separator, decimal points": (_with_decimal_points, {"separator": ","}),
    "decimal points": (_with_decimal_points, {}),
    "ISO dates": (_with_iso_dates, {}),
    "shuffled columns": (_shuffled, {}),
    "extra column": (_with_extra_column, {}),
    "header case and cell padding": (_lower_case_header_and_padded_cells, {}),
    "every cell quoted, CRLF": (lambda h, r: (h, r), {"quoting": csv.QUOTE_ALL, "line_end": "\r\n"}),
}


@pytest.fixture(scope="module")
def nir_base_rows(tmp_path_factory) -> list[dict]:
    rows, quarantine = load_variant(
        tmp_path_factory.mktemp("base"),
        "nir/nir_deltakere_2018.csv",
        lambda p: shutil.copy(NIR_2018, p),
        "nir_deltakere",
        2018,
    )
    assert quarantine == []
    return rows


def test_nir_base_rows_are_normalised_text(nir_base_rows):
    first = nir_base_rows[0]
    assert len(nir_base_rows) == 4
    assert {
        k: first[k]
        for k in (
            "kjonn",
            "datoforforstevedtakintro",
            "avsluttetdato",
            "avsl_kommunenummer",
            "antalltimerfravaerintro",
            "_row_number",
            "cohort_year",
        )
    } == {
        "kjonn": "K",
        "datoforforstevedtakintro": "2016-11-18",
        "avsluttetdato": "2018-07-15",
        "avsl_kommunenummer": "0105",
        "antalltimerfravaerintro": 62.6,
        "_row_number": 2,
        "cohort_year": 2018,
    }
    assert "fodselsnummer" not in first
    assert len(first["person_key"]) == 32


@pytest.mark.parametrize("variant", NIR_VARIANTS)
def test_nir_variant_gives_identical_rows(variant, nir_base_rows, tmp_path):
    transform, options = NIR_VARIANTS[variant]
    header, rows = transform(*_nir_base())
    typed_rows, quarantine = load_variant(
        tmp_path, "nir/nir_deltakere_2018.csv", lambda p: write_table(p, header, rows, **options), "nir_deltakere", 2018
    )
    assert quarantine == []
    assert typed_rows == nir_base_rows


def _write_nir_xlsx_with_typed_cells(path: Path) -> None:
    """As Excel saves a sheet someone typed into: numbers, dates, and identifiers without leading zeros."""
    header, rows = _nir_base()
    kinds = {c.name: c.kind for c in SOURCES["nir_deltakere"].columns}
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        cells = []
        for name, value in zip(header, row):
            kind = kinds[name]
            if not value:
                cells.append(None)
            elif kind is Kind.DECIMAL:
                cells.append(float(value.replace(",", ".")))
            elif kind is Kind.DATE:
                cells.append(dt.datetime.strptime(value, "%d.%m.%Y"))
            elif kind in (Kind.INTEGER, Kind.IDENTIFIER, Kind.MUNICIPALITY_CODE) or name.startswith("Spor"):
                cells.append(int(value))
            else:
                cells.append(value)
        sheet.append(cells)
    workbook.save(path)


def test_nir_xlsx_with_numeric_and_date_cells_gives_identical_rows(nir_base_rows, tmp_path):
    typed_rows, quarantine = load_variant(
        tmp_path, "nir/nir_deltakere_2018.xlsx", _write_nir_xlsx_with_typed_cells, "nir_deltakere", 2018
    )
    assert quarantine == []
    assert typed_rows == nir_base_rows


def test_mixed_line_endings_give_identical_rows(nir_base_rows, tmp_path):
    header, rows = _nir_base()

    def write_with_mixed_line_endings(path: Path) -> None:
        lines = [";".join(header), *(";".join(r) for r in rows)]
        path.write_bytes(("\r\n".join(lines[:3]) + "\n" + "\r\n".join(lines[3:]) + "\n").encode("cp1252"))

    typed_rows, quarantine = load_variant(
        tmp_path, "nir/nir_deltakere_2018.csv", write_with_mixed_line_endings, "nir_deltakere", 2018
    )
    assert quarantine == []
    assert typed_rows == nir_base_rows


def test_blank_lines_count_as_spreadsheet_rows(tmp_path):
    header, rows = _nir_base()

    def write_with_blank_lines(path: Path) -> None:
        lines = [
            ";".join(header),
            ";".join(rows[0]),
            "",
            ";".join(rows[1]),
            " ",
            *(";".join(r) for r in rows[2:]),
            "",
            "",
        ]
        path.write_text("\n".join(lines), encoding="utf-8")

    typed_rows, quarantine = load_variant(
        tmp_path, "nir/nir_deltakere_2018.csv", write_with_blank_lines, "nir_deltakere", 2018
    )
    assert quarantine == []
    assert [r["_row_number"] for r in typed_rows] == [2, 4, 6, 7]


def test_quoted_cell_spanning_lines_keeps_row_numbers(tmp_path):
    header, rows = _with_extra_column(*_nir_base())
    rows[0][-1] = "første linje\nandre linje"

    typed_rows, quarantine = load_variant(
        tmp_path, "nir/nir_deltakere_2018.csv", lambda p: write_table(p, header, rows), "nir_deltakere", 2018
    )
    assert quarantine == []
    assert [r["_row_number"] for r in typed_rows] == [2, 3, 4, 5]


# --- Jobbsjansen -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def js_2017_rows(tmp_path_factory) -> list[dict]:
    rows, quarantine = load_variant(
        tmp_path_factory.mktemp("js"),
        "jobbsjansen/individrapportering_2017.csv",
        lambda p: shutil.copy(JS_2017, p),
        "jobbsjansen_individrapportering",
        2017,
    )
    assert quarantine == []
    return rows


def test_2017_text_codes_and_windows_1252_letters_are_kept_as_delivered(js_2017_rows):
    assert [(r["v1_1"], r["v1_3"], r["v2_1"], r["v5_1"], r["id_type"]) for r in js_2017_rows] == [
        ("Skedsmo", "Del A", "Kvinne", "Under 10 %", "fnr"),
        ("Lørenskog", "Del A", "Kvinne", "Under 10 %", "fnr"),
        ("Karmøy", "Del A", "Kvinne", "10-19 %", "fnr"),
        ("Asker", "Del A", "Kvinne", "30-49 %", "fnr"),
    ]
    # v3_2_11 and v3_3_10 only exist from 2020: absent columns load as NULL.
    assert {r["v3_2_11"] for r in js_2017_rows} == {None}


def _js_2017_table() -> tuple[list[str], list[list[str]]]:
    return read_table(JS_2017, encoding="cp1252")


def _write_js_xlsx(path: Path, numeric_codes: bool) -> None:
    header, rows = _js_2017_table()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        if numeric_codes:
            sheet.append([int(v) if v.isdigit() else (v or None) for v in row])
        else:
            sheet.append([v or None for v in row])
    workbook.save(path)


JS_VARIANTS: dict[str, Callable[[Path], None]] = {
    "utf-8": lambda p: write_table(p, *_js_2017_table()),
    "utf-8 with two BOMs": lambda p: write_table(p, *_js_2017_table(), boms=2),
    "shuffled columns, extra column": lambda p: write_table(p, *_with_extra_column(*_shuffled(*_js_2017_table()))),
    "xlsx with text cells": lambda p: _write_js_xlsx(p, numeric_codes=False),
    "xlsx with number cells": lambda p: _write_js_xlsx(p, numeric_codes=True),
}


@pytest.mark.parametrize("variant", JS_VARIANTS)
def test_jobbsjansen_variant_gives_identical_rows(variant, js_2017_rows, tmp_path):
    suffix = ".xlsx" if "xlsx" in variant else ".csv"
    typed_rows, quarantine = load_variant(
        tmp_path,
        f"jobbsjansen/individrapportering_2017{suffix}",
        JS_VARIANTS[variant],
        "jobbsjansen_individrapportering",
        2017,
    )
    assert quarantine == []
    assert typed_rows == js_2017_rows


def test_double_bom_example_reads_header_and_keeps_extra_column(tmp_path):
    landing = copy_examples(tmp_path / "landing")
    con = duckdb.connect()
    load_partition(con, settings_for(landing, tmp_path / "home"), "jobbsjansen_individrapportering", 2020, "r", LOG)
    rows = con.sql(
        "select id_type, v1_1, v1_3, v3_2_11, v3_3_10, _extra_columns "
        "from raw.jobbsjansen_individrapportering order by _row_number"
    ).fetchall()
    assert rows == [
        ("duf", "Oslo", "Ordning A", None, "0", '{"kommentar":null}'),
        ("fnr", "Moss", "Ordning A", None, None, '{"kommentar":null}'),
        ("fnr", "Oslo", "Ordning A", "0", "1", '{"kommentar":null}'),
        ("fnr", "Lillestrøm", "Område 1", None, "0", '{"kommentar":null}'),
    ]
    assert quarantine_rows(con) == []


def test_xlsx_example_equals_the_same_rows_written_as_csv(tmp_path):
    workbook = openpyxl.load_workbook(EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx", read_only=True)
    cells = [["" if v is None else str(v) for v in row] for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    from_xlsx, _ = load_variant(
        tmp_path / "x",
        "jobbsjansen/individrapportering_2019.xlsx",
        lambda p: shutil.copy(EXAMPLES / "jobbsjansen" / "individrapportering_2019.xlsx", p),
        "jobbsjansen_individrapportering",
        2019,
    )
    from_csv, _ = load_variant(
        tmp_path / "c",
        "jobbsjansen/individrapportering_2019.csv",
        lambda p: write_table(p, cells[0], cells[1:]),
        "jobbsjansen_individrapportering",
        2019,
    )
    assert len(from_xlsx) == 4
    assert from_xlsx == from_csv
