"""The persistent Dagster instance: documented configuration, runs kept under IWH_HOME/dagster."""

from __future__ import annotations

import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, asset, materialize

from iwh.settings import Settings
from orchestration.instance import prepare_instance


@asset
def tiny_asset() -> int:
    return 1


def test_the_instance_is_configured_with_documented_keys_only(tmp_path, monkeypatch):
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    prepare_instance(Settings.from_env())

    dagster_home = tmp_path / "home" / "dagster"
    assert yaml.safe_load((dagster_home / "dagster.yaml").read_text()) == {
        "telemetry": {"enabled": False},
        "concurrency": {"runs": {"max_concurrent_runs": 1}},
        "storage": {"sqlite": {"base_dir": str(dagster_home)}},
    }


def test_runs_of_the_prepared_instance_are_read_back_by_another_process_of_the_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    instance = prepare_instance(Settings.from_env())
    assert instance.root_directory == str(tmp_path / "home" / "dagster")

    run_id = materialize([tiny_asset], instance=instance).run_id

    # As `dg dev` or the daemon opens it: from DAGSTER_HOME, which prepare_instance set.
    reopened = DagsterInstance.get()
    stored = [record.event_log_entry.dagster_event_type for record in reopened.get_records_for_run(run_id).records]
    assert DagsterEventType.ASSET_MATERIALIZATION in stored
    assert stored[-1] == DagsterEventType.RUN_SUCCESS
    assert reopened.get_latest_materialization_event(AssetKey("tiny_asset")).run_id == run_id
    assert (tmp_path / "home" / "dagster" / "history" / "runs" / f"{run_id}.db").exists()
