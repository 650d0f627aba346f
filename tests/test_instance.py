"""The persistent Dagster instance: documented configuration, runs kept under IWH_HOME/dagster."""

from __future__ import annotations

import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, asset, materialize

from iwh.settings import Settings, SettingsError
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


def test_with_a_postgres_url_runs_are_stored_in_postgres_and_launched_runs_queue(tmp_path, monkeypatch):
    from postgres_server import psycopg, scratch_database, server_available

    if not server_available():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    with scratch_database() as url:
        database = url.split("dbname=")[-1]
        monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("IWH_DAGSTER_POSTGRES_URL", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}")
        instance = prepare_instance(Settings.from_env())
        try:
            config = (tmp_path / "home" / "dagster" / "dagster.yaml").read_text()
            assert yaml.safe_load(config)["storage"] == {
                "postgres": {"postgres_url": {"env": "IWH_DAGSTER_POSTGRES_URL"}}
            }
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            run_id = materialize([tiny_asset], instance=instance).run_id
        finally:
            instance.dispose()
        with psycopg.connect(url) as con:
            assert con.execute("select status from runs where run_id = %s", (run_id,)).fetchone() == ("SUCCESS",)
        assert not (tmp_path / "home" / "dagster" / "history").exists()


def test_a_dagster_postgres_url_without_the_psycopg2_driver_is_refused_with_the_form_to_use():
    with pytest.raises(SettingsError, match=r"must start with postgresql\+psycopg2://"):
        Settings.from_env({"IWH_DAGSTER_POSTGRES_URL": "postgresql://dagster@db/dagster"})
