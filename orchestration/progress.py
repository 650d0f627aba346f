"""A concise console logger for runs: one line per step and per failed check, plus warnings.

Dagster's default console logger prints every framework event; an operator running
`iwh run` wants to see which stage is working and what went wrong.
"""

from __future__ import annotations

import logging
import sys
import time

from dagster import logger

STEP_EVENTS = {"STEP_START": "▶", "STEP_SUCCESS": "✓", "STEP_FAILURE": "✗"}


def root_cause_message(error) -> str:
    """The innermost error's message: Dagster wraps the asset's own exception in its step errors."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


class ProgressHandler(logging.Handler):
    def __init__(self, stream=None) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = stream or sys.stderr
        self._started: dict[str, float] = {}
        self._warned: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is not None:
            kind = event.event_type_value
            if kind in STEP_EVENTS:
                if kind == "STEP_START":
                    self._started[step] = time.monotonic()
                    self._write(f"  {STEP_EVENTS[kind]} {step}")
                    return
                elapsed = time.monotonic() - self._started.pop(step, time.monotonic())
                line = f"  {STEP_EVENTS[kind]} {step} ({elapsed:.1f} s)"
                if kind == "STEP_FAILURE" and event.step_failure_data and event.step_failure_data.error:
                    line += f"\n      {root_cause_message(event.step_failure_data.error)}"
                self._write(line)
            elif kind == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                if not evaluation.passed:
                    severity = evaluation.severity.value
                    self._write(
                        f"  ! check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed ({severity})"
                    )
            return
        if record.levelno >= logging.WARNING:
            message = meta.get("orig_message", record.getMessage())
            # Several steps give the same warning (each raw table of a cohort loaded with the demo
            # key, say): the operator reads it once, under the first step that gave it.
            if message not in self._warned:
                self._warned.add(message)
                self._write(f"  ! {step}: {message}")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


@logger(description="One line per started and finished step and per failed check; warnings and errors from assets.")
def progress_logger(init_context) -> logging.Logger:
    # Dagster logs its structured events at DEBUG; the handler picks the few an operator needs.
    log = logging.Logger("iwh.progress", level=logging.DEBUG)
    log.addHandler(ProgressHandler())
    return log
