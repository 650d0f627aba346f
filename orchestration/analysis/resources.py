"""The analysis area's resource: the processes that write the reports (the figures, the unit pages)."""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterator

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from analysis.report_workers import report_workers
from orchestration.forkserver import forkserver


class ReportWorkersResource(ConfigurableResource):
    """Worker processes (analysis.report_workers) for the whole run: started with the run, so they
    have imported what the reports need by the time their assets run; stopped with it. They are
    forked from the run's forkserver (orchestration.forkserver), which dbt's commands share."""

    _pool: concurrent.futures.Executor | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[ReportWorkersResource]:
        with report_workers(context=forkserver()) as pool:
            self._pool = pool
            yield self

    def pool(self) -> concurrent.futures.Executor | None:
        """None when the reports are to be written in the asset's own process (one core)."""
        return self._pool
