"""`iwh run`: ingest changed cohort partitions, then build, check, model, report and publish.

Runs go through a persistent Dagster instance under IWH_HOME/dagster, so `dg dev`
shows them in its run history next to sensor- and schedule-launched runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, Definitions, JobDefinition

from iwh.landing import changed_partitions, discover
from iwh.settings import Settings, SettingsError
from iwh.warehouse import connect, writer_lock
from orchestration.instance import prepare_instance
from orchestration.progress import CheckResult, Display, RunRecord, RunWatcher, run_log
from orchestration.transformation.project import prepare_dbt, prepare_manifest

PARTITIONS_NAME = "cohort_year"


@dataclass
class RunOutcome:
    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # What failed, each a step or check and where (file, row, column), for a person to act on.
    failures: list[str] = field(default_factory=list)
    published: bool = False
    seconds_by_stage: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    run_log: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.published

    def add(self, record: RunRecord) -> None:
        for stage, seconds in record.seconds_by_stage.items():
            self.seconds_by_stage[stage] = self.seconds_by_stage.get(stage, 0.0) + seconds
        self.checks.extend(record.checks)
        blocked = {check.name for check in record.checks if not check.passed and check.blocking}
        for check in record.checks:
            if not check.passed and check.blocking:
                self.failures.append(f"check {check.name} on {check.asset}: {check.detail or 'failed'}")
        for step, message in record.failures:
            # A blocking check fails its step too; the check's own line says more than Dagster's error.
            if not any(step.endswith(name) for name in blocked):
                self.failures.append(f"{step}: {message}")
        if record.failed_steps and not self.failures:
            self.failures.append(f"{', '.join(sorted(record.failed_steps))} failed (see the run log)")


def _execute(
    job: JobDefinition, instance: DagsterInstance, display: Display, stage: str | None = None, **kwargs
) -> tuple[bool, RunRecord]:
    run_id = str(uuid.uuid4())
    with RunWatcher(instance, run_id, display, stage=stage) as watcher:
        result = job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False, **kwargs)
    return result.success, watcher.record


def _ingest(
    settings: Settings,
    defs: Definitions,
    instance: DagsterInstance,
    years: Sequence[int] | None,
    display: Display,
    outcome: RunOutcome,
) -> str:
    """Ingest every stale cohort partition, a Dagster run per cohort year; the runs' group tag."""
    inventory = discover(settings.landing_dir)
    cohort_years = sorted(inventory.cohort_years())
    if years:
        unknown = sorted(set(years) - set(cohort_years))
        if unknown:
            raise SettingsError(f"no deliveries for cohort year(s) {unknown} in {settings.landing_dir}")
        cohort_years = sorted(set(years))
    if not cohort_years:
        raise SettingsError(f"no cohort files found in {settings.landing_dir} (see the landing-zone contract)")

    known = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    new_keys = [str(y) for y in cohort_years if str(y) not in known]
    if new_keys:
        instance.add_dynamic_partitions(PARTITIONS_NAME, new_keys)

    with writer_lock(settings):
        if settings.warehouse_path.exists():
            con = connect(settings, read_only=True)
            try:
                stale = changed_partitions(con, inventory)
            finally:
                con.close()
        else:
            stale = [(source, year) for source, year in inventory.partitions()]
    stale_years = sorted({year for _, year in stale if year in cohort_years})

    outcome.unchanged = [str(y) for y in cohort_years if y not in stale_years]
    run_group = uuid.uuid4().hex[:12]
    ingest_job = defs.resolve_job_def("ingest_cohort_job")
    for year in stale_years:
        display.line(f"  ▶ ingesting cohort {year}")
        success, record = _execute(
            ingest_job,
            instance,
            display,
            stage="ingestion",
            partition_key=str(year),
            tags={"iwh/run_group": run_group},
        )
        outcome.add(record)
        if success:
            outcome.ingested.append(str(year))
    return run_group


def run_pipeline(
    settings: Settings,
    years: Sequence[int] | None = None,
    display: Display | None = None,
    verbose: bool = False,
) -> RunOutcome:
    """Ingest, build and publish; everything but ``display``'s lines goes to a run log under
    IWH_HOME/logs (with ``verbose`` to the terminal too)."""
    settings.require_landing()
    # The runs' resources are configured from the environment (orchestration/definitions.py).
    os.environ["IWH_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["IWH_HOME"] = str(settings.home)
    _, is_demo_key = settings.resolve_pseudonym_key()
    display = display or Display()
    outcome = RunOutcome()
    if is_demo_key:
        display.line("warning: synthetic sample: pseudonymising with the public demo key (never use it for real data)")

    with display, run_log(settings.logs_dir, verbose=verbose, echo=display.console.file) as log_path:
        outcome.run_log = log_path
        # First: its imports take the second core while this thread loads the definitions and ingests.
        dbt_ready = prepare_dbt(settings)
        # The definitions are made from the dbt manifest: parsed now if the project changed since.
        prepare_manifest(settings)
        from orchestration.definitions import defs

        instance = prepare_instance(settings)
        run_group = _ingest(settings, defs, instance, years, display, outcome)
        # The build's dbt writes the same target as the parse: it starts once the parse is over.
        dbt_ready.join()
        if not outcome.failures:
            _build(defs, instance, display, outcome, run_group)
    if outcome.failures:
        _show_failure(settings, outcome, display)
    return outcome


def _build(defs: Definitions, instance: DagsterInstance, display: Display, outcome: RunOutcome, run_group: str) -> None:
    display.line("building the warehouse (reference data, dbt, expectations, models, reports, publication)")
    success, record = _execute(
        defs.resolve_job_def("build_warehouse_job"), instance, display, tags={"iwh/run_group": run_group}
    )
    outcome.add(record)
    outcome.published = success
    if not success and not outcome.failures:
        outcome.failures.append("the build failed (see the run log)")


def _show_failure(settings: Settings, outcome: RunOutcome, display: Display) -> None:
    """The failed run's summary: what failed and where, and that the analysts' warehouse is as it was."""
    display.line("iwh run failed:")
    for message in outcome.failures:
        display.line(f"  {message}")
    display.line(f"the published warehouse is unchanged: {settings.published_path}")
    display.line(f"details in the run log: {outcome.run_log}")
