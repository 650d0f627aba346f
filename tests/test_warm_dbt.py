"""`iwh-dbt` runs a dbt command in the waiting process when there is one, and is dbt otherwise
(orchestration/transformation/warm_dbt.py)."""

from __future__ import annotations

import os
import subprocess

import pytest

from orchestration.transformation.warm_dbt import CLIENT_EXECUTABLE, SOCKET_ENV, WarmDbt


@pytest.fixture
def warm_dbt():
    warm = WarmDbt.start(dict(os.environ))
    yield warm
    warm.stop()


def _iwh_dbt(*args: str, socket_path=None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != SOCKET_ENV}
    if socket_path is not None:
        environment[SOCKET_ENV] = str(socket_path)
    return subprocess.run([str(CLIENT_EXECUTABLE), *args], env=environment, capture_output=True, text=True, timeout=120)


def test_the_waiting_process_runs_one_command_with_its_output_and_exit_code(warm_dbt):
    served = _iwh_dbt("--help", socket_path=warm_dbt.socket_path)
    assert served.returncode == 0, served.stderr
    assert "Usage: dbt [OPTIONS] [COMMAND]" in served.stdout
    assert warm_dbt.process.wait(timeout=30) == 0, "the waiting process ran the command and ended"
    assert not warm_dbt.socket_path.exists()

    # Nobody is waiting any more: the next command runs in a dbt of its own, with dbt's exit code.
    unknown = _iwh_dbt("no-such-command", socket_path=warm_dbt.socket_path)
    assert unknown.returncode == 2
    assert "No such command 'no-such-command'" in unknown.stderr


def test_a_failing_command_reports_dbts_exit_code_through_the_waiting_process(warm_dbt):
    unknown = _iwh_dbt("no-such-command", socket_path=warm_dbt.socket_path)
    assert unknown.returncode == 2
    assert "No such command 'no-such-command'" in unknown.stderr
    assert warm_dbt.process.wait(timeout=30) == 0


def test_without_a_waiting_process_iwh_dbt_is_dbt():
    plain = _iwh_dbt("--help")
    assert plain.returncode == 0
    assert "Usage: dbt [OPTIONS] [COMMAND]" in plain.stdout
