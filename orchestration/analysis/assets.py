"""The analysis area in Dagster: fit the models on marts.analysis_dataset, write analysis.*, build the report.

``analysis_models`` is one step for every analysis.* table: the models are fitted once and every
table comes from the same fit. It depends on the mart, whose blocking ``critical_expectations``
check skips it when a critical expectation failed, and on quality.validation_results so the
checkpoints run first. ``analysis_report`` reads back what was written — the published tables,
never person-level rows — and quality.missingness for its charts.
"""

import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, asset, multi_asset
from threadpoolctl import threadpool_limits

from analysis.specification import COMPLETE_CASE_FLAGS, MODEL_INPUT_COLUMNS, MODEL_NAMES, OUTCOME, SECOND_OUTCOME
from iwh.warehouse import read_frame, table_exists
from orchestration.analysis.resources import ReportWorkersResource
from orchestration.progress import progress_note
from orchestration.quality.assets import GATED_KEY, MISSINGNESS_KEY, VALIDATION_RESULTS_KEY
from orchestration.resources import WarehouseResource

GROUP = "analysis"
SCHEMA = "analysis"
ANALYSIS_DATASET = "marts.analysis_dataset"
PROJECT_YEAR = "marts.project_year"
REPORT_KEY = AssetKey(["reports", "analysis_report"])
REPORT_SUBDIR = "analysis"
UNIT_PAGES_KEY = AssetKey(["reports", "unit_pages"])
UNIT_PAGES_SUBDIR = "enheter"

TABLE_DESCRIPTIONS = {
    "model_coefficients": "Every model's terms: estimate, SE, z, p, odds ratio and 95 % interval.",
    "model_fit": "Per model: n, units, log likelihood, AIC, pseudo R², σ²ᵤ, ICC, convergence.",
    "vif": "Variance inflation per term (GVIF for multi-column terms).",
    "lr_tests": "Likelihood-ratio tests of blocks of variables and of the random intercept.",
    "archetype_predictions": "M1's predicted probability for the report's archetypes.",
    "predicted_vs_actual": "Mean predicted and actual goal achievement by programme within subgroups (figures 22–28).",
    "random_effects": "Empirical-Bayes intercept of every M2/M3 unit with its standard error.",
    "model_standardisation": "Means and SDs used to standardise M2/M3 variables.",
    "contribution_indicators": "Contribution indicators per project and municipality, pooled and per year, "
    "with 90 % intervals, classification, quadrant and shrunken value; units under 5 participants suppressed.",
    "contribution_percentiles": "Percentiles of contribution and actual result by programme (report table 6).",
    "contribution_summary": "Shares above / in line / below expectation and per quadrant; variance components.",
    "contribution_stability": "Year-to-year correlation of the units' contributions.",
    "descriptives": "The report's descriptive chapter: table 1, figures 2–19 and tables 3–4 per programme, cohort "
    "year and pooled; cells of 1–4 persons (and cells that would reveal them) suppressed.",
    "outcome_transitions": "Outcome at exit × status one year after (work or education, not, emigrated or dead), "
    "by programme, cohort year and municipality: counts and shares, cells under 5 persons suppressed.",
}
TABLE_KEYS = {name: AssetKey([SCHEMA, name]) for name in TABLE_DESCRIPTIONS}


def outcome_variant_of(dataset: pd.DataFrame) -> str:
    return single_value(dataset, "outcome_variant")


def read_model_input(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The columns of the analysis dataset that the models, the descriptive chapter and the outcome
    transitions read, in a fixed row order: floating-point sums depend on it, and two runs over the
    same marts must give bit-identical estimates whatever physical order the warehouse stored."""
    from analysis.descriptives import INPUT_COLUMNS

    columns = list(dict.fromkeys([*MODEL_INPUT_COLUMNS, *INPUT_COLUMNS, "js_scope"]))
    return read_frame(
        con, f"select {', '.join(columns)} from {ANALYSIS_DATASET} order by programme, cohort_year, person_key"
    )


def read_project_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.project_year's columns of the descriptive chapter's table 4."""
    from analysis.descriptives import PROJECT_YEAR_COLUMNS

    return con.execute(f"select {', '.join(PROJECT_YEAR_COLUMNS)} from {PROJECT_YEAR}").df()


def single_value(dataset: pd.DataFrame, column: str) -> str:
    values = sorted(dataset[column].dropna().unique())
    if len(values) != 1:
        raise ValueError(f"{ANALYSIS_DATASET} must hold one {column}, found {values}")
    return str(values[0])


def write_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]) -> None:
    """Replace the analysis.* tables in one transaction, rows in the order given."""
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {SCHEMA}")
        for name, frame in tables.items():
            con.register("analysis_table_frame", frame)
            con.execute(f"create or replace table {SCHEMA}.{name} as select * from analysis_table_frame")
            con.unregister("analysis_table_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


@multi_asset(
    name="analysis_models",
    group_name=GROUP,
    specs=[
        AssetSpec(key, description=TABLE_DESCRIPTIONS[name], deps=[GATED_KEY, VALIDATION_RESULTS_KEY])
        for name, key in TABLE_KEYS.items()
    ],
)
def analysis_models(context: AssetExecutionContext, warehouse: WarehouseResource):
    """M1, M2, M3 (and their women-only versions) and the contribution indicators of each outcome, the
    descriptive chapter and the outcome transitions, as analysis.*."""
    # Imported here, not with the definitions (orchestration/background_imports.py).
    from analysis import contribution, descriptives, models, transitions

    with warehouse.connect(read_only=True) as con:
        dataset = read_model_input(con)
        project_year = read_project_year(con)
    outcome_variant = outcome_variant_of(dataset)
    js_scope = single_value(dataset, "js_scope")
    # The second outcome is modelled on the cohorts whose follow-up has arrived; before any has,
    # it has no complete case and no model.
    outcomes = [name for name, flag in COMPLETE_CASE_FLAGS.items() if name == OUTCOME or dataset[flag].any()]
    run_id = context.run.run_id
    fitted_names: list[str] = []

    def fitted_one(name: str) -> None:
        fitted_names.append(name)
        context.log.info(progress_note(len(fitted_names), len(MODEL_NAMES) * len(outcomes), "models fitted"))

    def outcome_tables(outcome: str, pool: ThreadPoolExecutor) -> dict[str, pd.DataFrame]:
        # A function of its own so that one outcome's fitted models are freed before the next is fitted.
        started = time.perf_counter()
        fitted = models.fit_models(dataset, outcome_variant, fitted_one=fitted_one, outcome=outcome, pool=pool)
        if fitted.m1 is None:
            raise ValueError(
                f"M1 of {outcome} is not estimable, so there are no contribution indicators: "
                f"{fitted.not_estimable['m1']}"
            )
        indicators = pool.submit(contribution.contribution_tables, fitted.m1, run_id, outcome_variant, outcome)
        tables = models.tables(fitted, run_id, outcome_variant, outcome=outcome, pool=pool)
        tables["model_fit"]["js_scope"] = js_scope
        tables.update(indicators.result().as_dict())
        context.log.info(
            f"{outcome}: models and indicators in {time.perf_counter() - started:.1f} s"
            + (f"; not estimable: {', '.join(sorted(fitted.not_estimable))}" if fitted.not_estimable else "")
        )
        return tables

    # One BLAS thread per model, and the models fitted side by side in threads, one per core: their
    # matrices (tens of columns) gain little from a second BLAS thread, and on a busy machine OpenBLAS
    # threads waiting for each other made this step two to three times slower.
    # The descriptive chapter and the transitions come last, when the fitted models have been freed:
    # beside them, their copies of the dataset's rows raised the step's peak memory.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        per_outcome = [outcome_tables(outcome, pool) for outcome in outcomes]
        descriptive = pool.submit(
            descriptives.descriptives_table, dataset, project_year, run_id, outcome_variant, js_scope
        )
        transition = pool.submit(transitions.outcome_transitions, dataset, run_id, outcome_variant)
        tables = {name: pd.concat([t[name] for t in per_outcome], ignore_index=True) for name in per_outcome[0]}
        tables["descriptives"] = descriptive.result()
        tables["outcome_transitions"] = transition.result()
    with warehouse.connect() as con:
        write_tables(con, tables)
    for name, key in TABLE_KEYS.items():
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "rows": len(tables[name]),
                "outcome_variant": outcome_variant,
                "js_scope": js_scope,
                "outcomes": ", ".join(outcomes),
            },
        )


def _read_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The tables of the outcome at exit, which the report's chapters up to the missing values
    describe, and for the chapter on the status one year after exit the outcome transitions and the
    coefficients of the second outcome (``followup_coefficients``)."""
    tables = {
        name: con.execute(f"select * from {SCHEMA}.{name} where outcome = ?", [OUTCOME]).df()
        for name in TABLE_KEYS
        if name != "outcome_transitions"
    }
    tables["outcome_transitions"] = con.execute(f"select * from {SCHEMA}.outcome_transitions").df()
    tables["followup_coefficients"] = con.execute(
        f"select * from {SCHEMA}.model_coefficients where outcome = ?", [SECOND_OUTCOME]
    ).df()
    return tables


def replace_directory(built: Path, target: Path) -> None:
    """Swap a freshly built directory in place of ``target``; a reader sees the old or the new report."""
    previous = target.with_name(target.name + ".previous")
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        target.rename(previous)
    built.rename(target)
    if previous.exists():
        shutil.rmtree(previous)


@asset(
    key=REPORT_KEY,
    group_name=GROUP,
    deps=[*TABLE_KEYS.values(), MISSINGNESS_KEY],
    description="IWH_HOME/reports/analysis/index.html with the figures as PNG and SVG, in the report's order: "
    "descriptive chapter (table 1, figures 2–19, tables 3–4), M1 (figure 20), contribution indicators (figure 21), "
    "predicted vs actual (figures 22–28), M2/M3 (figures 24–25), missing values, and the annex beside the "
    "published figures.",
)
def analysis_report(
    context: AssetExecutionContext, warehouse: WarehouseResource, report_workers: ReportWorkersResource
) -> MaterializeResult:
    from analysis import annex, report  # see analysis_models

    settings = warehouse.settings()
    with warehouse.connect(read_only=True) as con:
        tables = _read_tables(con)
        missingness = (
            con.execute("select * from quality.missingness").df() if table_exists(con, "quality.missingness") else None
        )
    indicators = tables["contribution_indicators"]
    target = settings.reports_dir / REPORT_SUBDIR
    target.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=".analysis-", dir=target.parent))
    built.chmod(0o755)  # mkdtemp's 0700 would hide the report from the analysts' group
    try:
        written = report.write_report(
            built,
            tables,
            missingness,
            run_id=str(indicators["run_id"].iloc[0]),
            outcome_variant=str(indicators["outcome_variant"].iloc[0]),
            js_scope=str(tables["model_fit"]["js_scope"].iloc[0]),
            synthetic=settings.is_synthetic_landing,
            language=settings.report_language,
            annex=annex.annex_rows(tables, settings.report_language),
            figure_pool=report_workers.pool(),
        )
        replace_directory(built, target)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    figures = sorted(path.name for path in written if path.suffix == ".png")
    context.log.info(f"analysis report with {len(figures)} figures written to {target / 'index.html'}")
    return MaterializeResult(
        metadata={"path": MetadataValue.path(str(target / "index.html")), "figures": ", ".join(figures)}
    )


@asset(
    key=UNIT_PAGES_KEY,
    group_name=GROUP,
    deps=[TABLE_KEYS["contribution_indicators"]],
    description="IWH_HOME/reports/enheter/: a page per municipality and project with at least 5 participants "
    "(contribution per year and pooled, expected against actual, its place among all units, its participants "
    "beside the national mix, status one year after exit) and an index; views of the analysis tables.",
)
def unit_pages(
    context: AssetExecutionContext, warehouse: WarehouseResource, report_workers: ReportWorkersResource
) -> MaterializeResult:
    from analysis.unit_pages import write_unit_pages  # see analysis_models
    from iwh.reporting import Language, RunFacts

    settings = warehouse.settings()
    target = settings.reports_dir / UNIT_PAGES_SUBDIR
    target.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=".enheter-", dir=target.parent))
    built.chmod(0o755)  # as the analysis report's
    try:
        with warehouse.connect(read_only=True) as con:
            run_id, outcome_variant = con.execute(
                "select any_value(run_id), any_value(outcome_variant) from analysis.contribution_indicators"
            ).fetchone()
            scopes = con.execute("select distinct js_scope from marts.analysis_dataset order by 1").fetchall()
            run = RunFacts.now(
                run_id,
                outcome_variant,
                ", ".join(str(scope) for (scope,) in scopes) or None,
                settings.is_synthetic_landing,
            )
            pages = write_unit_pages(con, built, Language(settings.report_language), run, pool=report_workers.pool())
        replace_directory(built, target)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    context.log.info(f"{len(pages.units)} unit pages written to {target}")
    return MaterializeResult(
        metadata={"path": MetadataValue.path(str(target / "index.html")), "units": len(pages.units)}
    )


assets = [analysis_models, analysis_report, unit_pages]
