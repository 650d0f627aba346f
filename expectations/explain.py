"""Readable locations for a failed expectation: file, row and column as delivered.

These lines go to ``quality.validation_results.details`` and the auditors' report. They
carry labels, codes and row numbers, never a person key: duplicates of a person are
described by the rows they occupy.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from expectations.batches import Batch
from expectations.suites import Suite, resolve_parameter

ROWS_LISTED = 20


def details(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    batch: Batch,
    kind: str,
    kwargs: dict,
    meta: dict,
) -> str | None:
    source = suite.source
    if source.carries_identifier:
        return (
            "\n".join(
                _duplicate_rows(con, source.dataset, int(batch.partition), source.delivered_columns.get("person_key"))
            )
            or None
        )
    if kind == "expect_column_values_to_not_be_null":
        return None
    column = kwargs["column"]
    unexpected = batch.frame[unexpected_mask(batch.frame[column], kind, kwargs, batch.parameters)]
    if source.describes_units:
        line = _volume_line if source.index_columns[0] == "source" else _municipality_line
        lines = [line(row, column) for _, row in unexpected.iterrows()]
    else:
        delivered = source.delivered_columns.get(column, column)
        lines = [
            f"{row['source_file']} row {row['source_row']}, column {delivered}: "
            f"{_problem(kind, kwargs, meta, batch.parameters, row[column])}"
            for _, row in _in_file_order(unexpected).head(ROWS_LISTED).iterrows()
        ]
        if len(unexpected) > ROWS_LISTED:
            lines.append(f"… and {len(unexpected) - ROWS_LISTED} more")
    return "\n".join(lines) or None


def unexpected_mask(values: pd.Series, kind: str, kwargs: dict, parameters: dict) -> pd.Series:
    """The rows GX counts as unexpected, recomputed on the frame so their file and row can be named
    (GX's own row lists cost seconds per thousand rows). Missing values are never unexpected here."""
    present = values.notna()
    if kind == "expect_column_values_to_be_in_set":
        allowed = resolve_parameter(kwargs["value_set"], parameters)
        return present & ~values.isin(allowed)
    if kind == "expect_column_values_to_be_between":
        low, high = (resolve_parameter(kwargs.get(key), parameters) for key in ("min_value", "max_value"))
        outside = pd.Series(False, index=values.index)
        if low is not None:
            outside |= values < low
        if high is not None:
            outside |= values > high
        return present & outside
    if kind == "expect_column_values_to_match_regex":
        return present & ~values.astype(str).str.match(kwargs["regex"])
    raise ValueError(f"no row rule for {kind}")


def _in_file_order(rows: pd.DataFrame) -> pd.DataFrame:
    # File names are categories in order of appearance; sort by the names themselves.
    return rows.assign(file_name=rows["source_file"].astype(str)).sort_values(["file_name", "source_row"])


def _problem(kind: str, kwargs: dict, meta: dict, parameters: dict, value) -> str:
    if kind == "expect_column_values_to_be_in_set":
        if "code_list" in meta:
            return f"unknown label '{value}' (not in seed {meta['code_list']})"
        return f"value '{value}' outside the code list"
    if kind == "expect_column_values_to_be_between":
        low, high = (resolve_parameter(kwargs.get(key), parameters) for key in ("min_value", "max_value"))
        return f"value {value} outside [{'' if low is None else low}, {'' if high is None else high}]"
    if kind == "expect_column_values_to_match_regex":
        return f"value '{value}' does not match {kwargs['regex']}"
    return f"unexpected value '{value}'"


def _municipality_line(entry: pd.Series, column: str) -> str:
    variable = column.removesuffix("_missing_share")
    return (
        f"{entry['kommunenummer']} {entry['kommunenavn']} ({entry['exits']} exits): {entry[column]:.1%} lack {variable}"
    )


def _volume_line(entry: pd.Series, column: str) -> str:
    ratio = entry[column]
    return (
        f"{entry['source']}: {int(entry['rows_delivered'])} rows delivered, "
        f"{ratio:.1%} of the previous year's {int(entry['rows_previous_year'])}"
    )


def _duplicate_rows(con: duckdb.DuckDBPyConnection, table: str, cohort_year: int, delivered: str | None) -> list[str]:
    rows = con.execute(
        f"""
        select _source_file, list(_row_number order by _row_number) as source_rows
        from {table}
        where cohort_year = ?
        group by person_key, _source_file
        having count(*) > 1
        order by min(_row_number)
        limit {ROWS_LISTED}
        """,
        [cohort_year],
    ).fetchall()
    column = f", column {delivered}" if delivered else ""
    return [
        f"{source_file} rows {', '.join(str(row) for row in source_rows[:-1])} and {source_rows[-1]}{column}: "
        "the same person"
        for source_file, source_rows in rows
    ]
