"""quality.validation_results (appended per run) and quality.missingness (replaced per run)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import duckdb
import pandas as pd

from expectations.checkpoints import ValidationRecord

VALIDATION_RESULTS_DDL = """
create table if not exists quality.validation_results (
    run_id varchar not null,
    validated_at timestamp with time zone not null,
    suite varchar not null,
    dataset varchar not null,
    "partition" varchar not null,
    expectation varchar not null,
    column_name varchar,
    severity varchar not null,
    success boolean not null,
    observed_value varchar,
    threshold varchar,
    element_count bigint,
    unexpected_count bigint,
    unexpected_percent double,
    details varchar,
    data_docs_page varchar
)
"""


def write_validation_results(con: duckdb.DuckDBPyConnection, records: Sequence[ValidationRecord]) -> None:
    """Append this run's results; a rerun under the same run id replaces its earlier rows."""
    con.execute("create schema if not exists quality")
    con.execute(VALIDATION_RESULTS_DDL)
    frame = pd.DataFrame(
        [dataclasses.asdict(record) for record in records],
        columns=[field.name for field in dataclasses.fields(ValidationRecord)],
    )
    con.execute("begin")
    try:
        for run_id in frame["run_id"].unique():
            con.execute("delete from quality.validation_results where run_id = ?", [run_id])
        con.register("validation_frame", frame)
        con.execute("insert into quality.validation_results by name select * from validation_frame")
        con.unregister("validation_frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def write_missingness(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    con.execute("create schema if not exists quality")
    con.register("missingness_frame", frame)
    try:
        con.execute("create or replace table quality.missingness as select * from missingness_frame")
    finally:
        con.unregister("missingness_frame")


def run_results(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute(
        "select * from quality.validation_results where run_id = ? "
        "order by success, case severity when 'critical' then 0 else 1 end, suite, \"partition\", expectation, column_name",
        [run_id],
    ).df()
