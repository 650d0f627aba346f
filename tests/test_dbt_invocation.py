"""dbt commands forked from the run's forkserver (orchestration/transformation/invocation.py)."""

from __future__ import annotations

import duckdb
import pytest

from iwh.settings import Settings
from orchestration.transformation.invocation import DbtCommandError
from orchestration.transformation.project import dbt_command, dbt_target_path


@pytest.fixture()
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IWH_LANDING_DIR", str(tmp_path / "landing"))
    settings = Settings.from_env()
    settings.home.mkdir(parents=True)
    return settings


def test_a_command_reports_each_node_prints_dbts_lines_and_frees_the_warehouse(settings, capsys):
    command = dbt_command(settings, ["seed", "--select", "land_regioner"])
    results = list(command.results())

    assert [(result.unique_id, result.status, result.failures) for result in results] == [
        ("seed.iwh.land_regioner", "success", 0)
    ]
    assert results[0].execution_time > 0
    printed = capsys.readouterr().out
    assert "1 of 1 START seed file seeds.land_regioner" in printed
    assert "Completed successfully" in printed
    # The command's process has ended, and dbt-duckdb's hold on the file with it.
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from seeds.land_regioner").fetchone() == (267,)
    assert (dbt_target_path(settings) / "run_results.json").is_file()


def test_a_failed_command_raises_with_dbts_own_error(settings):
    command = dbt_command(settings, ["run-operation", "no_such_macro"])
    with pytest.raises(DbtCommandError) as failure:
        command.wait()
    message = str(failure.value)
    assert message.startswith("dbt run-operation no_such_macro failed:\n")
    assert 'could not find a macro with the name "no_such_macro"' in message
