"""The quarantine read back for people: what was rejected and what to do about it, and which
deliveries have so many rejected rows that the problem is systematic (landing-zone.md, "Bad input").

Plain functions returning rows, so the auditors' report, the command line and the blocking
check in orchestration/ say the same thing. What a data manager reads is Norwegian.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from iwh.landing.contract import SOURCES, Kind
from iwh.landing.prepare import unknown_label_advice
from iwh.warehouse import table_exists

QUARANTINE = "quality.quarantine"
COMMONEST_REASONS_SHOWN = 3

ADVICE: dict[str, str] = {
    "invalid_identifier": (
        "Be dataeieren rette fødselsnummeret (11 siffer med gyldige kontrollsiffer) eller DUF-nummeret "
        "(12 siffer) og levere filen på nytt."
    ),
    "invalid_date": "Be dataeieren rette datoen (dd.mm.åååå eller åååå-mm-dd) og levere filen på nytt.",
    "date_outside_cohort": (
        "Raden hører til en annen årgang: be dataeieren flytte den til filen for riktig år eller rette sluttdatoen."
    ),
    "code_outside_list": (
        "Koden er ikke i kodelisten i leveransekontrakten (landing-zone.md): be dataeieren rette verdien og "
        "levere filen på nytt."
    ),
    "unknown_municipality": (
        "Kommunen er ikke gyldig i KLASS 131 for årgangen: be dataeieren bruke kommunen slik den het det året "
        "(se kommunereformen 2020), eller lever en oppdatert ssb/klass_131_kommuner.csv."
    ),
    "duplicate_person": (
        "Samme person står flere ganger i samme fil, og ingen av radene brukes: be dataeieren avklare hvilken "
        "rad som gjelder og levere filen på nytt."
    ),
    "invalid_number": (
        "Be dataeieren rette tallet (desimalkomma eller -punktum, uten tusenskille) og levere filen på nytt."
    ),
}

# Each label column's seed, by delivered column name (a name means the same thing in every source).
LABEL_SEEDS: dict[str, str] = {
    column.name: column.code_list.seed
    for source in SOURCES.values()
    for column in source.columns
    if column.kind is Kind.LABEL and column.code_list is not None
}


@dataclass(frozen=True)
class QuarantineGroup:
    """Quarantine entries of one reason in one column of one source."""

    source: str
    reason: str
    column: str
    n: int
    example_value: str | None  # the commonest offending value; None where it would be an identifier
    advice: str


def advice(reason: str, column: str) -> str:
    if reason == "unknown_label" and column in LABEL_SEEDS:
        return unknown_label_advice(LABEL_SEEDS[column]) + ", og kjør `iwh run` på nytt."
    return ADVICE.get(reason, "Se quality.quarantine for radene.")


def summary(con: duckdb.DuckDBPyConnection) -> list[QuarantineGroup]:
    """The quarantine grouped by source, reason and column, commonest first."""
    if not table_exists(con, QUARANTINE):
        return []
    rows = con.execute(
        f"""
        with values_counted as (
            select source, reason, column_name, value, count(*) as n
            from {QUARANTINE} group by all
        )
        select source, reason, column_name, sum(n)::bigint as n,
               arg_min(value, (value is null, -n, value)) as example_value
        from values_counted
        group by all
        order by n desc, source, reason, column_name
        """
    ).fetchall()
    return [
        QuarantineGroup(source, reason, column, n, example, advice(reason, column))
        for source, reason, column, n, example in rows
    ]


@dataclass(frozen=True)
class DeliveryQuarantine:
    """One delivered file, its rows and its quarantined rows."""

    source: str
    cohort_year: int | None
    source_file: str
    rows_delivered: int
    rows_quarantined: int
    commonest: tuple[tuple[str, str, int], ...]  # (reason, column, entries), commonest first

    @property
    def share_pct(self) -> float:
        return 100 * self.rows_quarantined / self.rows_delivered if self.rows_delivered else 0.0

    def message(self, threshold_pct: float) -> str:
        year = f", årgang {self.cohort_year}" if self.cohort_year is not None else ""
        reasons = ", ".join(f"{reason} i {column} ({n})" for reason, column, n in self.commonest)
        return (
            f"{self.source_file} ({self.source}{year}): {self.rows_quarantined} av {self.rows_delivered} rader "
            f"i karantene ({_percent(self.share_pct)} > grensen {_percent(threshold_pct)}). "
            f"Vanligste årsaker: {reasons}."
        )


def _percent(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


def deliveries(con: duckdb.DuckDBPyConnection) -> list[DeliveryQuarantine]:
    """Every loaded file with its delivered and quarantined row counts (from the tables as they are)."""
    if not table_exists(con, QUARANTINE):
        return []
    loaded = [
        f"select '{source.name}' as source, {'cohort_year' if source.partitioned else 'null::integer'} as cohort_year, "
        f"_source_file as source_file, _file_sha256 as file_sha256, count(*) as rows_delivered "
        f"from {source.table} group by all"
        for source in SOURCES.values()
        if table_exists(con, source.table)
    ]
    if not loaded:
        return []
    rows = con.execute(
        f"""
        with loaded as ({" union all ".join(loaded)}),
        quarantined as (
            select source, file_sha256, count(distinct row_number) as rows_quarantined
            from {QUARANTINE} group by all
        ),
        reasons as (
            select source, file_sha256,
                   list([reason, column_name, n::varchar] order by n desc, reason, column_name) as commonest
            from (select source, file_sha256, reason, column_name, count(*) as n from {QUARANTINE} group by all)
            group by all
        )
        select l.source, l.cohort_year, l.source_file, l.rows_delivered, coalesce(q.rows_quarantined, 0),
               coalesce(r.commonest, [])
        from loaded l
        left join quarantined q using (source, file_sha256)
        left join reasons r using (source, file_sha256)
        order by l.source, l.cohort_year, l.source_file
        """
    ).fetchall()
    return [
        DeliveryQuarantine(
            source,
            year,
            source_file,
            delivered,
            quarantined,
            tuple((reason, column, int(n)) for reason, column, n in commonest[:COMMONEST_REASONS_SHOWN]),
        )
        for source, year, source_file, delivered, quarantined, commonest in rows
    ]


def over_threshold(con: duckdb.DuckDBPyConnection, threshold_pct: float) -> list[DeliveryQuarantine]:
    """Deliveries whose quarantined rows are more than threshold_pct percent of their rows."""
    return [d for d in deliveries(con) if d.share_pct > threshold_pct]
