"""Shapes of the raw tables and of quality.quarantine / quality.load_log (docs/architecture.md)."""

from __future__ import annotations

import duckdb

from iwh.landing.contract import SOURCES, SSB_STATBANK, Kind, Source

LINEAGE_COLUMNS = (
    ("_source_file", "VARCHAR"),
    ("_file_sha256", "VARCHAR"),
    ("_row_number", "INTEGER"),
    ("_loaded_at", "TIMESTAMP"),
    ("_extra_columns", "VARCHAR"),
)

# raw.ssb_statbank: the per-table value column becomes `value` (NULL for SSB's missing-value
# symbols, kept in `ssb_symbol`); `region` is split into kommunenummer and region_navn.
STATBANK_COLUMNS = (
    ("tabell", "VARCHAR"),
    ("kommunenummer", "VARCHAR"),
    ("region_navn", "VARCHAR"),
    ("value", "VARCHAR"),
    ("ssb_symbol", "VARCHAR"),
)

QUARANTINE_COLUMNS = (
    ("source", "VARCHAR"),
    ("cohort_year", "INTEGER"),
    ("source_file", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("row_number", "INTEGER"),
    ("column_name", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("detail", "VARCHAR"),
    ("value", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)

LOAD_LOG_COLUMNS = (
    ("source", "VARCHAR"),
    ("cohort_year", "INTEGER"),
    ("source_file", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("rows_delivered", "INTEGER"),
    ("rows_quarantined", "INTEGER"),
    ("loaded_at", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
)

# The seed code lists each loaded partition was checked against: replaced with the partition, in
# the same transaction, so it always describes the rows the partition holds.
CODE_LIST_CHECK_COLUMNS = (
    ("source", "VARCHAR"),
    ("cohort_year", "INTEGER"),
    ("code_lists_sha256", "VARCHAR"),
)


def raw_columns(source: Source) -> tuple[tuple[str, str], ...]:
    columns = [(c.raw_name, "VARCHAR") for c in source.stored_columns]
    if source is SSB_STATBANK:
        columns += STATBANK_COLUMNS
    if any(c.kind is Kind.IDENTIFIER for c in source.columns):
        columns.append(("person_key", "VARCHAR"))
    if len(source.identifier_columns) > 1:
        columns.append(("id_type", "VARCHAR"))
    if source.partitioned:
        columns.append(("cohort_year", "INTEGER"))
    return (*columns, *LINEAGE_COLUMNS)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[tuple[str, str], ...]) -> None:
    body = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in columns)
    con.execute(f"create table if not exists {table} ({body})")


# Columns added after warehouses existed: an older warehouse gets them, NULL in the rows it has.
ADDED_COLUMNS = (("quality.quarantine", "value", "VARCHAR"),)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw, quarantine and load-log tables if they do not exist yet (idempotent)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists quality")
    for source in SOURCES.values():
        _create(con, source.table, raw_columns(source))
    _create(con, "quality.quarantine", QUARANTINE_COLUMNS)
    _create(con, "quality.load_log", LOAD_LOG_COLUMNS)
    _create(con, "quality.code_list_checks", CODE_LIST_CHECK_COLUMNS)
    for table, name, sql_type in ADDED_COLUMNS:
        con.execute(f"alter table {table} add column if not exists {quote(name)} {sql_type}")
