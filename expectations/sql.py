"""SQL fragments shared by the batch queries and the reports."""

from __future__ import annotations

import duckdb


def label_key(expression: str) -> str:
    """The same normalisation as dbt's ``label_key`` macro, so a label the dbt seed accepts
    is accepted here and vice versa (case, surrounding spaces, dash variants, spaces at '/')."""
    return (
        "regexp_replace(regexp_replace("
        f"lower(trim(replace(replace({expression}, '–', '-'), '—', '-'))),"
        r" '\s+', ' ', 'g'), '\s*/\s*', '/', 'g')"
    )


def column_names(con: duckdb.DuckDBPyConnection, qualified_name: str) -> list[str]:
    schema, table = qualified_name.split(".", 1)
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [name for (name,) in rows]


def accepted_rows(alias: str) -> str:
    """Rows of a raw table that staging keeps: the ones not listed in quality.quarantine."""
    return (
        f"not exists (select 1 from quality.quarantine q "
        f"where q.file_sha256 = {alias}._file_sha256 and q.row_number = {alias}._row_number)"
    )
