"""`iwh run`: ingest changed cohort partitions, then build, check, model, report and publish.

Runs go through a persistent Dagster instance under IWH_HOME/dagster, so `dagster dev`
shows them in its run history next to sensor- and schedule-launched runs.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from iwh.landing import changed_partitions, discover
from iwh.settings import Settings, SettingsError
from iwh.warehouse import connect, writer_lock
from orchestration.instance import prepare_instance
from orchestration.progress import root_cause_message
from orchestration.transformation.project import prepare_manifest

PARTITIONS_NAME = "cohort_year"
# Selecting the job's own `console` logger (orchestration.progress) replaces Dagster's verbose default.
RUN_CONFIG = {"loggers": {"console": {}}}


@dataclass
class RunOutcome:
    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    published: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and self.published


def _failure_messages(result: ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data.error:
            messages.append(f"{event.step_key}: {root_cause_message(event.step_failure_data.error)}")
    return messages or ["the run failed (see the Dagster run log)"]


def _ingest(
    settings: Settings,
    defs: Definitions,
    instance: DagsterInstance,
    years: Sequence[int] | None,
    echo: Callable[[str], None],
) -> tuple[RunOutcome, str]:
    """Ingest every stale cohort partition, a Dagster run per cohort year."""
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

    outcome = RunOutcome()
    outcome.unchanged = [str(y) for y in cohort_years if y not in stale_years]
    run_group = uuid.uuid4().hex[:12]
    ingest_job = defs.resolve_job_def("ingest_cohort_job")
    for year in stale_years:
        echo(f"ingesting cohort {year}")
        result = ingest_job.execute_in_process(
            instance=instance,
            partition_key=str(year),
            run_config=RUN_CONFIG,
            raise_on_error=False,
            tags={"iwh/run_group": run_group},
        )
        if result.success:
            outcome.ingested.append(str(year))
        else:
            outcome.failures.extend(_failure_messages(result))
    return outcome, run_group


def run_pipeline(
    settings: Settings,
    years: Sequence[int] | None = None,
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> RunOutcome:
    settings.require_landing()
    # The runs' resources are configured from the environment (orchestration/definitions.py).
    os.environ["IWH_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["IWH_HOME"] = str(settings.home)
    _, is_demo_key = settings.resolve_pseudonym_key()
    if is_demo_key:
        echo("warning: synthetic sample: pseudonymising with the public demo key (never use it for real data)")

    # The definitions are made from the dbt manifest: parsed now if the project changed since.
    prepare_manifest(settings)
    from orchestration.definitions import defs

    instance = prepare_instance(settings)
    outcome, run_group = _ingest(settings, defs, instance, years, echo)
    if outcome.failures:
        echo("ingestion failed; the published warehouse is unchanged")
        return outcome

    echo("building the warehouse (reference data, dbt, expectations, models, reports, publication)")
    result = defs.resolve_job_def("build_warehouse_job").execute_in_process(
        instance=instance, run_config=RUN_CONFIG, raise_on_error=False, tags={"iwh/run_group": run_group}
    )
    if result.success:
        outcome.published = True
    else:
        outcome.failures.extend(_failure_messages(result))
        echo("the build failed or a blocking check failed; the published warehouse is unchanged")
    return outcome
