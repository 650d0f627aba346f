"""Fit time of M2 alone on the working warehouse's analysis dataset (IWH_HOME from the environment).

Usage: python -m benchmarks.m2_fit   → prints {"fit_wall_s": …, "fit_cpu_s": …} as JSON.
The dataset is read as the analysis step reads it; only the fit itself is timed.
"""

from __future__ import annotations

import json
import time

from analysis import multilevel
from analysis.models import select_outcome_variant
from analysis.specification import DEFAULT_NODES, M2
from iwh.settings import Settings
from iwh.warehouse import connect
from orchestration.analysis.assets import outcome_variant_of, read_model_input


def main() -> None:
    con = connect(Settings.from_env(), read_only=True)
    try:
        dataset = read_model_input(con)
    finally:
        con.close()
    frame = select_outcome_variant(dataset, outcome_variant_of(dataset))
    wall, cpu = time.perf_counter(), time.process_time()
    multilevel.fit_multilevel(frame, M2, nodes=DEFAULT_NODES)
    print(
        json.dumps(
            {"fit_wall_s": round(time.perf_counter() - wall, 2), "fit_cpu_s": round(time.process_time() - cpu, 2)}
        )
    )


if __name__ == "__main__":
    main()
