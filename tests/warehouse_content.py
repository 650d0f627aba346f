"""Content checksums of warehouse tables, for comparing runs (run metadata aside)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Columns that legitimately differ between two runs over the same deliveries.
RUN_METADATA_COLUMNS = {
    "run_id",
    "_loaded_at",
    "loaded_at",
    "validated_at",
    "run_started_at",
    "created_at",
    "generated_at",
    "run_time",
    "time",
}

_CHECKSUM_SCRIPT = r"""
import duckdb, json, sys
path, schemas, excluded = sys.argv[1], sys.argv[2].split(","), set(sys.argv[3].split(","))
con = duckdb.connect(path, read_only=True)
tables = con.execute(
    "select table_schema, table_name from information_schema.tables "
    "where table_schema in (select unnest(?)) order by 1, 2", [schemas]).fetchall()
out = {}
for schema, table in tables:
    columns = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, table]).fetchall() if c not in excluded]
    select = ", ".join(f'"{c}"' for c in columns)
    rows, digest = con.execute(
        f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
        f"from (select ({select})::varchar as r from {schema}.{table})").fetchone()
    out[f"{schema}.{table}"] = f"{rows}:{digest}"
print(json.dumps(out))
"""


def content_checksums(database: Path, schemas: tuple[str, ...] = ("marts", "analysis")) -> dict[str, str]:
    """Row count and an order-independent digest per table, read in a separate process.

    A separate process sees the file as it is on disk now: DuckDB caches an open database per
    process, which would hide a snapshot that was replaced underneath it.
    """
    import json

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHECKSUM_SCRIPT,
            str(database),
            ",".join(schemas),
            ",".join(sorted(RUN_METADATA_COLUMNS)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)
