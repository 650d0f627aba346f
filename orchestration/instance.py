"""The persistent Dagster instance under IWH_HOME/dagster that `iwh run`, `dagster dev` and the
sensors share, so every run shows in one run history."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInstance
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from iwh.settings import Settings
from iwh.warehouse import ensure_private_dir


def _commit_without_fsync(dbapi_connection, _record) -> None:
    # In WAL mode SQLite stays consistent through a power cut with synchronous=NORMAL; only the
    # last events before it can be lost. It then syncs at checkpoints, not at each of a build's
    # ~600 commits.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, keeping the connection to each database file open.

    The stock storage builds a new engine and opens and closes a connection for every event it
    stores. Closing the last connection to a WAL database checkpoints it, and a build stores about
    600 events (dbt tests are asset checks): 9 to 14 s of a scale-1 re-run, measured with py-spy
    (3 ms per event against 0.3 ms with an open connection). The files, tables and journal mode are
    Dagster's own, so `dagster dev` and the daemon read them like any other. Engines are kept for the
    few most recently used files only: the webserver, a long-lived process, opens old runs' files too.
    """

    max_open_files = 8

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                create_db_conn_string(self._base_dir, shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _commit_without_fsync)
            self._engines[shard] = engine
            if len(self._engines) > self.max_open_files:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        # wipe() deletes the run files: no connection may outlive them.
        self._close_all()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_all()


def instance_yaml(dagster_home: str) -> str:
    return f"""\
# Written by iwh. No network here, and a warehouse of personal data must not phone home.
telemetry:
  enabled: false
concurrency:
  runs:
    # The working DuckDB file takes one writer: runs queue behind each other.
    max_concurrent_runs: 1
# Dagster's default SQLite event log in its default place, keeping its connections open instead
# of opening one per event (orchestration/instance.py).
event_log_storage:
  module: orchestration.instance
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {os.path.join(dagster_home, "history", "runs")}
"""


def prepare_instance(settings: Settings) -> DagsterInstance:
    home = ensure_private_dir(settings.dagster_home)
    config = home / "dagster.yaml"
    wanted = instance_yaml(str(home))
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()
