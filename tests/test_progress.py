"""The operator's progress lines: one per step start and end, failures with their root cause."""

from __future__ import annotations

from dagster import Definitions, asset, define_asset_job, in_process_executor

from orchestration.progress import progress_logger
from orchestration.runner import RUN_CONFIG


@asset
def first_step():
    return 1


@asset
def warning_step(context):
    context.log.warning("pseudonymising with the demo key")
    context.log.warning("cohort 2019: 3 rows quarantined")


@asset
def same_warning_step(context, warning_step):
    context.log.warning("pseudonymising with the demo key")


@asset
def failing_step(first_step):
    raise ValueError("column Kjonn: value outside K/M in row 7")


def _run_with_progress_lines(*assets):
    """Run the assets as `iwh run` runs a job, with its console logger; the Dagster result."""
    defs = Definitions(
        assets=list(assets),
        jobs=[define_asset_job("progress_job", selection="*")],
        loggers={"console": progress_logger},
        executor=in_process_executor,
    )
    return defs.resolve_job_def("progress_job").execute_in_process(run_config=RUN_CONFIG, raise_on_error=False)


def test_progress_lines_name_each_step_and_the_root_cause(capsys):
    assert not _run_with_progress_lines(first_step, failing_step).success
    printed = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in printed[:4]] == [
        "  ▶ first_step",
        "  ✓ first_step",
        "  ▶ failing_step",
        "  ✗ failing_step",
    ]
    assert "      ValueError: column Kjonn: value outside K/M in row 7" in printed


def test_a_warning_given_by_several_steps_is_printed_once(capsys):
    assert _run_with_progress_lines(warning_step, same_warning_step).success
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  ! ")]
    assert warnings == [
        "  ! warning_step: pseudonymising with the demo key",
        "  ! warning_step: cohort 2019: 3 rows quarantined",
    ]
