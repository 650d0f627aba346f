"""`iwh sample`: arguments and the command, usable on their own (`python -m iwh_synth`) or from the iwh CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iwh_synth.generator import DEFAULT_YEARS, SampleError, generate
from iwh_synth.truth import TRUTH_MODELS


def parse_years(text: str) -> list[int]:
    """'2017-2020', '2019' or '2017,2019' → list of years."""
    years: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                first, last = (int(value) for value in part.split("-", 1))
                years.extend(range(first, last + 1))
            else:
                years.append(int(part))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"years must look like 2017-2020 or 2017,2019; got {text!r}") from error
    return sorted(set(years))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None, help="landing directory to write (default: IWH_LANDING_DIR or data/landing)")
    parser.add_argument("--years", type=parse_years, default=list(DEFAULT_YEARS), help="cohort years, e.g. 2017-2020 (default)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ the report's 2017-2020 volumes")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--truth", choices=TRUTH_MODELS, default="default", help="structural model the outcomes are drawn from")


def run(arguments: argparse.Namespace) -> int:
    from iwh.settings import Settings

    settings = Settings.from_env()
    out_dir = arguments.out or settings.landing_dir
    try:
        generate(
            out_dir,
            years=arguments.years,
            scale=arguments.scale,
            seed=arguments.seed,
            truth=arguments.truth,
            pseudonym_key=settings.pseudonym_key,
            progress=lambda message: print(message, flush=True),
        )
    except SampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iwh sample", description="Write a synthetic landing zone and its ground truth.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
