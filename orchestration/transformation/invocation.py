"""dbt commands through dbt's programmatic API (`dbtRunner`), each in a process forked from the
run's forkserver (orchestration.forkserver), which has imported dbt beforehand.

dagster-dbt's `DbtCliResource.cli` starts a `dbt` process per command, and before each runs
`dbt --version` and loads the dbt adapter in the calling process (parsing every macro), for
features this project does not use (row counts, column metadata): together about 5 s of every
build at scale 1, and the new process imports dbt again (README, "Benchmarks"). The whole-project
build, `dbt parse` and `dbt docs generate` run here instead; a build of a selection made in the UI
still goes through dagster-dbt (orchestration/transformation/assets.py).

The child reports what dbt reports through a pipe: the lines dbt would print (info and above; the
parent prints them into the run log) and each node's result. It ends when the command ends, and
with it dbt-duckdb's hold on the warehouse file, which it keeps for the life of its process.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from orchestration.forkserver import forkserver

# dbt's log levels that its console shows by default.
PRINTED_LEVELS = frozenset({"info", "warn", "error"})


@dataclass(frozen=True)
class NodeResult:
    """One node's result, as dbt's `NodeFinished` event gives it."""

    unique_id: str
    # dbt's status: success, pass, warn, fail, error, skipped, no-op, ...
    status: str
    execution_time: float
    # A test's failing rows (0 for other nodes).
    failures: int
    message: str


class DbtCommandError(Exception):
    """A dbt command that did not succeed; the message is dbt's own error lines."""


def _run(args: Sequence[str], env: Mapping[str, str], cwd: str, connection: Connection) -> None:
    """The child: dbt's command with the caller's environment and working directory."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    from dbt.cli.main import dbtRunner

    # dbt calls back from each of its threads.
    sending = threading.Lock()

    def forward(event) -> None:
        info = event.info
        if info.name == "NodeFinished":
            result = event.data.run_result
            message = NodeResult(
                unique_id=event.data.node_info.unique_id,
                status=result.status,
                execution_time=result.execution_time,
                failures=result.num_failures,
                message=result.message,
            )
        elif info.level in PRINTED_LEVELS:
            message = (info.level, info.msg)
        else:
            return
        with sending:
            connection.send(message)

    outcome = dbtRunner(callbacks=[forward]).invoke(list(args))
    with sending:
        connection.send((outcome.success, None if outcome.exception is None else str(outcome.exception)))
    connection.close()


class DbtCommand:
    """A dbt command running in a process of its own, started on construction. Iterate ``results()``
    (or call ``wait()``) to the end: dbt's lines are printed as they come, and a command that did not
    succeed raises DbtCommandError once its output is read."""

    def __init__(self, args: Sequence[str], project_dir: Path, target_path: Path, env: Mapping[str, str]) -> None:
        self.args = list(args)
        arguments = [
            *self.args,
            *("--project-dir", str(project_dir), "--profiles-dir", str(project_dir)),
            *("--target-path", str(target_path), "--log-path", str(target_path)),
            # What dbt prints reaches the run log through this process (forward above).
            *("--log-level", "none", "--no-use-colors"),
        ]
        context = forkserver()
        self._connection, child_end = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run, args=(arguments, dict(env), str(project_dir), child_end), name="iwh-dbt", daemon=True
        )
        self._process.start()
        child_end.close()

    def results(self) -> Iterator[NodeResult]:
        errors: list[str] = []
        finished = succeeded = False
        try:
            while True:
                try:
                    message = self._connection.recv()
                except EOFError:
                    break
                if isinstance(message, NodeResult):
                    yield message
                elif isinstance(message[0], bool):
                    finished = True
                    succeeded, exception = message
                    errors += [exception] if exception else []
                else:
                    level, line = message
                    print(line)
                    if level == "error":
                        errors.append(line)
        finally:
            self._connection.close()
            if not finished:
                # The caller stopped reading (its step was interrupted): so does dbt.
                self._process.terminate()
            self._process.join()
        if not succeeded:
            if not finished:
                errors.append(f"dbt's process ended with exit code {self._process.exitcode}")
            command = " ".join(itertools.takewhile(lambda word: not word.startswith("-"), self.args))
            raise DbtCommandError(f"dbt {command} failed:\n" + "\n".join(errors or ["(dbt reported no error)"]))

    def wait(self) -> None:
        for _ in self.results():
            pass
