"""The analysis area's resource: the processes that draw the report's figures."""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterator

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from analysis.figure_workers import figure_workers
from orchestration.forkserver import forkserver


class FigureWorkersResource(ConfigurableResource):
    """Worker processes (analysis.figure_workers) for the whole run: started with the run, so they
        have imported what drawing needs by the time the report asset runs; stopped with it. They are
    forked from the run's forkserver (orchestration.forkserver), which dbt's commands share."""

    _pool: concurrent.futures.Executor | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[FigureWorkersResource]:
        with figure_workers(context=forkserver()) as pool:
            self._pool = pool
            yield self

    def pool(self) -> concurrent.futures.Executor | None:
        """None when the figures are to be drawn in the asset's own process (one core)."""
        return self._pool
