"""What a run shows: one line per step, warnings once, failures with their own cause, read from the
event log of a real Dagster run."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterInstance,
    Definitions,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
)

from orchestration.progress import Display, RunWatcher, progress_note, report_root_cause, run_log
from orchestration.runner import RunOutcome


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


@asset
def counting_step(context):
    for done in range(1, 4):
        context.log.info(progress_note(done, 3, "models fitted"))


@asset_check(asset=first_step, blocking=True)
def first_step_is_two():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata={"failures": "1 is not 2"})


@asset(deps=[first_step])
def after_check():
    return 2


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        yield instance


def _watch(instance, *assets, checks=()):
    """Run the assets as `iwh run` runs a job, watched; the printed lines and what was recorded."""
    defs = Definitions(
        assets=list(assets),
        asset_checks=list(checks),
        jobs=[define_asset_job("progress_job", selection="*", hooks={report_root_cause})],
        executor=in_process_executor,
    )
    stream = io.StringIO()
    run_id = str(uuid.uuid4())
    with RunWatcher(instance, run_id, Display(stream)) as watcher:
        defs.resolve_job_def("progress_job").execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    return stream.getvalue().splitlines(), watcher.record


def test_one_line_per_step_and_the_failed_steps_own_error(instance):
    lines, record = _watch(instance, first_step, failing_step)
    assert lines == ["  ▶ first_step", "  ▶ failing_step"]
    assert record.failed_steps == {"failing_step"}
    assert record.failures == [("failing_step", "ValueError: column Kjonn: value outside K/M in row 7")]

    outcome = RunOutcome()
    outcome.add(record)
    assert outcome.failures == ["failing_step: ValueError: column Kjonn: value outside K/M in row 7"]
    assert set(outcome.seconds_by_stage) == {"publication"}  # neither step is a stage of the warehouse


def test_a_warning_given_by_several_steps_is_printed_once(instance):
    lines, _ = _watch(instance, warning_step, same_warning_step)
    assert [line for line in lines if line.startswith("  ! ")] == [
        "  ! pseudonymising with the demo key",
        "  ! cohort 2019: 3 rows quarantined",
    ]


def test_a_failed_blocking_check_is_reported_by_its_name_and_detail_not_by_dagsters_error(instance):
    lines, record = _watch(instance, first_step, after_check, checks=[first_step_is_two])
    assert "  ! check first_step_is_two on first_step failed (blocking)" in lines
    assert "  ▶ after_check" not in lines

    outcome = RunOutcome()
    outcome.add(record)
    assert outcome.failures == ["check first_step_is_two on first_step: 1 is not 2"]


def test_progress_notes_are_read_and_plain_output_has_no_control_characters(instance):
    lines, record = _watch(instance, counting_step)
    assert lines == ["  ▶ counting_step"]
    assert not any("\x1b" in line or "\r" in line for line in lines)
    assert record.failures == []


def test_the_run_log_takes_printed_and_logged_output_and_verbose_streams_it_too(tmp_path):
    terminal = io.StringIO()
    with run_log(tmp_path / "quiet", echo=terminal) as quiet:
        print("1 of 2 START sql table model staging.stg_nir__deltakere")
        logging.getLogger("great_expectations").warning("a GX warning")
    with run_log(tmp_path / "verbose", verbose=True, echo=terminal) as verbose:
        print("2 of 2 START sql table model marts.analysis_dataset")

    assert quiet.parent == tmp_path / "quiet"
    assert "1 of 2 START sql table model staging.stg_nir__deltakere" in quiet.read_text()
    assert "WARNING great_expectations: a GX warning" in quiet.read_text()
    assert "2 of 2 START sql table model marts.analysis_dataset" in verbose.read_text()
    assert terminal.getvalue() == "2 of 2 START sql table model marts.analysis_dataset\n"
