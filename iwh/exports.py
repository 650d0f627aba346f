"""Exports for analysts who work outside SQL: Parquet for R/Python, Stata .dta with value labels.

Files are written to a temporary name and renamed, so a reader never opens a half-written export.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

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


def _value_labels_for(frame: pd.DataFrame) -> dict[str, dict[int, str]]:
    labels = {column: mapping for column, mapping in STATA_VALUE_LABELS.items() if column in frame.columns}
    labels.update({column: YES_NO for column in frame.columns if column.startswith("tiltak_")})
    return labels


def _stata_ready(frame: pd.DataFrame, labelled: set[str]) -> pd.DataFrame:
    """Stata has no boolean, no nullable integer and no timezone-aware time: convert to its types."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_bool_dtype(series):
            out[column] = series.astype("float64") if series.isna().any() else series.astype("int8")
        elif pd.api.types.is_integer_dtype(series) or column in labelled:
            out[column] = series.astype("float64")
        elif pd.api.types.is_float_dtype(series):
            # Stata has no infinity (an odds ratio's bound under separation): it becomes missing.
            out[column] = series.replace([np.inf, -np.inf], np.nan)
        elif pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        elif not pd.api.types.is_numeric_dtype(series):
            out[column] = series.astype("object").where(series.notna(), "").astype(str)
    return out


def _replace_atomically(tmp: Path, final: Path) -> None:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, final)


def export_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, directory: Path) -> list[Path]:
    name = f"{schema}__{table}"
    parquet_path = directory / f"{name}.parquet"
    tmp = directory / f".{name}.parquet.tmp"
    con.execute(f"copy (select * from {schema}.{table} order by all) to '{tmp}' (format parquet)")
    _replace_atomically(tmp, parquet_path)

    frame = con.execute(f"select * from {schema}.{table} order by all").df()
    labels = _value_labels_for(frame)
    dta_path = directory / f"{name}.dta"
    tmp = directory / f".{name}.dta.tmp"
    _stata_ready(frame, set(labels)).to_stata(
        tmp, write_index=False, version=118, value_labels=labels, data_label=f"{schema}.{table}"[:80]
    )
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
