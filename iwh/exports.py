"""Exports for analysts who work outside SQL: Parquet for R/Python, Stata .dta with variable
labels, value labels and extended missing values, and a codebook (CSV and HTML) of every column.

What the labels and codes say comes from the dbt project (``iwh.codebook``). Files are written to
a temporary name and renamed, so a reader never opens a half-written export.

The .dta file is streamed: its metadata (variable types, names, formats, labels) is written from
the table's column types, byte for byte what pandas' ``to_stata`` writes, and the data section —
fixed-width rows, the only part that grows with the table — batch by batch from DuckDB, with the
missing-value code of each cell computed by DuckDB. pyreadstat, the standard writer, takes a
pandas frame: for a 3 M-row frame of marts.analysis_dataset's shape, fetching the frame alone
peaked at 7.4 GB (this writer: 0.6 GB for the whole file), and its extended missing values must
be letters in object columns, which would multiply that.
"""

from __future__ import annotations

import datetime
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iwh.codebook import (
    BOOLEAN_CODE_LIST,
    LABEL_CHARACTERS,
    CodebookRow,
    ColumnDoc,
    Manifest,
    MissingReason,
    code_lists,
    codebook_csv,
    codebook_html,
    codebook_rows,
    missing_reasons,
    quoted,
)
from iwh.reporting import Language, RunFacts
from iwh.warehouse import FILE_MODE, ensure_private_dir

EXPORTED_MART = ("marts", "analysis_dataset")
EXPORTED_SCHEMA = "analysis"

# Stata's system missing value "." for a double (and a float): the smallest of its missing codes.
STATA_MISSING_DOUBLE = struct.unpack("<d", b"\x00\x00\x00\x00\x00\x00\xe0\x7f")[0]
STATA_MISSING_FLOAT = struct.unpack("<f", b"\x00\x00\x00\x7f")[0]


def stata_missing(field: str, code: str) -> float:
    """The value of Stata's extended missing ``.<code>`` (``a``–``z``) in a double or float field:
    each is the one before plus a step in the last bits of the exponent's neighbourhood."""
    step = ord(code) - ord("a") + 1
    if field == "<f4":
        return struct.unpack("<f", struct.pack("<I", 0x7F000000 + step * 0x800))[0]
    return struct.unpack("<d", struct.pack("<Q", 0x7FE0000000000000 + step * 0x10000000000))[0]


ROWS_PER_BATCH = 100_000
# Stata 118 (.dta of Stata 14-18), little-endian: type codes and display formats of the numeric
# fields (a string field's code is its width), the fixed sizes of names, formats and labels, and
# the number of sections whose offsets the file's map gives.
STATA_VERSION = 118
_STATA_TYPES = {"<f8": (65526, "%10.0g"), "<f4": (65527, "%9.0g"), "i1": (65530, "%8.0g")}
_NAME_BYTES, _FORMAT_BYTES, _VARIABLE_LABEL_BYTES = 129, 57, 321
_MAP_ENTRIES = 14
_STATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_STATA_RESERVED = {
    "_all",
    "_b",
    "byte",
    "_coef",
    "_cons",
    "double",
    "float",
    "if",
    "in",
    "int",
    "long",
    "_n",
    "_N",
    "_pi",
    "_pred",
    "_rc",
    "_skip",
    "strL",
    "using",
    "with",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class _StataColumn:
    """How one column is stored: the SQL that gives its Stata value, and its numpy field type."""

    name: str
    select: str
    field: str  # numpy dtype of the fixed-width field: "S<bytes>", "<f8", "<f4" or "i1"


def _with_missing_codes(value: str, field: str, reasons: list[MissingReason]) -> str:
    if not reasons:
        return value
    cases = " ".join(f"when {r.when} then {stata_missing(field, r.code)!r}" for r in reasons)
    return f"coalesce({value}, case {cases} end)"


def _stata_columns(
    con: duckdb.DuckDBPyConnection, source: str, labelled: set[str], missing: dict[str, list[MissingReason]]
) -> list[_StataColumn]:
    """Stata has no boolean, no 64-bit or nullable integer and no infinity: booleans become bytes
    (doubles when they have NULLs), integers and labelled codes doubles, ±infinity missing, and NULL
    text the empty string in a column as wide as its longest value in UTF-8 bytes. A missing number
    for which ``missing`` gives a reason is that reason's extended missing value."""
    relation = con.sql(f"select * from {source}")
    names, types = relation.columns, [str(t) for t in relation.types]
    facts = [
        f"count(*) filter (where {quoted(n)} is null) > 0"
        if t == "BOOLEAN"
        else f"coalesce(max(strlen({quoted(n)})), 0)"
        if t == "VARCHAR"
        else "null"
        for n, t in zip(names, types, strict=True)
    ]
    observed = con.execute(f"select {', '.join(facts) or 'null'} from {source}").fetchall()[0]
    columns = []
    for name, sql_type, fact in zip(names, types, observed, strict=True):
        value, reasons = quoted(name), missing.get(name, [])
        if sql_type == "VARCHAR":
            columns.append(_StataColumn(name, f"coalesce({value}, '')", f"S{max(fact, 1)}"))
        elif sql_type == "BOOLEAN":
            field = "<f8" if fact else "i1"
            select = _with_missing_codes(f"{value}::double", field, reasons) if fact else f"{value}::tinyint"
            columns.append(_StataColumn(name, select, field))
        elif sql_type == "FLOAT" and name not in labelled:
            finite = f"case when isinf({value}) then null else {value} end"
            columns.append(_StataColumn(name, _with_missing_codes(finite, "<f4", reasons), "<f4"))
        elif sql_type in ("DOUBLE", "FLOAT"):
            finite = f"case when isinf({value}) then null else {value}::double end"
            columns.append(_StataColumn(name, _with_missing_codes(finite, "<f8", reasons), "<f8"))
        elif sql_type in (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "HUGEINT",
        ):
            columns.append(_StataColumn(name, _with_missing_codes(f"{value}::double", "<f8", reasons), "<f8"))
        else:
            raise ValueError(f"{source}.{name}: type {sql_type} has no Stata export")
    return columns


def _tag(name: str, content: bytes) -> bytes:
    return b"<" + name.encode() + b">" + content + b"</" + name.encode() + b">"


def _padded(text: str, size: int) -> bytes:
    encoded = text.encode("utf-8")
    return encoded + b"\x00" * (size - len(encoded))


def _value_label_table(name: str, labels: dict[int, str]) -> bytes:
    values = sorted(labels)
    texts = [labels[value].encode("utf-8") + b"\x00" for value in values]
    offsets = np.cumsum([0] + [len(text) for text in texts[:-1]])
    table = (
        struct.pack("<ii", len(values), sum(map(len, texts)))
        + struct.pack(f"<{len(values)}i", *offsets)
        + struct.pack(f"<{len(values)}i", *values)
        + b"".join(texts)
    )
    return _tag("lbl", struct.pack("<i", len(table)) + _padded(name, _NAME_BYTES) + b"\x00" * 3 + table)


def _metadata(
    columns: list[_StataColumn],
    labels: dict[str, dict[int, str]],
    variable_labels: dict[str, str],
    data_label: str,
    rows: int,
    row_width: int,
) -> tuple[bytes, bytes]:
    """The bytes before and after the data section of a .dta file of ``rows`` rows of these columns:
    what pandas' ``to_stata(version=118, byteorder="<")`` writes (a test compares them), without
    its per-column preparation of a frame, which took a third of the exports' time."""
    for column in columns:
        if not _STATA_NAME.fullmatch(column.name) or column.name in _STATA_RESERVED:
            raise ValueError(f"{column.name!r} is not a Stata variable name")
    types = [
        (int(c.field[1:]), f"%{c.field[1:]}s") if c.field.startswith("S") else _STATA_TYPES[c.field] for c in columns
    ]
    now = datetime.datetime.now()
    stamp = f"{now:%d} {_MONTHS[now.month - 1]} {now:%Y %H:%M}".encode()
    label = data_label[:LABEL_CHARACTERS].encode("utf-8")
    header = b"<stata_dta>" + _tag(
        "header",
        (
            _tag("release", str(STATA_VERSION).encode())
            + _tag("byteorder", b"LSF")
            + _tag("K", struct.pack("<H", len(columns)))
            + _tag("N", struct.pack("<Q", rows))
            + _tag("label", struct.pack("<H", len(label)) + label)
            + _tag("timestamp", bytes([len(stamp)]) + stamp)
        ),
    )
    before_data = [
        _tag("variable_types", struct.pack(f"<{len(types)}H", *(code for code, _ in types))),
        _tag("varnames", b"".join(_padded(c.name, _NAME_BYTES) for c in columns)),
        _tag("sortlist", b"\x00" * 2 * (len(columns) + 1)),
        _tag("formats", b"".join(_padded(display, _FORMAT_BYTES) for _, display in types)),
        _tag("value_label_names", b"".join(_padded(c.name if c.name in labels else "", _NAME_BYTES) for c in columns)),
        _tag(
            "variable_labels",
            b"".join(
                _padded(variable_labels.get(c.name, "")[:LABEL_CHARACTERS], _VARIABLE_LABEL_BYTES) for c in columns
            ),
        ),
        _tag("characteristics", b""),
        b"<data>",
    ]
    after_data = [
        b"</data>",
        _tag("strls", b""),
        _tag("value_labels", b"".join(_value_label_table(name, mapping) for name, mapping in labels.items())),
        b"</stata_dta>",
    ]
    # The map: the offset of each section's opening tag, then of the file's closing tag and its end.
    map_at = len(header)
    position = map_at + len(_tag("map", bytes(8 * _MAP_ENTRIES)))
    offsets = [0, map_at]
    for section in before_data[:-1]:
        offsets.append(position)
        position += len(section)
    offsets.append(position)
    position += len(b"<data>") + rows * row_width
    for section in after_data[:-1]:
        position += len(section)
        offsets.append(position)
    offsets.append(position + len(after_data[-1]))
    file_map = _tag("map", struct.pack(f"<{_MAP_ENTRIES}Q", *offsets))
    return header + file_map + b"".join(before_data), b"".join(after_data)


def _records(batch: pa.RecordBatch, columns: list[_StataColumn], row_type: np.dtype) -> bytes:
    records = np.zeros(batch.num_rows, dtype=row_type)
    for index, column in enumerate(columns):
        values = batch.column(index)
        if column.field.startswith("S"):
            records[column.name] = values.cast(pa.binary()).to_numpy(zero_copy_only=False)
        elif column.field == "i1":
            records[column.name] = values.to_numpy(zero_copy_only=False)
        else:
            missing = STATA_MISSING_FLOAT if column.field == "<f4" else STATA_MISSING_DOUBLE
            records[column.name] = pc.fill_null(values, missing).to_numpy(zero_copy_only=False)
    return records.tobytes()


def write_stata(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    data_label: str,
    variable_labels: dict[str, str] | None = None,
    value_labels: dict[str, dict[int, str]] | None = None,
    missing: dict[str, list[MissingReason]] | None = None,
) -> None:
    """Write ``source`` (a table, or a query in parentheses) as a Stata 118 .dta file, rows in its order.

    ``value_labels``: code → label per column; ``missing``: the reasons of a column's missing cells."""
    names = con.sql(f"select * from {source}").columns
    labels = {name: codes for name, codes in (value_labels or {}).items() if name in names}
    columns = _stata_columns(con, source, set(labels), missing or {})
    row_type = np.dtype([(column.name, column.field) for column in columns])
    rows = con.execute(f"select count(*) from {source}").fetchall()[0][0]
    before_data, after_data = _metadata(columns, labels, variable_labels or {}, data_label, rows, row_type.itemsize)
    select = ", ".join(f"{column.select} as {quoted(column.name)}" for column in columns)
    reader = con.sql(f"select {select} from {source}").to_arrow_reader(ROWS_PER_BATCH)
    with open(path, "wb") as out:
        out.write(before_data)
        for batch in reader:
            out.write(_records(batch, columns, row_type))
        out.write(after_data)


def _replace_atomically(tmp: Path, final: Path) -> None:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, final)


def _data_label(table: str, run: RunFacts) -> str:
    # Within Stata's 80 characters: the run as Dagster's UI shortens it, the outcome variant, the scope.
    return f"{table}: kjøring {run.run_id[:8]}, {run.outcome_variant}, {run.js_scope}"


def _distinct(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    present = con.sql(f"select * from {table}").columns
    if column not in present:
        return "ukjent"
    values = con.execute(f"select distinct {quoted(column)} from {table} where {quoted(column)} is not null order by 1")
    return ", ".join(str(row[0]) for row in values.fetchall()) or "ukjent"


def export_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    directory: Path,
    manifest: Manifest,
    codes: dict[str, dict[int, str]],
    run: RunFacts,
    lang: Language,
) -> tuple[list[Path], list[CodebookRow]]:
    name = f"{schema}__{table}"
    parquet_path = directory / f"{name}.parquet"
    tmp = directory / f".{name}.parquet.tmp"
    con.execute(f"copy (select * from {schema}.{table} order by all) to '{tmp}' (format parquet)")
    _replace_atomically(tmp, parquet_path)

    # The Parquet file holds the rows already sorted: reading it back is cheaper than sorting again.
    source = f"read_parquet('{parquet_path}')"
    relation = con.sql(f"select * from {source}")
    columns, types = relation.columns, [str(t) for t in relation.types]
    qualified = f"{schema}.{table}"
    docs = {c: manifest.column(schema, table, c) or ColumnDoc("", "", None) for c in columns}
    value_labels = {
        column: codes[code_list]
        for column, sql_type in zip(columns, types)
        if (code_list := docs[column].code_list or (BOOLEAN_CODE_LIST if sql_type == "BOOLEAN" else None)) in codes
    }
    missing = {column: missing_reasons(qualified, column, columns) for column in columns}
    dta_path = directory / f"{name}.dta"
    tmp = directory / f".{name}.dta.tmp"
    write_stata(
        con,
        source,
        tmp,
        data_label=_data_label(qualified, run),
        variable_labels={column: doc.label for column, doc in docs.items()},
        value_labels=value_labels,
        missing=missing,
    )
    _replace_atomically(tmp, dta_path)
    return [parquet_path, dta_path], codebook_rows(con, source, qualified, types, value_labels, docs, lang)


def write_exports(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    manifest: dict,
    run_id: str,
    language: str = "nb",
    synthetic: bool = False,
) -> list[Path]:
    """marts.analysis_dataset and every analysis.* table as Parquet and .dta, and the codebook of
    their columns (``kodebok.csv``, ``kodebok.html``). ``manifest``: dbt's manifest.json."""
    ensure_private_dir(directory)
    documented = Manifest(manifest)
    codes = code_lists(con, documented)
    mart = ".".join(EXPORTED_MART)
    run = RunFacts.now(run_id, _distinct(con, mart, "outcome_variant"), _distinct(con, mart, "js_scope"), synthetic)
    lang = Language(language)
    tables = [EXPORTED_MART] + [
        (EXPORTED_SCHEMA, row[0])
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by table_name",
            [EXPORTED_SCHEMA],
        ).fetchall()
    ]
    written: list[Path] = []
    rows: list[CodebookRow] = []
    for schema, table in tables:
        files, described = export_table(con, schema, table, directory, documented, codes, run, lang)
        written.extend(files)
        rows.extend(described)
    for suffix, text in (("csv", codebook_csv(rows)), ("html", codebook_html(rows, run, lang))):
        final = directory / f"kodebok.{suffix}"
        tmp = directory / f".kodebok.{suffix}.tmp"
        tmp.write_text(text, encoding="utf-8")
        _replace_atomically(tmp, final)
        written.append(final)
    return written
