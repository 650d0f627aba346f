"""Fit times of M1, M2 and M3 on simulated analysis frames of a given scale.

    python -m analysis.benchmark --scales 1 100 --nodes 1 10

Scale 1 is the report's sample (≈ 19 000 complete cases for M1, ≈ 16 000 rows in ≈ 770
municipality-years for M2); scale 100 is a hundred times the participants in the same units.
Wall and CPU seconds are both reported: on a shared machine CPU time is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import time

from analysis import m1, multilevel
from analysis.simulation import simulate_analysis_dataset
from analysis.specification import M2, M3


def _timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def time_models(scale: float, nodes_options: tuple[int, ...] = (1, 10), seed: int = 0) -> list[dict]:
    frame, _ = simulate_analysis_dataset(scale=scale, seed=seed, truth="m2")
    rows = []
    fit, wall, cpu = _timed(m1.fit_m1, frame)
    rows.append(
        {
            "model": "m1",
            "scale": scale,
            "method": "logit",
            "nodes": None,
            "n": int(fit.result.nobs),
            "n_groups": None,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "converged": fit.converged,
        }
    )
    for spec in (M2, M3):
        for nodes in nodes_options:
            fit, wall, cpu = _timed(multilevel.fit_multilevel, frame, spec, nodes=nodes)
            rows.append(
                {
                    "model": spec.name,
                    "scale": scale,
                    "method": fit.result.method,
                    "nodes": nodes,
                    "n": fit.result.n_obs,
                    "n_groups": fit.result.n_groups,
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "converged": fit.result.converged,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 100.0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for scale in args.scales:
        for row in time_models(scale, tuple(args.nodes), args.seed):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
