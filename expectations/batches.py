"""The frames Great Expectations validates, read from the warehouse per partition.

Heavy work (joins to the code lists, per-municipality shares, year-on-year counts) happens
in DuckDB, so GX's pandas path only sees the columns a suite checks: at scale 100 a cohort
is ~750 000 exits, which pandas validates in well under a second per expectation.
Person keys leave DuckDB only for the uniqueness suites, whose results keep counts only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations.sql import accepted_rows, label_key
from iwh.warehouse import table_exists


@dataclass(frozen=True)
class Batch:
    partition: str
    frame: pd.DataFrame
    parameters: dict = field(default_factory=dict)


def cohort_years(con: duckdb.DuckDBPyConnection, table: str) -> list[int]:
    if not table_exists(con, table):
        return []
    return [year for (year,) in con.execute(f"select distinct cohort_year from {table} order by 1").fetchall()]


def _accepted(con: duckdb.DuckDBPyConnection, alias: str = "r") -> str:
    return accepted_rows(alias) if table_exists(con, "quality.quarantine") else "true"


def _code_list(con: duckdb.DuckDBPyConnection, seed: str, column: str) -> list[str]:
    rows = con.execute(f"select distinct cast({column} as varchar) from seeds.{seed} order by 1").fetchall()
    return [value for (value,) in rows]


def _canonical(table: str, column: str, seed: str, seed_column: str, alias: str) -> tuple[str, str]:
    """A join that replaces a delivered label by the seed's spelling when they match as labels,
    so GX compares against the seed's spellings and still reports an unknown label as delivered.
    Labels are normalised once per distinct delivered label, not once per row."""
    join = f"""
        left join (
            select delivered.label as delivered, known.label
            from (select distinct {column} as label from {table}) delivered
            join (select distinct cast({seed_column} as varchar) as label from seeds.{seed}) known
              on {label_key("known.label")} = {label_key("delivered.label")}
        ) {alias} on {alias}.delivered = r.{column}"""
    return join, f"coalesce({alias}.label, r.{column})"


def _frame(con: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence = ()) -> pd.DataFrame:
    """A query result as pandas, the way GX's pandas path is fast with it: text as categories
    (a cohort repeats a handful of file names and labels hundreds of thousands of times) and
    integers with gaps as float64, which GX compares vectorised (nullable Int64 it compares
    value by value in Python)."""
    table = con.sql(sql, params=list(parameters)).to_arrow_table()
    columns = [
        pc.dictionary_encode(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names).to_pandas()


def raw_persons(table: str):
    def build(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
        for year in cohort_years(con, table):
            frame = con.execute(f"select person_key from {table} where cohort_year = ?", [year]).df()
            yield Batch(str(year), frame)

    return build


def nir_deltakere(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    table = "raw.nir_deltakere"
    end_join, end_label = _canonical(table, "avslutningsaarsak", "nir_avslutningsaarsaker", "avslutningsaarsak", "e")
    land_join, land_label = _canonical(table, "statsborgerskapforste", "land_regioner", "landnavn", "l")
    parameters = {
        "nir_avslutningsaarsaker": _code_list(con, "nir_avslutningsaarsaker", "avslutningsaarsak"),
        "land_regioner": _code_list(con, "land_regioner", "landnavn"),
    }
    accepted = _accepted(con)
    for year in cohort_years(con, table):
        frame = _frame(
            con,
            f"""
            select r._source_file as source_file, r._row_number as source_row,
                   year(try_cast(r.avsluttetdato as date)) as avsluttet_aar,
                   {end_label} as avslutningsaarsak,
                   {land_label} as statsborgerskapforste
            from {table} r {end_join} {land_join}
            where r.cohort_year = ? and {accepted}
            """,
            [year],
        )
        yield Batch(str(year), frame, {**parameters, "cohort_year": year})


def nir_tiltak(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    table = "raw.nir_tiltak"
    join, label = _canonical(table, "tiltak", "nir_tiltak", "tiltak", "t")
    parameters = {"nir_tiltak": _code_list(con, "nir_tiltak", "tiltak")}
    accepted = _accepted(con)
    for year in cohort_years(con, table):
        frame = _frame(
            con,
            f"""
            select r._source_file as source_file, r._row_number as source_row, {label} as tiltak
            from {table} r {join}
            where r.cohort_year = ? and {accepted}
            """,
            [year],
        )
        yield Batch(str(year), frame, parameters)


def jobbsjansen_leavers(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    table = "raw.jobbsjansen_individrapportering"
    land_join, land_label = _canonical(table, "v2_5", "land_regioner", "landnavn", "l")
    parameters = {
        "jobbsjansen_avslutningsaarsaker": _code_list(con, "jobbsjansen_avslutningsaarsaker", "v4_1"),
        "land_regioner": _code_list(con, "land_regioner", "landnavn"),
    }
    accepted = _accepted(con)
    for year in cohort_years(con, table):
        frame = _frame(
            con,
            f"""
            select r._source_file as source_file, r._row_number as source_row,
                   r.v4_1, r.v1_8, {land_label} as v2_5
            from {table} r {land_join}
            where r.cohort_year = ? and trim(r.v1_7) = '2' and {accepted}
            """,
            [year],
        )
        yield Batch(str(year), frame, parameters)


PARTICIPANT_EXIT_COLUMNS = (
    "source_file",
    "source_row",
    "kommunenummer",
    "kjonn_mann",
    "alder",
    "botid",
    "varighet_mnd",
    "fravaer_andel",
    "fravaer_hoy",
    "spor",
    "norsk_score",
    "norsk_tier",
    "region",
    "maloppnaelse",
    "maloppnaelse_3",
    "tiltak_norskopplaering",
    "tiltak_samfunnskunnskap",
    "tiltak_sprakpraksis",
    "tiltak_yrkesrettet_kurs",
    "tiltak_ordinaert_arbeid",
    "tiltak_arbeidspraksis_skjermet",
    "tiltak_arbeidspraksis_ordinaer",
    "tiltak_amo_kurs",
    "tiltak_sosialt_nettverk",
    "tiltak_helsefremmende",
    "tiltak_barn_familie",
    "tiltak_kultur_fritid",
    "tiltak_realkompetanse",
    "tiltak_grunnskolefag",
    "tiltak_fag_vgo",
)


def participant_exits(programme: str, columns: Sequence[str] = PARTICIPANT_EXIT_COLUMNS):
    def build(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
        table = "marts.participant_exits"
        if not table_exists(con, table):
            return
        years = con.execute(
            f"select distinct cohort_year from {table} where programme = ? order by 1", [programme]
        ).fetchall()
        for (year,) in years:
            frame = _frame(
                con,
                f"select {', '.join(columns)} from {table} where programme = ? and cohort_year = ?",
                [programme, year],
            )
            yield Batch(f"{year} {programme}", frame)

    return build


def municipality_completeness(min_exits: int):
    def build(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
        table = "marts.participant_exits"
        if not table_exists(con, table):
            return
        years = con.execute(f"select distinct cohort_year from {table} where programme = 'intro' order by 1").fetchall()
        for (year,) in years:
            frame = con.execute(
                f"""
                select kommunenummer, min(kommunenavn) as kommunenavn, count(*) as exits,
                       avg(case when spor is null then 1.0 else 0.0 end) as spor_missing_share,
                       avg(case when norsk_score is null then 1.0 else 0.0 end) as norsk_score_missing_share
                from {table}
                where programme = 'intro' and cohort_year = ?
                group by kommunenummer
                having count(*) >= ?
                order by kommunenummer
                """,
                [year, min_exits],
            ).df()
            yield Batch(f"{year} intro", frame)

    return build


FOLLOWUP_TABLE = "raw.register_status_ett_aar_etter"


def register_status(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    """Accepted rows of each cohort's follow-up delivery, typed (a cell that is not a number
    becomes NULL here and fails its check)."""
    accepted = _accepted(con)
    for year in cohort_years(con, FOLLOWUP_TABLE):
        frame = _frame(
            con,
            f"""
            select r._source_file as source_file, r._row_number as source_row,
                   try_cast(r.status_november as integer) as status_november,
                   try_cast(r.yrkesinntekt_kr as bigint) as yrkesinntekt_kr,
                   try_cast(r.sosialhjelp as integer) as sosialhjelp
            from {FOLLOWUP_TABLE} r
            where r.cohort_year = ? and {accepted}
            """,
            [year],
        )
        yield Batch(str(year), frame)


def followup_linkage(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    """Per delivered cohort: the share of the exits identified by a fødselsnummer that the
    follow-up linked, beside the pooled share of the cohorts delivered before it."""
    table = "marts.followup_coverage"
    if not table_exists(con, table):
        return
    frame = con.execute(
        f"""
        with cohorts as (
            select cohort_year, sum(n_identified_by_fnr) as identified, sum(n_linked) as linked
            from {table} where delivered group by cohort_year
        )
        select cohort_year, identified, linked, linked / nullif(identified, 0) as linkage_rate,
               sum(linked) over earlier / nullif(sum(identified) over earlier, 0) as earlier_linkage_rate,
               (linked / nullif(identified, 0))
                   / nullif(sum(linked) over earlier / nullif(sum(identified) over earlier, 0), 0)
                   as ratio_to_earlier_cohorts
        from cohorts
        window earlier as (order by cohort_year rows between unbounded preceding and 1 preceding)
        order by cohort_year
        """
    ).df()
    for year, rows in frame.groupby("cohort_year", sort=True):
        yield Batch(str(year), rows.reset_index(drop=True))


VOLUME_SOURCES = ("raw.nir_deltakere", "raw.nir_tiltak", "raw.jobbsjansen_individrapportering")


def volume(con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    counts = [
        f"select '{table}' as source, cohort_year, count(*) as rows_delivered from {table} group by cohort_year"
        for table in VOLUME_SOURCES
        if table_exists(con, table)
    ]
    if not counts:
        return
    frame = con.execute(
        f"""
        with delivered as ({" union all ".join(counts)})
        select d.source, d.cohort_year, d.rows_delivered, p.rows_delivered as rows_previous_year,
               d.rows_delivered / p.rows_delivered as ratio_to_previous_year
        from delivered d
        left join delivered p on p.source = d.source and p.cohort_year = d.cohort_year - 1
        order by d.cohort_year, d.source
        """
    ).df()
    for year, rows in frame.groupby("cohort_year", sort=True):
        yield Batch(str(year), rows.drop(columns="cohort_year").reset_index(drop=True))
