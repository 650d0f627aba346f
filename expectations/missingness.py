"""quality.missingness: report tables 15–16 and the share missing per variable, every run.

"Missing values" means what report 13/2022 means: spor (the education proxy) or the
Norwegian level is missing. Tables 15, 16 and the goal-achievement comparison describe
the report's analysis population, the exits with a determinable outcome (end reasons that
are excluded, such as death or moving, are left out); the per-variable shares describe all
exits, so the outcome's own missing share shows too.

Small cells are suppressed as published aggregates must be: a share is withheld when its
group has fewer than 5 persons or when 1–4 persons are counted on either side of it (the
missing or the complete ones), a mean when it averages fewer than 5 persons. Withheld cells
keep ``suppressed = true`` and NULL numbers; reports print them as ``<5``.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

MIN_CELL = 5
EXITS = "marts.participant_exits"
MISSING = "(spor is null or norsk_score is null)"
MODEL_POPULATION = "maloppnaelse is not null"
VARIABLES = (
    "kjonn_mann",
    "alder",
    "botid",
    "varighet_mnd",
    "kommunenummer",
    "region",
    "spor",
    "norsk_score",
    "fravaer_hoy",
    "maloppnaelse",
)
CHARACTERISTICS = {
    "programme": "case programme when 'jobbsjansen' then 'Jobbsjansen' else 'Introduksjonsprogrammet' end",
    "kjonn": "case kjonn_mann when 1 then 'Mann' when 0 then 'Kvinne' else 'Ukjent' end",
    "fravaer": "case fravaer_hoy when 1 then 'Høyt fravær' when 0 then 'Lavt fravær' else 'Ukjent' end",
    "region": "coalesce(region, 'Ukjent')",
}
MEANS = ("alder", "botid", "varighet_mnd")
COLUMNS = [
    "report_table",
    "programme",
    "cohort_year",
    "characteristic",
    "category",
    "variable",
    "statistic",
    "n_persons",
    "n_numerator",
    "value",
    "suppressed",
]


def _share_rows(
    report_table: str,
    variable: str,
    statistic: str,
    numerator: str,
    characteristic: str,
    category: str,
    programme: str,
    cohort_year: str,
    where: str,
) -> str:
    return f"""
        select '{report_table}' as report_table, {programme} as programme, {cohort_year} as cohort_year,
               '{characteristic}' as characteristic, {category} as category, '{variable}' as variable,
               '{statistic}' as statistic, count(*) as n_persons, count(*) filter (where {numerator}) as n_numerator
        from {EXITS}
        where {where}
        group by all
        """


def _shares(con: duckdb.DuckDBPyConnection, queries: list[str]) -> pd.DataFrame:
    """The share queries' rows in one result, each query's sorted and in the queries' order:
    one query of thirty parts costs a fraction of thirty queries and frames."""
    parts = " union all ".join(f"select {part} as part, * from ({query})" for part, query in enumerate(queries))
    return con.execute(f"{parts} order by all").df().drop(columns="part")


def _table_15() -> list[str]:
    common = dict(report_table="15", variable="spor_or_norsk_score", statistic="share_missing", numerator=MISSING)
    frames = [
        _share_rows(
            characteristic=name,
            category=expression,
            programme="'all'",
            cohort_year="null::integer",
            where=MODEL_POPULATION,
            **common,
        )
        for name, expression in CHARACTERISTICS.items()
    ]
    frames.append(
        _share_rows(
            characteristic="programme",
            category=CHARACTERISTICS["programme"],
            programme="programme",
            cohort_year="cohort_year",
            where=MODEL_POPULATION,
            **common,
        )
    )
    frames.append(
        _share_rows(
            characteristic="kommune",
            category="kommunenummer || ' ' || coalesce(kommunenavn, '')",
            programme="programme",
            cohort_year="null::integer",
            where=MODEL_POPULATION,
            **common,
        )
    )
    return frames


def _by_variable() -> list[str]:
    frames = []
    for variable in VARIABLES:
        for cohort_year in ("cohort_year", "null::integer"):
            frames.append(
                _share_rows(
                    report_table="by_variable",
                    variable=variable,
                    statistic="share_missing",
                    numerator=f"{variable} is null",
                    characteristic="programme",
                    category=CHARACTERISTICS["programme"],
                    programme="programme",
                    cohort_year=cohort_year,
                    where="true",
                )
            )
    return frames


def _goal_achievement() -> list[str]:
    frames = []
    for programme in ("programme", "'all'"):
        for statistic, condition in (
            ("share_achieved_without_missing", f"not {MISSING}"),
            ("share_achieved_with_missing", MISSING),
        ):
            frames.append(
                _share_rows(
                    report_table="goal_achievement",
                    variable="maloppnaelse",
                    statistic=statistic,
                    numerator="maloppnaelse = 1",
                    characteristic="programme",
                    category=CHARACTERISTICS["programme"] if programme == "programme" else "'Alle'",
                    programme=programme,
                    cohort_year="null::integer",
                    where=f"{MODEL_POPULATION} and {condition}",
                )
            )
    return frames


def _table_16(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    selects = []
    for variable in MEANS:
        for statistic, condition in (("mean_without_missing", f"not {MISSING}"), ("mean_with_missing", MISSING)):
            for programme, category in (("programme", CHARACTERISTICS["programme"]), ("'all'", "'Alle'")):
                selects.append(
                    f"""
                    select '16' as report_table, {programme} as programme, null::integer as cohort_year,
                           'programme' as characteristic, {category} as category, '{variable}' as variable,
                           '{statistic}' as statistic, count({variable}) as n_persons,
                           null::bigint as n_numerator, avg({variable}) as value
                    from {EXITS} where {MODEL_POPULATION} and {condition} group by all
                    """
                )
    return con.execute(" union all ".join(selects) + " order by all").df()


def _suppress_shares(frame: pd.DataFrame) -> pd.DataFrame:
    complement = frame["n_persons"] - frame["n_numerator"]
    small = (
        (frame["n_persons"] < MIN_CELL)
        | frame["n_numerator"].between(1, MIN_CELL - 1)
        | complement.between(1, MIN_CELL - 1)
    )
    frame["value"] = (frame["n_numerator"] / frame["n_persons"]).where(~small)
    frame["suppressed"] = small
    frame["n_numerator"] = frame["n_numerator"].astype("Int64").where(~small)
    frame["n_persons"] = frame["n_persons"].astype("Int64").where(frame["n_persons"] >= MIN_CELL)
    return frame


def _suppress_means(frame: pd.DataFrame) -> pd.DataFrame:
    small = frame["n_persons"] < MIN_CELL
    frame["value"] = frame["value"].where(~small)
    frame["suppressed"] = small
    frame["n_persons"] = frame["n_persons"].astype("Int64").where(~small)
    frame["n_numerator"] = frame["n_numerator"].astype("Int64")
    return frame


def compute(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    shares = _shares(con, [*_table_15(), *_by_variable(), *_goal_achievement()])
    frame = pd.concat([_suppress_shares(shares), _suppress_means(_table_16(con))], ignore_index=True)[COLUMNS]
    frame["cohort_year"] = frame["cohort_year"].astype("Int64")
    frame.insert(0, "computed_at", dt.datetime.now(dt.UTC))
    frame.insert(0, "run_id", run_id)
    return frame
