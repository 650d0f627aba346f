"""Readable locations for a failed expectation: file, row and column as delivered.

These lines go to ``quality.validation_results.details`` and the auditors' report. They
carry labels, codes and row numbers, never a person key: duplicates of a person are
described by the rows they occupy.
"""

from __future__ import annotations

import duckdb

from expectations.suites import Suite, resolve_parameter

ROWS_LISTED = 20


def details(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    partition: str,
    kind: str,
    kwargs: dict,
    meta: dict,
    parameters: dict,
    result: dict,
) -> str | None:
    source = suite.source
    if source.carries_identifier:
        lines = _duplicate_rows(con, source.dataset, int(partition), source.delivered_columns.get("person_key"))
    elif "source" in source.index_columns:
        lines = [_volume_line(entry, kwargs) for entry in result.get("partial_unexpected_index_list") or []]
    elif "kommunenummer" in source.index_columns:
        lines = [_municipality_line(entry, kwargs["column"]) for entry in result.get("partial_unexpected_index_list") or []]
    elif kind == "expect_column_values_to_not_be_null":
        return None
    else:
        column = kwargs["column"]
        delivered = source.delivered_columns.get(column, column)
        lines = [
            f"{entry['source_file']} row {entry['source_row']}, column {delivered}: "
            f"{_problem(kind, kwargs, meta, parameters, entry.get(column))}"
            for entry in result.get("partial_unexpected_index_list") or []
        ]
    unexpected = result.get("unexpected_count") or 0
    if not source.carries_identifier and unexpected > len(lines) and lines:
        lines.append(f"… and {unexpected - len(lines)} more")
    return "\n".join(lines) or None


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


def _municipality_line(entry: dict, column: str) -> str:
    variable = column.removesuffix("_missing_share")
    return (
        f"{entry['kommunenummer']} {entry.get('kommunenavn') or ''} ({entry['exits']} exits): "
        f"{entry[column]:.1%} lack {variable}"
    ).replace("  ", " ")


def _volume_line(entry: dict, kwargs: dict) -> str:
    ratio = entry["ratio_to_previous_year"]
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
