"""`iwh`: write a synthetic sample, run the pipeline, find the published warehouse."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import sysconfig
from pathlib import Path

from iwh.settings import Settings, SettingsError

DEFAULT_YEARS = "2017-2020"

log = logging.getLogger("iwh")


def parse_years(text: str) -> list[int]:
    """`2017-2020` or `2017,2019` → sorted years."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, last = (int(p) for p in part.split("-", 1))
            if last < first:
                raise argparse.ArgumentTypeError(f"empty year range {part}")
            years.update(range(first, last + 1))
        elif part:
            years.add(int(part))
    if not years:
        raise argparse.ArgumentTypeError("no years given")
    return sorted(years)


def _cmd_sample(args: argparse.Namespace) -> int:
    from iwh_synth import generate

    settings = Settings.from_env()
    out = Path(args.out).resolve() if args.out else settings.landing_dir
    summary = generate(
        out_dir=out,
        years=args.years,
        scale=args.scale,
        seed=args.seed,
        truth=args.truth,
        pseudonym_key=settings.pseudonym_key,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(f"synthetic landing zone written to {out}")
    for line in summary.get("lines", []):
        print(f"  {line}")
    return 0


def _r_string(path: Path) -> str:
    # A JSON string is a valid R string literal (same escapes for quotes, backslashes and control characters).
    return json.dumps(str(path), ensure_ascii=False)


def where_lines(settings: Settings) -> list[str]:
    """Where everything is; each access line runs as printed (the shell is the one this environment
    installs, the Python line is for this environment's interpreter)."""
    snapshot = settings.published_path
    scripts = Path(sysconfig.get_path("scripts"))
    return [
        f"published warehouse (read-only snapshot): {snapshot}",
        f"  DuckDB CLI:  {shlex.quote(str(scripts / 'duckdb'))} -readonly {shlex.quote(str(snapshot))}",
        f"  Python:      import duckdb; con = duckdb.connect({str(snapshot)!r}, read_only=True)",
        f"  R:           con <- DBI::dbConnect(duckdb::duckdb(), dbdir = {_r_string(snapshot)}, read_only = TRUE)",
        f"reports:       {settings.reports_dir}",
        f"  auditors:    {settings.reports_dir / 'auditors_report.html'}",
        f"  analysis:    {settings.reports_dir / 'analysis' / 'index.html'}",
        f"  units:       {settings.reports_dir / 'enheter' / 'index.html'}",
        f"  data docs:   {settings.reports_dir / 'quality'}",
        f"  dbt docs:    {settings.reports_dir / 'dbt_docs' / 'index.html'}",
        f"exports:       {settings.exports_dir}",
        f"  codebook:    {settings.codebook_path}",
    ]


STAGE_ORDER = ("ingestion", "reference data", "dbt", "expectations", "models", "reports", "publication")


def warehouse_counts(path: Path) -> dict[str, int]:
    """Rows delivered (participant files), quarantined and modelled (M1's sample), from the tables."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "delivered": con.execute(
                "select coalesce(sum(n_rows), 0) from marts.exclusions where step = 'delivered'"
            ).fetchone()[0],
            "quarantined": con.execute(
                "select count(*) from (select distinct source_file, file_sha256, row_number from quality.quarantine)"
            ).fetchone()[0],
            "modelled": con.execute("select coalesce(max(n), 0) from analysis.model_fit where model = 'm1'").fetchone()[
                0
            ],
        }
    finally:
        con.close()


def _names(checks) -> str:
    names = sorted({check.name for check in checks})
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def summary_lines(settings: Settings, outcome) -> list[str]:
    counts = warehouse_counts(settings.published_path)
    failed = [check for check in outcome.checks if not check.passed and check.blocking]
    warned = [check for check in outcome.checks if not check.passed and not check.blocking]
    stages = [
        f"{stage} {outcome.seconds_by_stage[stage]:.1f} s" for stage in STAGE_ORDER if stage in outcome.seconds_by_stage
    ]
    return [
        f"cohorts ingested: {', '.join(outcome.ingested) or 'none'}"
        + (f" (unchanged: {', '.join(outcome.unchanged)})" if outcome.unchanged else ""),
        f"rows:             {counts['delivered']} delivered, {counts['quarantined']} quarantined, "
        f"{counts['modelled']} modelled (M1)",
        f"checks:           {len(outcome.checks)} run, {len(failed)} failed"
        + (f" ({_names(failed)})" if failed else "")
        + f", {len(warned)} warned"
        + (f" ({_names(warned)})" if warned else ""),
        f"time per stage:   {', '.join(stages)}",
        f"run log:          {outcome.run_log}",
    ]


def _cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # Fail on configuration before the slow import of Dagster and dbt.
    settings.require_landing()
    settings.resolve_pseudonym_key()
    from orchestration.runner import run_pipeline

    outcome = run_pipeline(settings, years=args.years, verbose=args.verbose)
    if not outcome.ok:
        return 1  # run_pipeline has shown what failed
    print("published.")
    for line in summary_lines(settings, outcome) + where_lines(settings):
        print(line)
    return 0


def _cmd_where(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.published_path.exists():
        print(f"nothing published yet under {settings.home}; run `iwh run`", file=sys.stderr)
        return 1
    for line in where_lines(settings):
        print(line)
    return 0


def _cmd_postgres_init(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.postgres_url:
        raise SettingsError("IWH_POSTGRES_URL is not set: it names the PostgreSQL database to publish to")
    from iwh.postgres import PostgresPublicationError, init_roles

    try:
        lines = init_roles(settings.postgres_url)
    except PostgresPublicationError as error:
        print(f"iwh: {error}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print("give a user access with: grant iwh_analyst to <user>;  (or iwh_auditor)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iwh", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample", help="write a synthetic landing zone with its ground truth")
    sample.add_argument("--out", help="landing directory to write (default: IWH_LANDING_DIR)")
    sample.add_argument("--years", type=parse_years, default=parse_years(DEFAULT_YEARS), help="e.g. 2017-2020")
    sample.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ the report's 2017–2020 population")
    sample.add_argument("--seed", type=int, default=2022)
    sample.add_argument(
        "--truth", choices=["default", "m1", "m2", "m3"], default="default", help="structural outcome model"
    )
    sample.set_defaults(func=_cmd_sample)

    run = commands.add_parser("run", help="materialise every asset for the landing zone and publish")
    run.add_argument("--years", type=parse_years, default=None, help="only ingest these cohort years")
    run.add_argument("--verbose", action="store_true", help="also stream dbt's, GX's and Dagster's own logs")
    run.set_defaults(func=_cmd_run)

    where = commands.add_parser("where", help="where the published warehouse and reports are, and how to open them")
    where.set_defaults(func=_cmd_where)

    postgres = commands.add_parser("postgres", help="the shared PostgreSQL warehouse (IWH_POSTGRES_URL)")
    postgres_commands = postgres.add_subparsers(dest="postgres_command", required=True)
    init = postgres_commands.add_parser(
        "init", help="create the roles iwh_analyst and iwh_auditor and their grants (safe to repeat)"
    )
    init.set_defaults(func=_cmd_postgres_init)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything the warehouse writes is for the owner and the analysts' group only.
    os.umask(0o027)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    # The handler's level, not only the root's: libraries' loggers set to INFO (dagster-dbt's, for
    # one) would otherwise print every message next to the one-line-per-step progress.
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as error:
        print(f"iwh: {error}", file=sys.stderr)
        return 2


def run_command() -> None:
    """The `iwh` executable: main, then exit without tearing the interpreter down.

    After a run the heap holds Dagster's, dbt's and GX's objects, and the teardown's garbage
    collection walked them for 2-3 s on an idle machine (py-spy), 5.7-6.7 s on a busy one. The
    commands commit and close what they write themselves (the run log too); only the standard
    streams and log handlers are left to flush. atexit handlers are skipped.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_command()
