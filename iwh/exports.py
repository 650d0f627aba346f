"""Exports for analysts who work outside SQL: Parquet for R/Python, Stata .dta with value labels.

Files are written to a temporary name and renamed, so a reader never opens a half-written export.

The .dta file is streamed: pandas writes the file's metadata (variable types, names, formats,
value labels) for a one-row stand-in of the table, and the data section — fixed-width rows, the
only part that grows with the table — is written here batch by batch from DuckDB. A whole
table as a pandas frame, plus the copies ``to_stata`` makes of it, took many gigabytes for the
three million rows of marts.analysis_dataset at scale 100.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from iwh.warehouse import FILE_MODE, ensure_private_dir

EXPORTED_MART = ("marts", "analysis_dataset")
EXPORTED_SCHEMA = "analysis"

YES_NO = {0: "nei", 1: "ja"}
# Labels for the coded numeric columns of the marts; Stata users see these instead of bare codes.
STATA_VALUE_LABELS: dict[str, dict[int, str]] = {
    "ordning": {0: "introduksjonsprogrammet", 1: "Jobbsjansen"},
    "kjonn_mann": {0: "kvinne", 1: "mann"},
    "spor": {1: "liten eller ingen skolegang", 2: "en del skolegang", 3: "god allmennutdanning"},
    "fravaer_hoy": {0: "fravær under 10 %", 1: "fravær 10 % eller mer"},
    "maloppnaelse": {0: "ikke oppnådd", 1: "arbeid eller utdanning"},
    "maloppnaelse_3": {1: "arbeid eller utdanning", 2: "ikke oppnådd", 3: "avbrutt"},
}

STATA_VERSION = 118
# Stata's system missing value "." for a double (and a float): the smallest of its missing codes.
STATA_MISSING_DOUBLE = struct.unpack("<d", b"\x00\x00\x00\x00\x00\x00\xe0\x7f")[0]
STATA_MISSING_FLOAT = struct.unpack("<f", b"\x00\x00\x00\x7f")[0]
ROWS_PER_BATCH = 100_000
# In a .dta 118 file the map (offsets of every section) follows the header; its entries, in order:
_MAP_ENTRIES = 14
_MAP_DATA, _MAP_STRLS = 9, 10
_HEADER_BEFORE_N = len(b"<stata_dta><header><release>118</release><byteorder>LSF</byteorder><K>") + 2 + len(b"</K><N>")


def _value_labels_for(columns: list[str]) -> dict[str, dict[int, str]]:
    labels = {column: mapping for column, mapping in STATA_VALUE_LABELS.items() if column in columns}
    labels.update({column: YES_NO for column in columns if column.startswith("tiltak_")})
    return labels


@dataclass(frozen=True)
class _StataColumn:
    """How one column is stored: the SQL that gives its Stata value, and its numpy field type."""

    name: str
    select: str
    field: str  # numpy dtype of the fixed-width field: "S<bytes>", "<f8", "<f4" or "i1"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stata_columns(con: duckdb.DuckDBPyConnection, source: str, labelled: set[str]) -> list[_StataColumn]:
    """Stata has no boolean, no 64-bit or nullable integer and no infinity: booleans become bytes
    (doubles when they have NULLs), integers and labelled codes doubles, ±infinity missing, and NULL
    text the empty string in a column as wide as its longest value in UTF-8 bytes."""
    relation = con.sql(f"select * from {source}")
    names, types = relation.columns, [str(t) for t in relation.types]
    facts = [
        f"count(*) filter (where {_quoted(n)} is null) > 0" if t == "BOOLEAN"
        else f"coalesce(max(strlen({_quoted(n)})), 0)" if t == "VARCHAR"
        else "null"
        for n, t in zip(names, types, strict=True)
    ]
    observed = con.execute(f"select {', '.join(facts) or 'null'} from {source}").fetchall()[0]
    columns = []
    for name, sql_type, fact in zip(names, types, observed, strict=True):
        value = _quoted(name)
        if sql_type == "VARCHAR":
            columns.append(_StataColumn(name, f"coalesce({value}, '')", f"S{max(fact, 1)}"))
        elif sql_type == "BOOLEAN":
            columns.append(_StataColumn(name, f"{value}::{'double' if fact else 'tinyint'}", "<f8" if fact else "i1"))
        elif sql_type == "FLOAT" and name not in labelled:
            columns.append(_StataColumn(name, f"case when isinf({value}) then null else {value} end", "<f4"))
        elif sql_type in ("DOUBLE", "FLOAT"):
            columns.append(_StataColumn(name, f"case when isinf({value}) then null else {value}::double end", "<f8"))
        elif sql_type in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"):
            columns.append(_StataColumn(name, f"{value}::double", "<f8"))
        else:
            raise ValueError(f"{source}.{name}: type {sql_type} has no Stata export")
    return columns


def _stand_in(columns: list[_StataColumn]) -> pd.DataFrame:
    """One row with each column's Stata type, so pandas writes the metadata of the real table."""
    values = {}
    for column in columns:
        if column.field.startswith("S"):
            values[column.name] = pd.Series(["x" * int(column.field[1:])], dtype=object)
        else:
            values[column.name] = pd.Series([0], dtype=np.dtype(column.field).newbyteorder("="))
    return pd.DataFrame(values)


def _metadata(columns: list[_StataColumn], labels: dict[str, dict[int, str]], data_label: str) -> tuple[bytes, bytes, int]:
    """The bytes before and after the data section of a .dta file of these columns, and its row width."""
    buffer = io.BytesIO()
    _stand_in(columns).to_stata(
        buffer, write_index=False, version=STATA_VERSION, byteorder="<", value_labels=labels, data_label=data_label
    )
    written = buffer.getvalue()
    label_at = _HEADER_BEFORE_N + 8 + len(b"</N><label>")
    (label_bytes,) = struct.unpack_from("<H", written, label_at)
    stamp_at = label_at + 2 + label_bytes + len(b"</label><timestamp>")
    map_at = stamp_at + 1 + written[stamp_at] + len(b"</timestamp></header>") + len(b"<map>")
    offsets = struct.unpack_from(f"<{_MAP_ENTRIES}Q", written, map_at)
    data_starts = offsets[_MAP_DATA] + len(b"<data>")
    data_ends = offsets[_MAP_STRLS] - len(b"</data>")
    return written[:data_starts], written[data_ends:], data_ends - data_starts


def _with_row_count(before_data: bytes, rows: int, row_width: int) -> bytes:
    """The metadata of the one-row stand-in, for ``rows`` rows: the count in the header, and the
    offsets of the sections after the data moved by the extra rows."""
    patched = bytearray(before_data)
    struct.pack_into("<Q", patched, _HEADER_BEFORE_N, rows)
    map_at = patched.index(b"<map>", _HEADER_BEFORE_N) + len(b"<map>")
    offsets = list(struct.unpack_from(f"<{_MAP_ENTRIES}Q", patched, map_at))
    for entry in range(_MAP_STRLS, _MAP_ENTRIES):
        offsets[entry] += (rows - 1) * row_width
    struct.pack_into(f"<{_MAP_ENTRIES}Q", patched, map_at, *offsets)
    return bytes(patched)


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


def write_stata(con: duckdb.DuckDBPyConnection, source: str, path: Path, data_label: str) -> None:
    """Write ``source`` (a table, or a query in parentheses) as a Stata 118 .dta file, rows in its order."""
    names = con.sql(f"select * from {source}").columns
    labels = _value_labels_for(names)
    columns = _stata_columns(con, source, set(labels))
    before_data, after_data, row_width = _metadata(columns, labels, data_label)
    row_type = np.dtype([(column.name, column.field) for column in columns])
    if row_type.itemsize != row_width:
        raise RuntimeError(f"{source}: rows of {row_type.itemsize} bytes, but pandas describes {row_width}")
    rows = con.execute(f"select count(*) from {source}").fetchall()[0][0]
    select = ", ".join(f"{column.select} as {_quoted(column.name)}" for column in columns)
    reader = con.sql(f"select {select} from {source}").to_arrow_reader(ROWS_PER_BATCH)
    with open(path, "wb") as out:
        out.write(_with_row_count(before_data, rows, row_width))
        for batch in reader:
            out.write(_records(batch, columns, row_type))
        out.write(after_data)


def _replace_atomically(tmp: Path, final: Path) -> None:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, final)


def export_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, directory: Path) -> list[Path]:
    name = f"{schema}__{table}"
    parquet_path = directory / f"{name}.parquet"
    tmp = directory / f".{name}.parquet.tmp"
    con.execute(f"copy (select * from {schema}.{table} order by all) to '{tmp}' (format parquet)")
    _replace_atomically(tmp, parquet_path)

    dta_path = directory / f"{name}.dta"
    tmp = directory / f".{name}.dta.tmp"
    # The Parquet file holds the rows already sorted: reading it back is cheaper than sorting again.
    write_stata(con, f"read_parquet('{parquet_path}')", tmp, data_label=f"{schema}.{table}"[:80])
    _replace_atomically(tmp, dta_path)
    return [parquet_path, dta_path]


def write_exports(con: duckdb.DuckDBPyConnection, directory: Path) -> list[Path]:
    ensure_private_dir(directory)
    tables = [EXPORTED_MART] + [
        (EXPORTED_SCHEMA, row[0])
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by table_name",
            [EXPORTED_SCHEMA],
        ).fetchall()
    ]
    written: list[Path] = []
    for schema, table in tables:
        written.extend(export_table(con, schema, table, directory))
    return written
