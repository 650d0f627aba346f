"""Data quality in Dagster: the GX checkpoints as one step, and the gate that blocks on them.

``quality_checkpoints`` validates the raw tables and the marts, writes
quality.validation_results and quality.missingness, builds Data Docs and the auditors'
report, and reports one asset check per suite. It never fails on bad data, so the reports
exist precisely when they are needed most.

``critical_expectations`` is the gate: a blocking check on marts.analysis_dataset, the
table every model and publication reads. When a critical expectation failed in this run,
it fails with ERROR severity and Dagster skips everything downstream of
marts.analysis_dataset — the models, the exports and the published snapshot. Warnings are
WARN-severity suite checks and block nothing.

``quarantine_threshold`` gates the same asset on the quarantine: a delivered file with more
than IWH_QUARANTINE_THRESHOLD_PCT (default 1 %) of its rows quarantined is a systematic
problem (landing-zone.md), and it blocks as a failed critical expectation does.
"""

from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    asset_check,
    multi_asset,
)

from expectations.suites import CRITICAL, SUITES
from iwh.landing import quarantine
from iwh.warehouse import table_exists
from orchestration.ingestion.assets import raw_assets
from orchestration.resources import WarehouseResource

if TYPE_CHECKING:
    from expectations.run import QualityOutcome

VALIDATION_RESULTS_KEY = AssetKey(["quality", "validation_results"])
MISSINGNESS_KEY = AssetKey(["quality", "missingness"])
DATA_DOCS_KEY = AssetKey(["reports", "quality_data_docs"])
AUDITORS_REPORT_KEY = AssetKey(["reports", "auditors_report"])

# The quality step reads these marts; it must not depend on marts.analysis_dataset, which
# the gate below checks (a step downstream of a blocking check cannot feed that check).
VALIDATED_MART_KEYS = [
    AssetKey(["marts", "participant_exits"]),
    AssetKey(["marts", "exclusions"]),
    AssetKey(["marts", "followup_coverage"]),
]
GATED_KEY = AssetKey(["marts", "analysis_dataset"])

GROUP = "quality"


@multi_asset(
    name="quality_checkpoints",
    group_name=GROUP,
    specs=[
        AssetSpec(
            VALIDATION_RESULTS_KEY,
            description="One row per expectation × dataset × partition × run.",
            deps=[*VALIDATED_MART_KEYS, *(key for assets_def in raw_assets for key in assets_def.keys)],
        ),
        AssetSpec(
            MISSINGNESS_KEY,
            description="Report tables 15–16 and share missing per variable, small cells suppressed.",
            deps=VALIDATED_MART_KEYS,
        ),
        AssetSpec(
            DATA_DOCS_KEY,
            description="Great Expectations Data Docs under IWH_HOME/reports/quality/ (offline: no CDN assets).",
            deps=[VALIDATION_RESULTS_KEY],
        ),
        AssetSpec(
            AUDITORS_REPORT_KEY,
            description="IWH_HOME/reports/auditors_report.html.",
            deps=[VALIDATION_RESULTS_KEY, MISSINGNESS_KEY],
        ),
    ],
    check_specs=[
        AssetCheckSpec(suite.check_name, asset=VALIDATION_RESULTS_KEY, description=suite.description)
        for suite in SUITES
    ],
)
def quality_checkpoints(context: AssetExecutionContext, warehouse: WarehouseResource):
    # Great Expectations is imported here, not with the definitions (orchestration/background_imports.py).
    from expectations.run import QualityPaths, validate_warehouse

    settings = warehouse.settings()
    paths = QualityPaths.under(settings.home)
    with warehouse.connect() as con:
        outcome = validate_warehouse(
            con,
            paths,
            context.run.run_id,
            landing_dir=settings.landing_dir,
            synthetic=settings.is_synthetic_landing,
            language=settings.report_language,
        )
    _log_outcome(context, outcome)
    yield MaterializeResult(
        asset_key=VALIDATION_RESULTS_KEY,
        metadata={
            "expectation_results": len(outcome.results),
            "critical_failures": len(outcome.critical_failures),
            "warnings": len(outcome.warnings),
            "seconds": round(outcome.seconds["checkpoints"], 2),
        },
    )
    yield MaterializeResult(asset_key=MISSINGNESS_KEY, metadata={"rows": outcome.missingness_rows})
    yield MaterializeResult(asset_key=DATA_DOCS_KEY, metadata={"index": str(outcome.data_docs_index)})
    yield MaterializeResult(asset_key=AUDITORS_REPORT_KEY, metadata={"path": str(outcome.auditors_report)})
    for suite in SUITES:
        yield _suite_check(suite.name, suite.check_name, outcome)


def _suite_check(suite_name: str, check_name: str, outcome: "QualityOutcome") -> AssetCheckResult:
    results = outcome.results[outcome.results["suite"] == suite_name]
    failed = results[~results["success"]]
    critical = failed[failed["severity"] == CRITICAL]
    return AssetCheckResult(
        asset_key=VALIDATION_RESULTS_KEY,
        check_name=check_name,
        passed=failed.empty,
        severity=AssetCheckSeverity.ERROR if len(critical) else AssetCheckSeverity.WARN,
        metadata={
            "expectation_results": len(results),
            "failed_critical": len(critical),
            "failed_warning": len(failed) - len(critical),
            "failures": "\n".join(_failure_line(row) for _, row in failed.iterrows()) or "none",
        },
    )


def _failure_line(row) -> str:
    return (
        f"[{row['severity']}] {row['dataset']} {row['partition']} {row['expectation']}({row['column_name']}): "
        f"{row['observed_value']} (threshold {row['threshold']})"
    )


def _log_outcome(context: AssetExecutionContext, outcome: "QualityOutcome") -> None:
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in outcome.seconds.items())
    context.log.info(
        f"{len(outcome.results)} expectation results, {len(outcome.critical_failures)} critical failures, "
        f"{len(outcome.warnings)} warnings ({timings}). Auditors' report: {outcome.auditors_report}"
    )
    for _, row in outcome.critical_failures.iterrows():
        context.log.error(_failure_line(row))


@asset_check(
    asset=GATED_KEY,
    name="critical_expectations",
    blocking=True,
    additional_deps=[VALIDATION_RESULTS_KEY],
    description="Every critical Great Expectations result of this run passed; blocks the models and publication.",
)
def critical_expectations(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    from expectations.run import QualityPaths  # see quality_checkpoints

    settings = warehouse.settings()
    with warehouse.connect() as con:
        run_id = _results_run_id(con, context.run.run_id)
        failures = (
            con.execute(
                """
            select dataset, "partition", expectation, column_name, observed_value, threshold
            from quality.validation_results
            where run_id = ? and severity = 'critical' and not success
            order by dataset, "partition", expectation, column_name
            """,
                [run_id],
            ).fetchall()
            if run_id
            else []
        )
    report = QualityPaths.under(settings.home).auditors_report
    lines = [
        f"{dataset} {partition} {expectation}({column}): {observed} (threshold {threshold})"
        for dataset, partition, expectation, column, observed, threshold in failures
    ]
    if failures:
        context.log.error(
            f"{len(failures)} critical expectation result(s) failed; models and publication are skipped. "
            f"Where and why: {report}"
        )
    return AssetCheckResult(
        passed=run_id is not None and not failures,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "validation_run": run_id or "none",
            "critical_failures": len(failures),
            "failures": "\n".join(lines) or "none",
            "auditors_report": str(report),
        },
        description=None if run_id else "no expectation results in quality.validation_results",
    )


@asset_check(
    asset=GATED_KEY,
    name="quarantine_threshold",
    blocking=True,
    description=(
        "No delivered file has more of its rows in quality.quarantine than IWH_QUARANTINE_THRESHOLD_PCT "
        "(default 1 %): above it the problem is systematic, and the models and publication are blocked."
    ),
)
def quarantine_threshold(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    settings = warehouse.settings()
    threshold = settings.quarantine_threshold_pct
    with warehouse.connect() as con:
        over = quarantine.over_threshold(con, threshold)
    messages = [delivery.message(threshold) for delivery in over]
    for message in messages:
        context.log.error(message)
    return AssetCheckResult(
        passed=not over,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{len(over)} levering(er) har flere rader i karantene enn grensen; ingenting publiseres. "
            + " ".join(messages)
            if over
            else None
        ),
        metadata={
            "threshold_pct": threshold,
            "deliveries_over_threshold": len(over),
            "deliveries": "\n".join(messages) or "none",
        },
    )


def _results_run_id(con, run_id: str) -> str | None:
    """This run's results; a run that only re-evaluates the gate judges the latest ones."""
    if not table_exists(con, "quality.validation_results"):
        return None
    rows = con.execute(
        "select run_id from quality.validation_results order by (run_id = ?) desc, validated_at desc limit 1", [run_id]
    ).fetchall()
    return rows[0][0] if rows else None


assets = [quality_checkpoints]
checks = [critical_expectations, quarantine_threshold]
