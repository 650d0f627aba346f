"""Loading into the warehouse: one partition (or one reference table) per transaction.

All reading and validation happens before the transaction starts, so a file-level problem
(DeliveryError) leaves every table exactly as it was. The transaction then replaces the
partition's raw rows and quarantine rows and appends to the load log, or does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from iwh.landing import code_lists
from iwh.landing.contract import KLASS_131, SOURCES, Source
from iwh.landing.contract import source as source_named
from iwh.landing.discovery import LandingFile, LandingInventory, source_files
from iwh.landing.errors import DeliveryError
from iwh.landing.prepare import Municipality, PreparedFile, prepare_file
from iwh.landing.schema import ensure_tables
from iwh.settings import Settings
from iwh.warehouse import table_exists

QUARANTINE_LINES_LOGGED = 20


@dataclass(frozen=True)
class LoadResult:
    source: str
    cohort_year: int | None
    source_files: tuple[str, ...]
    file_sha256: tuple[str, ...]
    unchanged: bool
    rows_delivered: int = 0
    rows_quarantined: int = 0
    quarantine_counts: dict[str, int] = field(default_factory=dict)
    extra_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_delivered / self.seconds if self.seconds else 0.0


def _utc_now() -> dt.datetime:
    # Stored as a naive TIMESTAMP in UTC.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _stored_hashes(con: duckdb.DuckDBPyConnection, source: Source) -> dict[int | None, set[tuple[str, str]]]:
    """(source file, sha256) pairs stored per cohort year (None for reference tables)."""
    if not table_exists(con, f"raw.{source.name}"):
        return {}
    year = "cohort_year" if source.partitioned else "null"
    stored: dict[int | None, set[tuple[str, str]]] = {}
    for cohort_year, name, sha in con.execute(
        f"select distinct {year}, _source_file, _file_sha256 from {source.table}"
    ).fetchall():
        stored.setdefault(cohort_year, set()).add((name, sha))
    return stored


def _delivered_hashes(files: Sequence[LandingFile]) -> set[tuple[str, str]]:
    return {(f.relative_path, f.sha256) for f in files}


def _stored_code_lists(con: duckdb.DuckDBPyConnection, source: Source) -> dict[int, str | None]:
    """Per cohort year, the fingerprint of the seed code lists its current rows were checked against."""
    if not table_exists(con, "quality.code_list_checks"):
        return {}
    rows = con.execute(
        "select cohort_year, code_lists_sha256 from quality.code_list_checks where source = ?", [source.name]
    ).fetchall()
    return dict(rows)


def _is_loaded(con: duckdb.DuckDBPyConnection, source: Source, cohort_year: int, files: Sequence[LandingFile]) -> bool:
    """The partition holds these files, checked against the seeds as they are now."""
    return _is_current(
        _stored_hashes(con, source),
        _stored_code_lists(con, source),
        code_lists.fingerprint(source.code_lists),
        cohort_year,
        files,
    )


def _is_current(
    stored_hashes: dict[int | None, set[tuple[str, str]]],
    stored_code_lists: dict[int, str | None],
    current_code_lists: str,
    cohort_year: int,
    files: Sequence[LandingFile],
) -> bool:
    """Loading the partition again would change nothing: one file, loaded with this hash, and
    checked against the seeds as they are now."""
    return (
        len(files) == 1
        and stored_hashes.get(cohort_year) == _delivered_hashes(files)
        and stored_code_lists.get(cohort_year) == current_code_lists
    )


def changed_partitions(con: duckdb.DuckDBPyConnection, inventory: LandingInventory) -> list[tuple[str, int]]:
    """Cohort partitions whose delivered file differs from what is loaded (or is not loaded yet), or
    whose seed code lists changed since it was loaded (an analyst mapped a quarantined label).

    An ambiguous partition (two files for one year) counts as changed: loading it fails with a
    message that says so, which is better than silently keeping the old data.
    """
    changed = []
    partitioned = {name: source for name, source in SOURCES.items() if source.partitioned}
    stored_by_source = {name: _stored_hashes(con, source) for name, source in partitioned.items()}
    code_lists_by_source = {name: _stored_code_lists(con, source) for name, source in partitioned.items()}
    current_code_lists = {name: code_lists.fingerprint(source.code_lists) for name, source in partitioned.items()}
    for source_name, cohort_year in inventory.partitions():
        files = inventory.partition_files(source_name, cohort_year)
        if not _is_current(
            stored_by_source[source_name],
            code_lists_by_source[source_name],
            current_code_lists[source_name],
            cohort_year,
            files,
        ):
            changed.append((source_name, cohort_year))
    return changed


def changed_references(con: duckdb.DuckDBPyConnection, inventory: LandingInventory) -> list[str]:
    """Reference sources (SSB, KLASS) whose files differ from what is loaded."""
    changed = []
    for source_name in inventory.reference_sources():
        stored = _stored_hashes(con, SOURCES[source_name]).get(None, set())
        if stored != _delivered_hashes(inventory.reference_files(source_name)):
            changed.append(source_name)
    return changed


class _MunicipalityCache:
    """KLASS 131 as read from the landing zone, per file hash (it changes rarely, is read often)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sha: dict[str, tuple[Municipality, ...]] = {}

    def get(self, settings: Settings, needed_by: str) -> tuple[Municipality, ...]:
        files = source_files(settings.landing_dir, KLASS_131)
        if not files:
            raise DeliveryError(
                needed_by,
                f"the municipality reference {KLASS_131.directory}/klass_131_kommuner.csv is missing, "
                "so municipalities cannot be checked",
            )
        (klass_file,) = files
        if klass_file.refused:
            raise DeliveryError(
                needed_by, f"the municipality reference {klass_file.relative_path}: {klass_file.refused}"
            )
        with self._lock:
            cached = self._by_sha.get(klass_file.sha256)
        if cached is None:
            cached = _read_municipalities(klass_file, needed_by)
            with self._lock:
                self._by_sha = {klass_file.sha256: cached}
        return cached


def _read_municipalities(klass_file: LandingFile, needed_by: str) -> tuple[Municipality, ...]:
    try:
        prepared = prepare_file(KLASS_131, klass_file, None, None, (), _utc_now())
    except DeliveryError as error:
        raise DeliveryError(needed_by, f"the municipality reference cannot be read: {error}") from None
    quarantined = set(prepared.quarantine.column("row_number").to_pylist())
    municipalities = []
    for row in prepared.rows.to_pylist():
        if row["_row_number"] in quarantined:
            continue
        municipalities.append(
            Municipality(
                code=row["code"],
                name=row["name"],
                valid_from=dt.date.fromisoformat(row["validfrom"]),
                valid_to=dt.date.fromisoformat(row["validto"]) if row["validto"] else None,
            )
        )
    return tuple(municipalities)


_municipalities = _MunicipalityCache()


def _refuse_links(files: Sequence[LandingFile]) -> None:
    for file in files:
        if file.refused:
            raise DeliveryError(file.relative_path, file.refused)


def _pseudonym_key(settings: Settings, source: Source, log: logging.Logger) -> str | None:
    if not source.identifier_columns:
        return None
    key, is_demo = settings.resolve_pseudonym_key()
    if is_demo:
        log.warning(
            "synthetic sample: pseudonymising with the public demo key (IWH_PSEUDONYM_KEY is not set); "
            "never use it for real deliveries"
        )
    return key


def _log_prepared(prepared: PreparedFile, log: logging.Logger) -> None:
    name = prepared.file.relative_path
    if prepared.extra_columns:
        log.info(
            "%s: extra columns kept in _extra_columns and ignored downstream: %s",
            name,
            ", ".join(prepared.extra_columns),
        )
    for column, cells in prepared.scrubbed_cells.items():
        log.warning(
            "%s: column %s: an identifier-shaped number was removed from %d cell(s) before storing", name, column, cells
        )
    quarantine = prepared.quarantine.select(["row_number", "column_name", "reason", "detail"]).to_pylist()
    for entry in quarantine[:QUARANTINE_LINES_LOGGED]:
        log.warning(
            "%s: row %d, column %s: %s: %s",
            name,
            entry["row_number"],
            entry["column_name"],
            entry["reason"],
            entry["detail"],
        )
    if len(quarantine) > QUARANTINE_LINES_LOGGED:
        log.warning("%s: … and %d more quarantine entries", name, len(quarantine) - QUARANTINE_LINES_LOGGED)


def _write(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    cohort_year: int | None,
    prepared: Sequence[PreparedFile],
    run_id: str,
    loaded_at: dt.datetime,
    code_lists_sha256: str = "",
) -> None:
    rows = pa.concat_tables([p.rows for p in prepared])
    quarantine = pa.concat_tables([p.quarantine for p in prepared])
    log_rows = pa.Table.from_pylist(
        [
            {
                "source": source.name,
                "cohort_year": cohort_year,
                "source_file": p.file.relative_path,
                "file_sha256": p.file.sha256,
                "rows_delivered": p.rows_delivered,
                "rows_quarantined": p.rows_quarantined,
                "loaded_at": loaded_at,
                "run_id": run_id,
            }
            for p in prepared
        ]
    )
    partition = "cohort_year = ?" if source.partitioned else "true"
    partition_args = [cohort_year] if source.partitioned else []
    con.register("incoming_raw_rows", rows)
    con.register("incoming_quarantine", quarantine)
    con.register("incoming_load_log", log_rows)
    try:
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {source.table} where {partition}", partition_args)
            con.execute(f"insert into {source.table} by name select * from incoming_raw_rows")
            con.execute(
                "delete from quality.quarantine where source = ? and cohort_year is not distinct from ?",
                [source.name, cohort_year],
            )
            con.execute("insert into quality.quarantine by name select * from incoming_quarantine")
            con.execute("insert into quality.load_log by name select * from incoming_load_log")
            con.execute(
                "delete from quality.code_list_checks where source = ? and cohort_year is not distinct from ?",
                [source.name, cohort_year],
            )
            con.execute(
                "insert into quality.code_list_checks values (?, ?, ?)", [source.name, cohort_year, code_lists_sha256]
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        for view in ("incoming_raw_rows", "incoming_quarantine", "incoming_load_log"):
            con.unregister(view)


def load_partition(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    source: str,
    cohort_year: int,
    run_id: str,
    log: logging.Logger,
) -> LoadResult:
    """Load one cohort year of one source, replacing what was loaded for it before.

    A no-op (unchanged=True) when the loaded rows came from a file with the same SHA-256.
    Raises DeliveryError, before touching any table, on a file-level problem.
    """
    started = time.perf_counter()
    spec = source_named(source)
    if not spec.partitioned:
        raise ValueError(f"{source} is a reference source: use load_reference")
    files = source_files(settings.landing_dir, spec, cohort_year)
    if not files:
        raise DeliveryError(f"{spec.directory}/", f"no delivery for {source} {cohort_year} in {settings.landing_dir}")
    _refuse_links(files)
    if len(files) > 1:
        names = ", ".join(f.relative_path for f in files)
        raise DeliveryError(names, f"two deliveries for {source} {cohort_year}: keep one of them")
    (file,) = files
    ensure_tables(con)
    if _is_loaded(con, spec, cohort_year, files):
        log.info(
            "%s: unchanged (sha256 %s…), %s %d left as loaded",
            file.relative_path,
            file.sha256[:12],
            source,
            cohort_year,
        )
        return LoadResult(source, cohort_year, (file.relative_path,), (file.sha256,), unchanged=True)

    key = _pseudonym_key(settings, spec, log)
    municipalities = _municipalities.get(settings, file.relative_path) if spec.needs_klass else ()
    # Fingerprint first: a seed edited while the file is checked is then checked again next run.
    fingerprint = code_lists.fingerprint(spec.code_lists)
    labels = code_lists.read(spec.code_lists)
    loaded_at = _utc_now()
    prepared = prepare_file(spec, file, cohort_year, key, municipalities, loaded_at, labels)
    _log_prepared(prepared, log)
    _write(con, spec, cohort_year, [prepared], run_id, loaded_at, fingerprint)
    result = LoadResult(
        source=source,
        cohort_year=cohort_year,
        source_files=(file.relative_path,),
        file_sha256=(file.sha256,),
        unchanged=False,
        rows_delivered=prepared.rows_delivered,
        rows_quarantined=prepared.rows_quarantined,
        quarantine_counts=prepared.quarantine_counts,
        extra_columns=prepared.extra_columns,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "%s: %d rows loaded into %s for cohort %d (%s encoding), %d quarantined%s, %.1f s",
        file.relative_path,
        result.rows_delivered,
        spec.table,
        cohort_year,
        prepared.encoding,
        result.rows_quarantined,
        f" {result.quarantine_counts}" if result.quarantine_counts else "",
        result.seconds,
    )
    return result


def load_reference(
    con: duckdb.DuckDBPyConnection, settings: Settings, source: str, run_id: str, log: logging.Logger
) -> LoadResult:
    """Load an unpartitioned SSB/KLASS table from all its files, replacing it as a whole."""
    started = time.perf_counter()
    spec = source_named(source)
    if spec.partitioned:
        raise ValueError(f"{source} is partitioned by cohort year: use load_partition")
    files = source_files(settings.landing_dir, spec)
    if not files:
        raise DeliveryError(f"{spec.directory}/", f"no delivery for {source} in {settings.landing_dir}")
    _refuse_links(files)
    ensure_tables(con)
    names = tuple(f.relative_path for f in files)
    hashes = tuple(f.sha256 for f in files)
    if _stored_hashes(con, spec).get(None, set()) == _delivered_hashes(files):
        log.info("%s: unchanged, %s left as loaded", ", ".join(names), spec.table)
        return LoadResult(source, None, names, hashes, unchanged=True)

    loaded_at = _utc_now()
    prepared = [prepare_file(spec, f, None, None, (), loaded_at) for f in files]
    for p in prepared:
        _log_prepared(p, log)
    _write(con, spec, None, prepared, run_id, loaded_at)
    counts: dict[str, int] = {}
    for p in prepared:
        for reason, n in p.quarantine_counts.items():
            counts[reason] = counts.get(reason, 0) + n
    result = LoadResult(
        source=source,
        cohort_year=None,
        source_files=names,
        file_sha256=hashes,
        unchanged=False,
        rows_delivered=sum(p.rows_delivered for p in prepared),
        rows_quarantined=sum(p.rows_quarantined for p in prepared),
        quarantine_counts=counts,
        extra_columns=tuple(sorted({c for p in prepared for c in p.extra_columns})),
        seconds=time.perf_counter() - started,
    )
    log.info(
        "%s: %d rows from %d file(s) loaded, %d quarantined, %.1f s",
        spec.table,
        result.rows_delivered,
        len(files),
        result.rows_quarantined,
        result.seconds,
    )
    return result
