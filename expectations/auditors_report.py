"""The auditors' report: one self-contained HTML page (inline CSS, no network assets).

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

import datetime as dt
import hashlib
import html
import math
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from expectations import suites as suite_definitions
from expectations.missingness import MIN_CELL
from iwh.warehouse import table_exists

QUARANTINE_ROWS_LISTED = 200
SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 78em;
       color: #1b1b1b; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 2px solid #d0d0d0; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #c8c8c8; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
#failed-expectations { width: 100%; } tr.where td { border-top: none; font-size: 0.95em; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed-critical td { background: #fde2e2; } tr.failed-warning td { background: #fff4d6; }
.status { padding: 0.6em 1em; border-radius: 4px; font-weight: bold; }
.status.blocked { background: #fde2e2; border: 1px solid #c00000; }
.status.ok { background: #e3f4e1; border: 1px solid #2e7d32; }
pre { margin: 0; white-space: pre-wrap; font-family: inherit; }
.note { color: #444; font-size: 0.9em; }
"""


def suppress_count(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    count = int(value)
    return "<5" if 0 < count < MIN_CELL else f"{count:,}".replace(",", " ")


def _exact_count(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{int(value):,}".replace(",", " ")


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str, Callable | None]],
    row_class: Callable[[dict], str] | None = None,
    table_id: str | None = None,
) -> str:
    """``columns``: (column, heading, formatter); a formatter's output is trusted HTML-safe text."""
    if frame.empty:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading, _ in columns)
    rows = []
    # Records, not iterrows: a Series per row costs more than the whole table's HTML.
    for row in frame.to_dict("records"):
        cells = []
        for column, _, formatter in columns:
            value = row[column]
            if formatter is None:
                cells.append(f"<td>{_text(value)}</td>")
            else:
                cells.append(f'<td class="num">{html.escape(formatter(value))}</td>')
        css = f' class="{row_class(row)}"' if row_class else ""
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    identifier = f' id="{table_id}"' if table_id else ""
    return f"<table{identifier}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _share(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "<5"
    return f"{value:.1%}".replace(".", ",")


def _mean(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "<5"
    return f"{value:.1f}".replace(".", ",")


def _query(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: Iterable = ()) -> pd.DataFrame:
    return con.execute(sql, list(params)).df() if table_exists(con, table) else pd.DataFrame()


def _sources(con: duckdb.DuckDBPyConnection) -> str:
    if not table_exists(con, "quality.load_log"):
        return '<p class="note">No load log in the warehouse.</p>'
    # The latest load of each file is what the warehouse holds now.
    log = con.execute(
        """
        select source, cohort_year, source_file, file_sha256, rows_delivered, rows_quarantined, loaded_at
        from quality.load_log
        qualify row_number() over (partition by source, cohort_year, source_file order by loaded_at desc) = 1
        order by source, cohort_year, source_file
        """
    ).df()
    return _table(
        log,
        [
            ("source", "Source", None),
            ("cohort_year", "Cohort", None),
            ("source_file", "File", None),
            ("file_sha256", "SHA-256", None),
            ("rows_delivered", "Rows delivered", suppress_count),
            ("rows_quarantined", "Rows quarantined", suppress_count),
            ("loaded_at", "Loaded", None),
        ],
        table_id="sources",
    )


def _funnel(con: duckdb.DuckDBPyConnection) -> str:
    frame = _query(
        con,
        "marts.exclusions",
        """
        select programme, cohort_year, step_order, step, coalesce(reason, '') as reason, sum(n_rows) as n_rows
        from marts.exclusions group by all order by programme, cohort_year, step_order, reason
        """,
    )
    if frame.empty:
        return '<p class="note">marts.exclusions is not in the warehouse.</p>'
    return _table(
        frame,
        [
            ("programme", "Programme", None),
            ("cohort_year", "Cohort", None),
            ("step", "Step", None),
            ("reason", "Reason", None),
            ("n_rows", "Rows", suppress_count),
        ],
        table_id="exclusions",
    )


def _coding_choices(con: duckdb.DuckDBPyConnection) -> str:
    variant = _query(
        con, "marts.participant_exits", "select distinct outcome_variant from marts.participant_exits order by 1"
    )
    variants = ", ".join(str(value) for value in variant.get("outcome_variant", [])) or "unknown"
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
    return (
        f"<p>Outcome coding of NIR end reasons (dbt var <code>outcome_variant</code>): "
        f"<strong>{html.escape(variants)}</strong>. <code>report_text</code> codes wage-subsidised work as "
        "achieved, as the report's text says; <code>table8_literal</code> reproduces its table 8 as printed.</p>"
        "<p>Code lists (dbt seeds) in force, with the hash of each file:</p>"
        + _table(
            seeds,
            [("seed", "Seed", None), ("sha256", "SHA-256", None), ("rows", "Rows", _exact_count)],
            table_id="seeds",
        )
    )


def _thresholds() -> str:
    rows = []
    for programme, limits in suite_definitions.PROGRAMME_COMPLETENESS.items():
        for variable, limit in limits.items():
            rows.append(
                {
                    "scope": f"{programme}, cohort year",
                    "variable": variable,
                    "warning": f"> {limit.warn_above:.0%} missing",
                    "critical": f"> {limit.fail_above:.0%} missing",
                }
            )
    for variable, limit in suite_definitions.MUNICIPALITY_COMPLETENESS.items():
        rows.append(
            {
                "scope": f"intro, municipality-year with ≥ {suite_definitions.MUNICIPALITY_MIN_EXITS} exits",
                "variable": variable,
                "warning": f"> {limit.warn_above:.0%} missing",
                "critical": f"> {limit.fail_above:.0%} missing",
            }
        )
    low, high = suite_definitions.VOLUME_WARN_OUTSIDE
    rows.append(
        {
            "scope": "each person-level source, cohort year",
            "variable": "rows delivered",
            "warning": f"outside {low:.0%}–{high:.0%} of the previous year",
            "critical": f"below {suite_definitions.VOLUME_FAIL_BELOW:.0%} of the previous year",
        }
    )
    frame = pd.DataFrame(rows)
    return _table(
        frame,
        [
            ("scope", "Scope", None),
            ("variable", "Variable", None),
            ("warning", "Warning when", None),
            ("critical", "Critical (blocks) when", None),
        ],
        table_id="thresholds",
    )


def _results(results: pd.DataFrame) -> str:
    if results.empty:
        return '<p class="note">No expectation results for this run.</p>'

    def row_class(row: dict) -> str:
        return "" if row["success"] else f"failed-{row['severity']}"

    frame = results.copy()
    failed = frame[~frame["success"]]
    parts = ["<h3>Failed expectations</h3>"]
    if failed.empty:
        parts.append("<p>Every expectation passed.</p>")
    else:
        body = []
        for _, row in failed.iterrows():
            css = f"failed-{html.escape(row['severity'])}"
            page = (
                f'<a href="quality/{html.escape(urllib.parse.quote(row["data_docs_page"]))}">Data Docs</a>'
                if isinstance(row["data_docs_page"], str)
                else ""
            )
            check = (
                f"{_text(row['column_name'])} must "
                f"{_text(row['expectation'].removeprefix('expect_column_values_to_').replace('_', ' '))}: "
                f"{_text(row['threshold'])}"
            )
            body.append(
                f'<tr class="{css}"><td>{_text(row["severity"])}</td>'
                f"<td>{_text(row['suite'])}<br>{_text(row['dataset'])} · {_text(row['partition'])}</td>"
                f"<td>{check}</td><td>{_text(row['observed_value'])}</td><td>{page}</td></tr>"
            )
            if isinstance(row["details"], str):
                body.append(
                    f'<tr class="{css} where"><td></td><td colspan="4"><pre>{_text(row["details"])}</pre></td></tr>'
                )
        parts.append(
            '<table id="failed-expectations"><thead><tr><th>Severity</th><th>Suite · dataset · partition</th>'
            "<th>Expectation</th><th>Observed</th><th>Docs</th></tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>"
        )
    summary = (
        frame.groupby(["suite", "dataset", "severity"], sort=True)
        .agg(expectations=("success", "size"), failed=("success", lambda s: int((~s).sum())))
        .reset_index()
    )
    parts.append("<h3>All suites</h3>")
    parts.append(
        _table(
            summary,
            [
                ("suite", "Suite", None),
                ("dataset", "Dataset", None),
                ("severity", "Severity", None),
                ("expectations", "Expectations × partitions", _exact_count),
                ("failed", "Failed", _exact_count),
            ],
            table_id="suite-summary",
        )
    )
    return "".join(parts)


def _missingness(con: duckdb.DuckDBPyConnection) -> str:
    if not table_exists(con, "quality.missingness"):
        return '<p class="note">quality.missingness is not in the warehouse.</p>'
    frame = con.execute("select * from quality.missingness").df()
    parts = ["<h3>Table 15 — share with missing spor or Norwegian level, by characteristic</h3>"]
    table_15 = frame[(frame["report_table"] == "15") & frame["cohort_year"].isna()].sort_values(
        ["characteristic", "programme", "category"]
    )
    parts.append(
        _table(
            table_15,
            [
                ("characteristic", "Characteristic", None),
                ("programme", "Programme", None),
                ("category", "Category", None),
                ("n_persons", "Persons", suppress_count),
                ("value", "Share missing", _share),
            ],
            table_id="missingness-table-15",
        )
    )
    parts.append("<h3>Table 16 — means with and without missing values</h3>")
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
    parts.append(
        _table(
            table_16,
            [
                ("category", "Programme", None),
                ("variable", "Variable", None),
                ("mean_without_missing", "Mean without missing", _mean),
                ("mean_with_missing", "Mean with missing", _mean),
            ],
            table_id="missingness-table-16",
        )
    )
    parts.append("<h3>Goal achievement with and without missing values</h3>")
    goal = (
        frame[frame["report_table"] == "goal_achievement"]
        .pivot_table(index=["category"], columns="statistic", values="value", aggfunc="first", dropna=False)
        .reset_index()
    )
    for column in ("share_achieved_without_missing", "share_achieved_with_missing"):
        if column not in goal:
            goal[column] = float("nan")
    parts.append(
        _table(
            goal,
            [
                ("category", "Programme", None),
                ("share_achieved_without_missing", "Achieved, without missing", _share),
                ("share_achieved_with_missing", "Achieved, with missing", _share),
            ],
            table_id="missingness-goal",
        )
    )
    parts.append("<h3>Share missing per variable, programme and cohort year</h3>")
    by_variable = frame[frame["report_table"] == "by_variable"].copy()
    by_variable["cohort"] = by_variable["cohort_year"].map(lambda year: "all" if pd.isna(year) else str(int(year)))
    wide = by_variable.pivot_table(
        index=["category", "variable"], columns="cohort", values="value", aggfunc="first", dropna=False
    ).reset_index()
    cohorts = [column for column in wide.columns if column not in ("category", "variable")]
    parts.append(
        _table(
            wide,
            [
                ("category", "Programme", None),
                ("variable", "Variable", None),
                *((cohort, cohort, _share) for cohort in cohorts),
            ],
            table_id="missingness-by-variable",
        )
    )
    return "".join(parts)


def _quarantine(con: duckdb.DuckDBPyConnection) -> str:
    if not table_exists(con, "quality.quarantine"):
        return '<p class="note">quality.quarantine is not in the warehouse.</p>'
    summary = con.execute(
        "select source, cohort_year, reason, count(*) as n_rows from quality.quarantine group by all order by all"
    ).df()
    listing = con.execute(
        f"""
        select source_file, row_number, column_name, reason, detail from quality.quarantine
        order by source_file, row_number, column_name limit {QUARANTINE_ROWS_LISTED}
        """
    ).df()
    total = con.execute("select count(*) from quality.quarantine").fetchall()[0][0]
    more = (
        f'<p class="note">The first {QUARANTINE_ROWS_LISTED} of {total} entries; the rest are in '
        "quality.quarantine.</p>"
        if total > QUARANTINE_ROWS_LISTED
        else ""
    )
    return (
        _table(
            summary,
            [
                ("source", "Source", None),
                ("cohort_year", "Cohort", None),
                ("reason", "Reason", None),
                ("n_rows", "Rows", suppress_count),
            ],
            table_id="quarantine-summary",
        )
        + "<h3>Quarantined rows</h3>"
        + _table(
            listing,
            [
                ("source_file", "File", None),
                ("row_number", "Row", None),
                ("column_name", "Column", None),
                ("reason", "Reason", None),
                ("detail", "Detail", None),
            ],
            table_id="quarantine-rows",
        )
        + more
    )


def render(
    con: duckdb.DuckDBPyConnection, run_id: str, results: pd.DataFrame, landing_dir: Path | None, synthetic: bool
) -> str:
    failed_critical = (
        results[(~results["success"]) & (results["severity"] == suite_definitions.CRITICAL)]
        if not results.empty
        else results
    )
    failed_warning = (
        results[(~results["success"]) & (results["severity"] == suite_definitions.WARNING)]
        if not results.empty
        else results
    )
    if len(failed_critical):
        status = (
            f'<p class="status blocked" id="status">Blocked: {len(failed_critical)} critical '
            f"expectation result(s) failed; models and publication do not run on this data. "
            f"{len(failed_warning)} warning(s).</p>"
        )
    else:
        status = (
            f'<p class="status ok" id="status">Every critical expectation passed. {len(failed_warning)} warning(s).</p>'
        )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sample = '<p class="note">Synthetic sample: pseudonymised with the public demo key.</p>' if synthetic else ""
    sections = [
        ("sources", "1. Sources and file hashes per partition", _sources(con)),
        ("funnel", "2. Rows from delivery to model", _funnel(con)),
        ("coding", "3. Active coding choices", _coding_choices(con)),
        ("expectations", "4. Expectation results", _results(results)),
        ("thresholds", "5. Thresholds", _thresholds()),
        ("missingness", "6. Missing values (report tables 15–16)", _missingness(con)),
        ("quarantine", "7. Quarantine", _quarantine(con)),
    ]
    body = "".join(
        f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{content}</section>'
        for anchor, title, content in sections
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Auditors' report — integration warehouse</title>
<style>{CSS}</style></head>
<body>
<h1>Auditors' report — integration warehouse</h1>
<p>Run <code>{html.escape(run_id)}</code>, generated {generated}. Landing zone:
<code>{html.escape(str(landing_dir) if landing_dir else "unknown")}</code>.
Great Expectations Data Docs: <a href="quality/index.html">quality/index.html</a>.</p>
{sample}{status}
<p class="note">Counts and statistics of fewer than {MIN_CELL} persons are shown as &lt;5. Row locations
name a file row, never a person; no person key or national identity number appears in this report.</p>
{body}
</body></html>
"""


def write(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    run_id: str,
    results: pd.DataFrame,
    landing_dir: Path | None,
    synthetic: bool,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(render(con, run_id, results, landing_dir, synthetic), encoding="utf-8")
    temporary.replace(path)
    return path
