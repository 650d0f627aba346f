"""The auditors' report: one self-contained HTML page (inline CSS, no network assets), in the
report language (``iwh.reporting``: bokmål by default).

It answers what an auditor asks of result information (Riksrevisjonen's criteria: is it
reliable, and can it be traced): which files, with which hashes, fed each cohort; how
many rows survived each step from delivery to model and why the others did not; which
coding choices were active; which expectations failed, where in which file; how much is
missing and whether the missing differ; what was quarantined.

Counts and statistics describing persons follow small-cell suppression: 1–4 persons show
as ``<5``. Defect locations (file, row, column, delivered label) are listed so a data
owner can correct the delivery; they identify a row of a file, never a person.
"""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd

from expectations import suites as suite_definitions
from expectations.missingness import MIN_CELL
from iwh.landing import quarantine
from iwh.reporting import N_, SUPPRESSED, Column, Language, RunFacts, table
from iwh.reporting import render as render_page
from iwh.warehouse import table_exists

QUARANTINE_ROWS_LISTED = 200
SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
TEMPLATES = Path(__file__).with_name("templates")
SEVERITIES = {suite_definitions.CRITICAL: N_("critical"), suite_definitions.WARNING: N_("warning")}
# What each kind of expectation demands, completing "<column> must …".
EXPECTATION_TEXTS = {
    "expect_column_values_to_be_between": N_("must be between"),
    "expect_column_values_to_be_in_set": N_("must be in the set"),
    "expect_column_values_to_be_unique": N_("must be unique"),
    "expect_column_values_to_match_regex": N_("must match the pattern"),
    "expect_column_values_to_not_be_null": N_("must not be missing"),
}
PROGRAMMES = {"jobbsjansen": "Jobbsjansen", "intro": "Introduksjonsprogrammet", "all": N_("Both programmes")}


def _query(con: duckdb.DuckDBPyConnection, table_name: str, sql: str, params: Iterable = ()) -> pd.DataFrame:
    return con.execute(sql, list(params)).df() if table_exists(con, table_name) else pd.DataFrame()


def _distinct(con: duckdb.DuckDBPyConnection, table_name: str, column: str) -> list[str]:
    """The values of ``column`` in the built marts: what this data was coded with."""
    if not table_exists(con, table_name):
        return []
    schema, name = table_name.split(".")
    present = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?",
        [schema, name, column],
    ).fetchone()[0]
    if not present:
        return []
    return [str(value) for (value,) in con.execute(f"select distinct {column} from {table_name} order by 1").fetchall()]


def _sources(con: duckdb.DuckDBPyConnection, lang: Language):
    if not table_exists(con, "quality.load_log"):
        return table(lang, pd.DataFrame(), [], table_id="sources", empty=lang._("No load log in the warehouse."))
    # The latest load of each file is what the warehouse holds now.
    log = con.execute(
        """
        select source, cohort_year, source_file, file_sha256, rows_delivered, rows_quarantined,
            strftime(loaded_at, '%Y-%m-%d %H:%M:%S') as loaded_at
        from quality.load_log
        qualify row_number() over (partition by source, cohort_year, source_file order by loaded_at desc) = 1
        order by source, cohort_year, source_file
        """
    ).df()
    return table(
        lang,
        log,
        [
            Column("source", lang._("Source")),
            Column("cohort_year", lang._("Cohort"), "year"),
            Column("source_file", lang._("File")),
            Column("file_sha256", "SHA-256"),
            Column("rows_delivered", lang._("Rows delivered"), "count"),
            Column("rows_quarantined", lang._("Rows quarantined"), "count"),
            Column("loaded_at", lang._("Loaded")),
        ],
        table_id="sources",
    )


def _funnel(con: duckdb.DuckDBPyConnection, lang: Language):
    frame = _query(
        con,
        "marts.exclusions",
        """
        select outcome, programme, cohort_year, step_order, step, coalesce(reason, '') as reason,
            sum(n_rows) as n_rows
        from marts.exclusions group by all
        order by outcome desc, programme, cohort_year, step_order, reason
        """,
    )
    return table(
        lang,
        frame,
        [
            Column("outcome", lang._("Outcome")),
            Column("programme", lang._("Programme")),
            Column("cohort_year", lang._("Cohort"), "year"),
            Column("step", lang._("Step")),
            Column("reason", lang._("Reason")),
            Column("n_rows", lang._("Rows"), "count"),
        ],
        table_id="exclusions",
        empty=lang._("marts.exclusions is not in the warehouse."),
    )


def _followup(con: duckdb.DuckDBPyConnection, lang: Language):
    """Each follow-up delivery's coverage (linked / all exits) and linkage rate (linked / exits
    identified by a fødselsnummer, the only ones the registers can look up)."""
    frame = _query(
        con,
        "marts.followup_coverage",
        """
        select cohort_year, programme, coalesce(source_file, '') as source_file, n_exits, n_identified_by_fnr,
            n_linked, n_with_outcome, coverage_pct, linkage_rate_pct
        from marts.followup_coverage order by cohort_year, programme
        """,
    )
    if not frame.empty:
        frame["programme"] = frame["programme"].map(lambda value: PROGRAMMES.get(value, value))
        frame["source_file"] = frame["source_file"].replace("", lang._("not delivered yet"))
    return table(
        lang,
        frame,
        [
            Column("cohort_year", lang._("Cohort"), "year"),
            Column("programme", lang._("Programme")),
            Column("source_file", lang._("Follow-up file")),
            Column("n_exits", lang._("Exits"), "count"),
            Column("n_identified_by_fnr", lang._("Identified by fødselsnummer"), "count"),
            Column("n_linked", lang._("Linked"), "count"),
            Column("n_with_outcome", lang._("With a known status"), "count"),
            Column("coverage_pct", lang._("Coverage"), "percent_of_100", 1),
            Column("linkage_rate_pct", lang._("Linkage rate"), "percent_of_100", 1),
        ],
        table_id="followup-coverage",
        empty=lang._("marts.followup_coverage is not in the warehouse."),
    )


def _seeds(lang: Language):
    seeds = pd.DataFrame(
        [
            {
                "seed": path.stem,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "rows": sum(1 for _ in path.open(encoding="utf-8")) - 1,
            }
            for path in sorted(SEEDS_DIR.glob("*.csv"))
        ]
    )
    return table(
        lang,
        seeds,
        [Column("seed", lang._("Seed")), Column("sha256", "SHA-256"), Column("rows", lang._("Rows"), "integer")],
        table_id="seeds",
    )


def _thresholds(lang: Language):
    def missing_above(share: float) -> str:
        return lang._("> %(share)s missing", share=lang.percent(share))

    rows = []
    for programme, limits in suite_definitions.PROGRAMME_COMPLETENESS.items():
        for variable, limit in limits.items():
            rows.append(
                {
                    "scope": lang._("%(programme)s, cohort year", programme=programme),
                    "variable": variable,
                    "warning": missing_above(limit.warn_above),
                    "critical": missing_above(limit.fail_above),
                }
            )
    for variable, limit in suite_definitions.MUNICIPALITY_COMPLETENESS.items():
        rows.append(
            {
                "scope": lang._(
                    "intro, municipality-year with ≥ %(exits)s exits", exits=suite_definitions.MUNICIPALITY_MIN_EXITS
                ),
                "variable": variable,
                "warning": missing_above(limit.warn_above),
                "critical": missing_above(limit.fail_above),
            }
        )
    low, high = suite_definitions.VOLUME_WARN_OUTSIDE
    rows.append(
        {
            "scope": lang._("each person-level source, cohort year"),
            "variable": lang._("rows delivered"),
            "warning": lang._(
                "outside %(low)s–%(high)s of the previous year", low=lang.percent(low), high=lang.percent(high)
            ),
            "critical": lang._(
                "below %(share)s of the previous year", share=lang.percent(suite_definitions.VOLUME_FAIL_BELOW)
            ),
        }
    )
    return table(
        lang,
        pd.DataFrame(rows),
        [
            Column("scope", lang._("Scope")),
            Column("variable", lang._("Variable")),
            Column("warning", lang._("Warning when")),
            Column("critical", lang._("Critical (blocks) when")),
        ],
        table_id="thresholds",
    )


def _failed(results: pd.DataFrame, lang: Language):
    failed = results[~results["success"]] if not results.empty else results
    rows = [
        {
            "severity": lang._(SEVERITIES.get(row["severity"], row["severity"])),
            "css": f"failed-{row['severity']}",
            "where": f"{row['suite']} · {row['dataset']} · {row['partition']}",
            "check": " ".join(
                part
                for part in (
                    str(row["column_name"] or ""),
                    lang._(EXPECTATION_TEXTS[row["expectation"]])
                    if row["expectation"] in EXPECTATION_TEXTS
                    else row["expectation"],
                )
                if part
            )
            + (f": {row['threshold']}" if isinstance(row["threshold"], str) else ""),
            "observed": row["observed_value"],
            "docs": lang._("Data Docs") if isinstance(row["data_docs_page"], str) else "",
            "href": f"quality/{urllib.parse.quote(row['data_docs_page'])}"
            if isinstance(row["data_docs_page"], str)
            else None,
            "details": row["details"],
        }
        for row in failed.to_dict("records")
    ]
    return table(
        lang,
        pd.DataFrame(rows, columns=["severity", "css", "where", "check", "observed", "docs", "href", "details"]),
        [
            Column("severity", lang._("Severity")),
            Column("where", lang._("Suite · dataset · partition")),
            Column("check", lang._("Expectation")),
            Column("observed", lang._("Observed")),
            Column("docs", lang._("Docs"), href="href"),
        ],
        table_id="failed-expectations",
        row_class=lambda row: row["css"],
        detail="details",
        empty=lang._("Every expectation passed."),
    )


def _suite_summary(results: pd.DataFrame, lang: Language):
    summary = (
        results.groupby(["suite", "dataset", "severity"], sort=True)
        .agg(expectations=("success", "size"), failed=("success", lambda s: int((~s).sum())))
        .reset_index()
        .assign(severity=lambda t: t["severity"].map(lambda value: lang._(SEVERITIES.get(value, value))))
        if not results.empty
        else pd.DataFrame()
    )
    return table(
        lang,
        summary,
        [
            Column("suite", lang._("Suite")),
            Column("dataset", lang._("Dataset")),
            Column("severity", lang._("Severity")),
            Column("expectations", lang._("Expectations × partitions"), "integer"),
            Column("failed", lang._("Failed"), "integer"),
        ],
        table_id="suite-summary",
        empty=lang._("No expectation results for this run."),
    )


def _missingness(con: duckdb.DuckDBPyConnection, lang: Language) -> dict:
    if not table_exists(con, "quality.missingness"):
        return {}
    frame = con.execute("select * from quality.missingness").df()
    programme = {key: lang._(value) if key == "all" else value for key, value in PROGRAMMES.items()}
    table_15 = frame[(frame["report_table"] == "15") & frame["cohort_year"].isna()].sort_values(
        ["characteristic", "programme", "category"]
    )
    table_16 = (
        frame[frame["report_table"] == "16"]
        .pivot_table(
            index=["programme", "category", "variable"],
            columns="statistic",
            values="value",
            aggfunc="first",
            dropna=False,
        )
        .reset_index()
    )
    for column in ("mean_without_missing", "mean_with_missing"):
        if column not in table_16:
            table_16[column] = float("nan")
    goal = (
        frame[frame["report_table"] == "goal_achievement"]
        .pivot_table(index=["category"], columns="statistic", values="value", aggfunc="first", dropna=False)
        .reset_index()
    )
    for column in ("share_achieved_without_missing", "share_achieved_with_missing"):
        if column not in goal:
            goal[column] = float("nan")
    by_variable = frame[frame["report_table"] == "by_variable"].copy()
    by_variable["cohort"] = by_variable["cohort_year"].map(
        lambda year: lang._("all") if pd.isna(year) else str(int(year))
    )
    # A statistic of fewer than 5 persons is stored as missing: it reads "<5".
    wide = by_variable.pivot_table(
        index=["category", "variable"], columns="cohort", values="value", aggfunc="first", dropna=False
    ).reset_index()
    cohorts = [column for column in wide.columns if column not in ("category", "variable")]
    return {
        "table_15": table(
            lang,
            table_15.assign(programme=lambda t: t["programme"].map(lambda value: programme.get(value, value))),
            [
                Column("characteristic", lang._("Characteristic")),
                Column("programme", lang._("Programme")),
                Column("category", lang._("Category")),
                Column("n_persons", lang._("Persons"), "count"),
                Column("value", lang._("Share missing"), "percent", 1),
            ],
            table_id="missingness-table-15",
            suppressed="suppressed",
        ),
        "table_16": table(
            lang,
            table_16,
            [
                Column("category", lang._("Programme")),
                Column("variable", lang._("Variable")),
                Column("mean_without_missing", lang._("Mean without missing"), "decimal", 1, missing=SUPPRESSED),
                Column("mean_with_missing", lang._("Mean with missing"), "decimal", 1, missing=SUPPRESSED),
            ],
            table_id="missingness-table-16",
        ),
        "goal": table(
            lang,
            goal,
            [
                Column("category", lang._("Programme")),
                Column(
                    "share_achieved_without_missing",
                    lang._("Achieved, without missing"),
                    "percent",
                    1,
                    missing=SUPPRESSED,
                ),
                Column(
                    "share_achieved_with_missing", lang._("Achieved, with missing"), "percent", 1, missing=SUPPRESSED
                ),
            ],
            table_id="missingness-goal",
        ),
        "by_variable": table(
            lang,
            wide,
            [
                Column("category", lang._("Programme")),
                Column("variable", lang._("Variable")),
                *(Column(cohort, cohort, "percent", 1, missing=SUPPRESSED) for cohort in cohorts),
            ],
            table_id="missingness-by-variable",
        ),
    }


def _quarantine(con: duckdb.DuckDBPyConnection, lang: Language) -> dict:
    if not table_exists(con, "quality.quarantine"):
        return {}
    summary = pd.DataFrame([dataclasses.asdict(group) for group in quarantine.summary(con)])
    listing = con.execute(
        f"""
        select source_file, row_number, column_name, reason, detail from quality.quarantine
        order by source_file, row_number, column_name limit {QUARANTINE_ROWS_LISTED}
        """
    ).df()
    total = con.execute("select count(*) from quality.quarantine").fetchall()[0][0]
    return {
        "summary": table(
            lang,
            summary,
            [
                Column("source", lang._("Source")),
                Column("reason", lang._("Reason")),
                Column("column", lang._("Column")),
                Column("n", lang._("Rows"), "count"),
                Column("example_value", lang._("Example value")),
                Column("advice", lang._("What to do")),
            ],
            table_id="quarantine-summary",
        ),
        "rows": table(
            lang,
            listing,
            [
                Column("source_file", lang._("File")),
                Column("row_number", lang._("Row"), "ungrouped"),
                Column("column_name", lang._("Column")),
                Column("reason", lang._("Reason")),
                Column("detail", lang._("Detail")),
            ],
            table_id="quarantine-rows",
        ),
        "listed": min(total, QUARANTINE_ROWS_LISTED),
        "total": total,
    }


def render(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    results: pd.DataFrame,
    landing_dir: Path | None,
    synthetic: bool,
    language: str = "nb",
) -> str:
    lang = Language(language)
    failed = results[~results["success"]] if not results.empty else results
    variants = _distinct(con, "marts.participant_exits", "outcome_variant")
    scopes = _distinct(con, "marts.analysis_dataset", "js_scope")
    run = RunFacts.now(
        run_id,
        ", ".join(variants) or lang._("unknown"),
        ", ".join(scopes) or None,
        synthetic,
    )
    return render_page(
        TEMPLATES,
        "auditors_report.html",
        lang,
        title=lang._("Auditors' report — integration warehouse"),
        run=run,
        landing_dir=str(landing_dir) if landing_dir else lang._("unknown"),
        critical=int((failed["severity"] == suite_definitions.CRITICAL).sum()) if len(failed) else 0,
        warnings=int((failed["severity"] == suite_definitions.WARNING).sum()) if len(failed) else 0,
        min_cell=MIN_CELL,
        sources=_sources(con, lang),
        funnel=_funnel(con, lang),
        followup=_followup(con, lang),
        seeds=_seeds(lang),
        failed=_failed(results, lang),
        suite_summary=_suite_summary(results, lang),
        thresholds=_thresholds(lang),
        missingness=_missingness(con, lang),
        quarantine=_quarantine(con, lang),
    )


def write(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    run_id: str,
    results: pd.DataFrame,
    landing_dir: Path | None,
    synthetic: bool,
    language: str = "nb",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(render(con, run_id, results, landing_dir, synthetic, language), encoding="utf-8")
    temporary.replace(path)
    return path
