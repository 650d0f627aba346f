"""One quality run: validate, store, compute missingness, build Data Docs and the auditors' report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from expectations import auditors_report, data_docs, missingness, storage
from expectations.checkpoints import open_context, release_batches, run_checkpoints


@dataclass(frozen=True)
class QualityPaths:
    gx_root: Path
    data_docs_dir: Path
    auditors_report: Path

    @classmethod
    def under(cls, home: Path) -> QualityPaths:
        reports = home / "reports"
        return cls(
            gx_root=home / "gx", data_docs_dir=reports / "quality", auditors_report=reports / "auditors_report.html"
        )


@dataclass(frozen=True)
class QualityOutcome:
    results: pd.DataFrame
    missingness_rows: int
    data_docs_index: Path
    auditors_report: Path
    # (suite, partition) whose result was reused from an earlier validation of identical data.
    reused: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def critical_failures(self) -> pd.DataFrame:
        return self.results[(~self.results["success"]) & (self.results["severity"] == "critical")]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.results[(~self.results["success"]) & (self.results["severity"] == "warning")]


def validate_warehouse(
    con: duckdb.DuckDBPyConnection,
    paths: QualityPaths,
    run_id: str,
    landing_dir: Path | None = None,
    synthetic: bool = False,
    language: str = "nb",
) -> QualityOutcome:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    context = open_context(paths.gx_root, paths.data_docs_dir)
    try:
        checkpoint_run = run_checkpoints(con, context, run_id, gx_root=paths.gx_root, docs_dir=paths.data_docs_dir)
        storage.write_validation_results(con, checkpoint_run.records)
        seconds["checkpoints"] = time.perf_counter() - started

        started = time.perf_counter()
        missing = missingness.compute(con, run_id)
        storage.write_missingness(con, missing)
        seconds["missingness"] = time.perf_counter() - started

        started = time.perf_counter()
        index = data_docs.build(context, paths.data_docs_dir, checkpoint_run.resource_identifiers)
        seconds["data_docs"] = time.perf_counter() - started
    finally:
        # GX keeps the context as the project's current one after this returns, and its data source
        # holds every frame it validated (at scale 100, 56 frames and 1 GB) for as long as the process runs.
        release_batches(context)

    started = time.perf_counter()
    results = storage.run_results(con, run_id)
    report = auditors_report.write(con, paths.auditors_report, run_id, results, landing_dir, synthetic, language)
    seconds["auditors_report"] = time.perf_counter() - started
    return QualityOutcome(
        results=results,
        missingness_rows=len(missing),
        data_docs_index=index,
        auditors_report=report,
        reused=checkpoint_run.reused,
        seconds=seconds,
    )
