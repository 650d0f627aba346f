"""Shared helpers for the landing tests: small landing zones built from the contract's examples.

The examples (../shared/spec/examples, copied to tests/fixtures/) were written by an independent writer of the
contract; tests copy them into temporary directories and rewrite them into every variant
the contract allows (and every kind of bad input it does not).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
from stdnum.no import fodselsnummer

from iwh.landing import REFERENCE_SOURCES, discover, load_partition, load_reference
from iwh.settings import Settings

# A copy of ../shared/spec/examples, so the suite runs wherever the repository is cloned.
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "landing_examples"
TEST_KEY = "test-pseudonym-key"
LOG = logging.getLogger("iwh.test.landing")

for name, value in {"DO_NOT_TRACK": "1", "DAGSTER_DISABLE_TELEMETRY": "true"}.items():
    os.environ.setdefault(name, value)


def copy_examples(target: Path) -> Path:
    shutil.copytree(EXAMPLES, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def settings_for(landing: Path, home: Path, key: str | None = TEST_KEY) -> Settings:
    return Settings(landing_dir=landing, home=home, pseudonym_key=key)


def load_everything(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for source in REFERENCE_SOURCES:
        load_reference(con, settings, source, "test-run", LOG)
    for source, year in discover(settings.landing_dir).partitions():
        load_partition(con, settings, source, year, "test-run", LOG)


def valid_fnr(day: int, month: int, year2: int, individual: int) -> str:
    """A fødselsnummer with valid control digits (individual numbers that give none are skipped)."""
    for candidate in range(individual, individual + 50):
        base = f"{day:02d}{month:02d}{year2:02d}{candidate:03d}"
        k1 = fodselsnummer.calc_check_digit1(base)
        if k1 == "10":
            continue
        k2 = fodselsnummer.calc_check_digit2(base + k1)
        if k2 == "10":
            continue
        return base + k1 + k2
    raise AssertionError("no valid fødselsnummer near the requested one")


def read_table(path: Path, encoding: str = "utf-8-sig", separator: str = ";") -> tuple[list[str], list[list[str]]]:
    text = path.read_bytes().decode(encoding).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    return rows[0], rows[1:]


def write_table(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    separator: str = ";",
    encoding: str = "utf-8",
    boms: int = 0,
    quoting: int = csv.QUOTE_MINIMAL,
    line_end: str = "\n",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, quoting=quoting, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" * boms + buffer.getvalue().encode(encoding))
    return path


def raw_rows(
    con: duckdb.DuckDBPyConnection, table: str, cohort_year: int | None = None, exclude: Sequence[str] = ()
) -> list[dict]:
    """Rows of a raw table as dicts, ordered by row number, without load-specific lineage."""
    where = "" if cohort_year is None else f"where cohort_year = {cohort_year}"
    relation = con.sql(f"select * from raw.{table} {where} order by _source_file, _row_number")
    dropped = {"_loaded_at", *exclude}
    return [{k: v for k, v in zip(relation.columns, row) if k not in dropped} for row in relation.fetchall()]


def quarantine_rows(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[tuple]:
    where = "" if source is None else f"where source = '{source}'"
    return con.sql(
        f"select source_file, row_number, column_name, reason, detail, value from quality.quarantine {where} "
        "order by source_file, row_number, column_name, reason"
    ).fetchall()
