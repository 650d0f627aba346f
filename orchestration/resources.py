"""Resources shared by every area, configured from the environment (IWH_LANDING_DIR, IWH_HOME)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext

from iwh.settings import Settings
from iwh.warehouse import connect, writer_lock


class WarehouseResource(ConfigurableResource):
    """The working DuckDB warehouse.

    A run holds the exclusive writer lock from start to end, so two runs (a sensor's and a
    manual one, say) never write at once: the second waits for the first. Sensors and
    schedules only read settings and take no lock. Fields left empty come from the environment.
    """

    landing_dir: str | None = None
    home: str | None = None

    def settings(self) -> Settings:
        from_env = Settings.from_env()
        # Every other setting (coding choices, report language) as the environment says.
        return dataclasses.replace(
            from_env,
            landing_dir=Path(self.landing_dir).resolve() if self.landing_dir else from_env.landing_dir,
            home=Path(self.home).resolve() if self.home else from_env.home,
        )

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseResource]:
        if context.run is None:
            yield self
            return
        with writer_lock(self.settings()):
            yield self

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.settings(), read_only=read_only)
        try:
            yield con
        finally:
            con.close()
