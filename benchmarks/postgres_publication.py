"""Time the PostgreSQL publication of a published snapshot into a scratch database.

    python -m benchmarks.postgres_publication data/published/warehouse.duckdb [--repeats 3]

Needs a PostgreSQL server (IWH_BENCH_POSTGRES_ADMIN_URL, default the machine's 127.0.0.1:5432 as
postgres). Each repeat publishes into the same scratch database, so repeats after the first also
retire a previous publication, as a scheduled run does. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import uuid
from pathlib import Path

import psycopg

from iwh.postgres import publish

ADMIN_URL = os.environ.get("IWH_BENCH_POSTGRES_ADMIN_URL", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    name = f"iwh_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = f"{ADMIN_URL.replace('dbname=postgres', '')} dbname={name}"
    try:
        seconds, rows = [], 0
        with tempfile.TemporaryDirectory(prefix="iwh-bench-postgres-") as scratch:
            for _ in range(args.repeats):
                publication = publish(url, args.snapshot, Path(scratch))
                seconds.append(round(publication.seconds, 2))
                rows = sum(table.rows for table in publication.tables)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database "{name}" with (force)')
    print(
        json.dumps(
            {
                "snapshot": str(args.snapshot),
                "snapshot_mb": round(args.snapshot.stat().st_size / 1e6, 1),
                "rows": rows,
                "publish_wall_s": seconds,
                "median_s": statistics.median(seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
