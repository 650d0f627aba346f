"""The persistent Dagster instance under IWH_HOME/dagster that `iwh run`, `dg dev` and the
sensors share, so every run shows in one run history."""

from __future__ import annotations

import os

from dagster import DagsterInstance

from iwh.settings import Settings
from iwh.warehouse import ensure_private_dir


def instance_yaml(dagster_home: str, postgres: bool = False) -> str:
    """The instance's dagster.yaml: documented keys only (docs.dagster.io, "dagster.yaml reference").

    With `postgres`, runs, event logs and schedules live in the PostgreSQL database named by
    IWH_DAGSTER_POSTGRES_URL (read by Dagster from the environment, so the file holds no password),
    and every run launched from the UI, a sensor or a schedule waits in the queue of the daemon.
    """
    storage = (
        """\
# Runs, event logs and schedules in PostgreSQL (dagster-postgres), shared by everyone's UI.
storage:
  postgres:
    postgres_url:
      env: IWH_DAGSTER_POSTGRES_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
"""
        if postgres
        else f"""\
# Runs, event logs and schedules in SQLite files under this directory.
storage:
  sqlite:
    base_dir: {dagster_home}
"""
    )
    return f"""\
# Written by iwh. No network here, and a warehouse of personal data must not phone home.
telemetry:
  enabled: false
concurrency:
  runs:
    # The working DuckDB file takes one writer: runs queue behind each other.
    max_concurrent_runs: 1
{storage}"""


def prepare_instance(settings: Settings) -> DagsterInstance:
    home = ensure_private_dir(settings.dagster_home)
    config = home / "dagster.yaml"
    wanted = instance_yaml(str(home), postgres=settings.dagster_postgres_url is not None)
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


if __name__ == "__main__":
    # `make ui`: the UI opens the instance `iwh run` uses, configured before it starts.
    prepare_instance(Settings.from_env())
