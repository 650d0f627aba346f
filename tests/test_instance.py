"""The persistent Dagster instance: its event log keeps connections open, in Dagster's own format."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from dagster import AssetKey, DagsterEventType, asset, materialize
from dagster._core.storage.event_log import SqliteEventLogStorage

from iwh.settings import Settings
from orchestration.instance import PooledSqliteEventLogStorage, prepare_instance


@asset
def tiny_asset() -> int:
    return 1


def _open_database_files(directory: Path) -> set[str]:
    targets = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)) and target.endswith(".db"):
            targets.add(target)
    return targets


def test_runs_of_the_prepared_instance_read_back_with_dagsters_own_storage(tmp_path, monkeypatch):
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    instance = prepare_instance(Settings.from_env())
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)

    run_id = materialize([tiny_asset], instance=instance).run_id

    runs_dir = tmp_path / "home" / "dagster" / "history" / "runs"
    stock = SqliteEventLogStorage(str(runs_dir))
    stored = [record.event_log_entry.dagster_event_type for record in stock.get_records_for_run(run_id).records]
    assert DagsterEventType.ASSET_MATERIALIZATION in stored
    assert stored[-1] == DagsterEventType.RUN_SUCCESS
    assert stock.get_latest_materialization_events([AssetKey("tiny_asset")])[AssetKey("tiny_asset")].run_id == run_id
    with sqlite3.connect(runs_dir / f"{run_id}.db") as con:
        assert con.execute("pragma journal_mode").fetchone() == ("wal",)


def test_only_the_most_recently_used_database_files_stay_open(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    for shard in range(PooledSqliteEventLogStorage.max_open_files + 4):
        with storage.run_connection(f"run-{shard}") as conn:
            conn.exec_driver_sql("select 1")

    open_files = _open_database_files(tmp_path)
    last = range(4, PooledSqliteEventLogStorage.max_open_files + 4)
    assert open_files == {str(tmp_path / f"run-{shard}.db") for shard in last}

    storage.dispose()
    assert _open_database_files(tmp_path) == set()


def test_a_wiped_run_file_is_created_again_on_next_use(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    with storage.run_connection("run-a") as conn:
        conn.exec_driver_sql("select count(*) from event_logs")
    storage.wipe()
    assert not (tmp_path / "run-a.db").exists()

    with storage.run_connection("run-a") as conn:
        assert conn.exec_driver_sql("select count(*) from event_logs").scalar() == 0
    assert (tmp_path / "run-a.db").exists()
