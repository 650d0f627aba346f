"""What `iwh run` shows while it works: one line per step, a progress bar on a terminal, and the
run log that takes everything else.

Progress is read from the instance's event log (``DagsterInstance.get_records_for_run``), the
record Dagster keeps of every run, polled by a thread while the run executes: a step's start and
end, its planned and reported assets and checks (dbt's nodes, the expectation suites), check
results, and the notes steps log with ``progress_note`` (the models fitted). Dagster's own log,
dbt's and Great Expectations' output go to the run log under IWH_HOME/logs/.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from dagster import DagsterEventType, DagsterInstance, HookContext, failure_hook
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

# Each poll queries the run's event log in the run's own process, on its GIL: four a second took
# about 2 s of a 30 s run from its steps. The steps' times come from the events, not the polls.
POLL_SECONDS = 1.0
NOTE_PREFIX = "progress: "
FAILURE_PREFIX = "failed: "
PLANNED = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}
REPORTED = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION}
# The stages a person recognises, by the step keys of the definitions (first match wins).
STAGES = (
    ("raw__", "reference data"),
    ("dbt", "dbt"),
    ("quality", "expectations"),
    ("marts__analysis_dataset_critical", "expectations"),
    ("analysis_models", "models"),
    ("reports__", "reports"),
)


def stage_of(step_key: str) -> str:
    return next((stage for prefix, stage in STAGES if step_key.startswith(prefix)), "publication")


def root_cause(error: BaseException) -> str:
    """The innermost exception's message; a Failure's own description (it names file, row and column)."""
    while error.__cause__ is not None:
        error = error.__cause__
    description = getattr(error, "description", None)
    return (description or f"{type(error).__name__}: {error}").strip()


@failure_hook(name="report_root_cause")
def report_root_cause(context: HookContext) -> None:
    """Logs the failed step's own error, which the run's summary shows in place of Dagster's trace."""
    if context.op_exception is not None:
        context.log.error(FAILURE_PREFIX + root_cause(context.op_exception))


def progress_note(done: int, total: int, unit: str) -> str:
    """A log message the progress display reads as ``done`` of ``total`` ``unit``."""
    return f"{NOTE_PREFIX}{done}/{total} {unit}"


def _read_note(message: str) -> tuple[int, int, str] | None:
    if not message.startswith(NOTE_PREFIX):
        return None
    counts, _, unit = message[len(NOTE_PREFIX) :].partition(" ")
    done, _, total = counts.partition("/")
    return int(done), int(total), unit


class Display:
    """Lines for every stream; on a terminal also a live bar for the running step."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        stream = stream or sys.stderr
        if live is None:
            live = stream.isatty() and sys.stdout.isatty()
        self.console = Console(file=stream, force_terminal=live, no_color=not live, highlight=False, soft_wrap=True)
        self.live = live
        self._bar: Progress | None = None
        self._tasks: dict[str, int] = {}
        self._warned: set[str] = set()

    def __enter__(self) -> Display:
        if self.live:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._tasks.clear()

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def warning(self, text: str) -> None:
        # Several steps give the same warning (each raw table loaded with the demo key): once per run.
        if text not in self._warned:
            self._warned.add(text)
            self.line(f"  ! {text}")

    def step_started(self, step: str, announce: bool = True) -> None:
        if announce:
            self.line(f"  ▶ {step}")
        if self._bar is not None:
            self._tasks[step] = self._bar.add_task(step, total=None, unit="")

    def step_progress(self, step: str, done: int, total: int, unit: str) -> None:
        if self._bar is not None and step in self._tasks:
            self._bar.update(self._tasks[step], completed=done, total=total, unit=unit)

    def step_finished(self, step: str) -> None:
        if self._bar is not None and step in self._tasks:
            self._bar.remove_task(self._tasks.pop(step))


@dataclass
class CheckResult:
    name: str
    asset: str
    passed: bool
    blocking: bool
    detail: str


@dataclass
class RunRecord:
    """What one Dagster run reported, for the summary."""

    seconds_by_stage: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # step, its error
    failed_steps: set[str] = field(default_factory=set)


class RunWatcher:
    """Polls the event log of ``run_id`` while it runs and shows it on ``display``. With ``stage``,
    every step counts for that stage and the run is one line (the caller's), not one per step."""

    def __init__(self, instance: DagsterInstance, run_id: str, display: Display, stage: str | None = None) -> None:
        self.instance = instance
        self.run_id = run_id
        self.display = display
        self.stage = stage
        self.record = RunRecord()
        self._cursor: str | None = None
        self._started: dict[str, float] = {}
        self._planned: dict[str, int] = {}
        self._reported: dict[str, int] = {}
        self._noted: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="iwh-progress", daemon=True)

    def __enter__(self) -> RunWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            self._read()
        self._read()

    def _read(self) -> None:
        if not self.instance.has_run(self.run_id):
            return
        connection = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
        for record in connection.records:
            self._show(record.event_log_entry)
        self._cursor = connection.cursor

    def _show(self, entry) -> None:
        step = entry.step_key or ""
        kind = entry.dagster_event_type
        if kind is None:
            self._show_message(step, entry.level, entry.user_message)
        elif kind == DagsterEventType.STEP_START:
            self._started[step] = entry.timestamp
            self.display.step_started(step, announce=self.stage is None)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            stage = self.stage or stage_of(step)
            seconds = entry.timestamp - self._started.pop(step, entry.timestamp)
            self.record.seconds_by_stage[stage] = self.record.seconds_by_stage.get(stage, 0.0) + seconds
            if kind == DagsterEventType.STEP_FAILURE:
                self.record.failed_steps.add(step)
            self.display.step_finished(step)
        elif kind in PLANNED:
            self._planned[step] = self._planned.get(step, 0) + 1
        elif kind in REPORTED:
            self._reported[step] = self._reported.get(step, 0) + 1
            if kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                self._check(step, entry.asset_check_evaluation)
            if step not in self._noted and self._planned.get(step, 0) > 1:
                self.display.step_progress(step, self._reported[step], self._planned[step], "assets and checks")

    def _show_message(self, step: str, level: int, message: str) -> None:
        note = _read_note(message)
        if note is not None:
            self._noted.add(step)
            self.display.step_progress(step, *note)
        elif message.startswith(FAILURE_PREFIX):
            self.record.failures.append((step, message[len(FAILURE_PREFIX) :]))
        elif level >= logging.WARNING:
            self.display.warning(message)

    def _check(self, step: str, evaluation) -> None:
        blocking = evaluation.severity.value == "ERROR"
        metadata = evaluation.metadata or {}
        detail = evaluation.description or (str(metadata["failures"].value) if "failures" in metadata else "")
        self.record.checks.append(
            CheckResult(
                name=evaluation.check_name,
                asset=evaluation.asset_key.to_user_string(),
                passed=evaluation.passed,
                blocking=blocking,
                detail=detail,
            )
        )
        if not evaluation.passed:
            self.display.line(
                f"  ! check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
                + (" (blocking)" if blocking else " (warning)")
            )


class _Tee(io.TextIOBase):
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def run_log(logs_dir: Path, verbose: bool = False, echo: TextIO | None = None) -> Iterator[Path]:
    """Everything printed or logged inside the block (dbt's output, GX's, Dagster's log with its
    traces) goes to a new file under ``logs_dir``; with ``verbose`` also to ``echo``."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / f"run-{datetime.now().strftime('%Y%m%dT%H%M%S')}.log"
    with path.open("a", encoding="utf-8", buffering=1) as log_file:
        target: TextIO = _Tee(log_file, echo or sys.__stderr__) if verbose else log_file
        handler = logging.StreamHandler(target)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        # The terminal's handlers too: libraries' warnings belong in the log, not between the steps.
        previous_handlers, previous_level = root.handlers[:], root.level
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(target), contextlib.redirect_stderr(target):
                yield path
        finally:
            root.handlers[:] = previous_handlers
            root.setLevel(previous_level)
