"""Time writing every unit's page (reports/enheter/) from a published warehouse.

    python -m benchmarks.unit_pages data/published/warehouse.duckdb [--repeats 3] [--language nb]

Prints one JSON object: units, wall and CPU seconds of each repeat, and their medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from analysis.unit_pages import write_unit_pages
from iwh.reporting import Language, RunFacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--language", default="nb")
    args = parser.parse_args()

    run = RunFacts.now("benchmark", "report_text", "ordning_a", synthetic=True)
    walls, cpus, units = [], [], 0
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="iwh-bench-enheter-") as directory:
                wall, cpu = time.perf_counter(), time.process_time()
                pages = write_unit_pages(con, Path(directory), Language(args.language), run)
                walls.append(round(time.perf_counter() - wall, 2))
                cpus.append(round(time.process_time() - cpu, 2))
                units = len(pages.units)
    finally:
        con.close()
    print(
        json.dumps(
            {
                "warehouse": str(args.warehouse),
                "units": units,
                "wall_s": walls,
                "cpu_s": cpus,
                "median_wall_s": statistics.median(walls),
                "median_cpu_s": statistics.median(cpus),
            }
        )
    )


if __name__ == "__main__":
    main()
