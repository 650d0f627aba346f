"""Crashes, concurrent runs and personal data: the warehouse survives and never exposes a person.

Runs here are real `iwh run` processes on copies of the session's sample and warehouse.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from deliveries import correct_one_end_reason
from pipeline_env import point_environment_at
from warehouse_content import content_checksums

IWH = str(Path(sys.executable).parent / "iwh")
REPO = Path(__file__).resolve().parent.parent


def _env(landing: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(IWH_LANDING_DIR=str(landing), IWH_HOME=str(home))
    env.pop("IWH_PSEUDONYM_KEY", None)
    return env


def _copy_home(built_warehouse, target: Path) -> Path:
    shutil.copytree(built_warehouse.settings.home, target, ignore=shutil.ignore_patterns("warehouse.lock"))
    return target


def _raw_partitions_are_whole(working_db: Path) -> list[str]:
    """Problems with the raw layer: a partition mixing files, or rows not matching its load log."""
    con = duckdb.connect(str(working_db), read_only=True)
    try:
        problems = []
        for source, year, sha, delivered in con.execute(
            "select source, cohort_year, file_sha256, rows_delivered from quality.load_log "
            "where cohort_year is not null "
            "qualify row_number() over (partition by source, cohort_year order by loaded_at desc) = 1"
        ).fetchall():
            hashes, rows = con.execute(
                f"select list(distinct _file_sha256), count(*) from raw.{source} where cohort_year = ?", [year]
            ).fetchone()
            if hashes != [sha] or rows != delivered:
                problems.append(f"raw.{source} {year}: {len(hashes)} file(s), {rows} rows, log says {delivered}")
        return problems
    finally:
        con.close()


def _run_and_kill(env: dict[str, str], home: Path, is_trigger) -> str:
    """Start `iwh run`, SIGKILL its whole process group once `is_trigger(line)` holds; its output."""
    process = subprocess.Popen(
        [IWH, "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if is_trigger(line, home):
                os.killpg(process.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError("the run ended before reaching the step to kill:\n" + "".join(seen[-30:]))
    finally:
        process.wait(timeout=120)
    return "".join(seen)


def _step_started(prefix: str, delay_s: float = 0.0):
    def trigger(line: str, home: Path) -> bool:
        if f"▶ {prefix}" in line:
            time.sleep(delay_s)
            return True
        return False

    return trigger


@dataclass(frozen=True)
class SerialisedRuns:
    """A sensor-requested ingestion and a manual `iwh run`, started together after one 2019 file
    was corrected on a copy of the session's warehouse."""

    landing: Path
    home: Path
    dagster_home: Path
    requested: list[tuple[str, str]]
    started: float
    manual: subprocess.CompletedProcess
    sensor: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def serialised_runs(built_warehouse, sample_landing, tmp_path_factory) -> SerialisedRuns:
    from dagster import build_sensor_context

    from orchestration.ingestion.sensors import landing_sensor
    from orchestration.instance import prepare_instance
    from orchestration.resources import WarehouseResource

    root = tmp_path_factory.mktemp("serialised")
    landing = root / "landing"
    shutil.copytree(sample_landing, landing)
    home = _copy_home(built_warehouse, root / "home")
    settings = point_environment_at(landing, home)
    instance = prepare_instance(settings)
    with build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()}) as before:
        cursor = landing_sensor(before).cursor
    correct_one_end_reason(landing)
    with build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}) as after:
        requests = landing_sensor(after).run_requests

    sensor_run = (
        "import sys; from dagster import AssetKey, DagsterInstance; "
        "from orchestration.definitions import defs; "
        "job = defs.resolve_job_def(sys.argv[1]); "
        "result = job.execute_in_process(instance=DagsterInstance.get(), partition_key=sys.argv[2], "
        "asset_selection=[AssetKey.from_user_string(k) for k in sys.argv[3:]], "
        "tags={'iwh/trigger': 'landing_sensor'}, raise_on_error=False); sys.exit(0 if result.success else 1)"
    )
    env = _env(landing, home)
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    if not requests:
        pytest.fail("the sensor requested no run for the corrected 2019 file")
    request = requests[0]
    started = time.time()
    manual = subprocess.Popen(
        [IWH, "run"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    sensor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            sensor_run,
            request.job_name,
            request.partition_key,
            *[key.to_user_string() for key in request.asset_selection],
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, manual_err = manual.communicate(timeout=900)
    _, sensor_err = sensor.communicate(timeout=900)
    return SerialisedRuns(
        landing=landing,
        home=home,
        dagster_home=settings.dagster_home,
        requested=[(r.job_name, r.partition_key) for r in requests],
        started=started,
        manual=subprocess.CompletedProcess(manual.args, manual.returncode, "", manual_err),
        sensor=subprocess.CompletedProcess(sensor.args, sensor.returncode, "", sensor_err),
    )


@pytest.mark.slow
def test_a_sensor_run_and_a_manual_run_at_once_serialise(serialised_runs):
    from dagster import DagsterInstance

    runs = serialised_runs
    assert runs.requested == [("ingest_cohort_job", "2019")]
    assert runs.manual.returncode == 0, runs.manual.stderr[-3000:]
    assert runs.sensor.returncode == 0, runs.sensor.stderr[-3000:]

    assert _raw_partitions_are_whole(runs.home / "warehouse.duckdb") == []
    corrected_sha = _sha256(runs.landing / "nir" / "nir_deltakere_2019.csv")
    con = duckdb.connect(str(runs.home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute(
            "select list(distinct _file_sha256) from raw.nir_deltakere where cohort_year = 2019"
        ).fetchone()[0] == [corrected_sha]
    finally:
        con.close()

    # The writer lock kept the two runs' steps apart in time.
    os.environ["DAGSTER_HOME"] = str(runs.dagster_home)
    intervals = _step_intervals(DagsterInstance.get(), since=runs.started)
    assert len(intervals) >= 2
    assert all(earlier[1] <= later[0] for earlier, later in zip(intervals, intervals[1:])), intervals


@pytest.mark.slow
def test_killing_a_run_at_any_step_keeps_the_published_snapshot_and_the_next_run_recovers(
    built_warehouse, serialised_runs, landing_copy, tmp_path
):
    # The result every run on the corrected delivery must reach: that of the serialised runs
    # (rebuilding is deterministic, see test_operations).
    assert serialised_runs.manual.returncode == 0, serialised_runs.manual.stderr[-3000:]
    clean_result = content_checksums(serialised_runs.home / "published" / "warehouse.duckdb")
    correct_one_end_reason(landing_copy)

    home = _copy_home(built_warehouse, tmp_path / "home")
    env = _env(landing_copy, home)
    snapshot = home / "published" / "warehouse.duckdb"
    last_good = content_checksums(snapshot)
    assert last_good != clean_result, "the corrected delivery must change the warehouse"

    # Each run is also the rerun after the previous kill: it must get past the step killed before.
    kill_points = {
        "ingestion": _step_started("ingesting cohort", delay_s=2.0),
        "dbt": _step_started("dbt_warehouse", delay_s=4.0),
        "model fitting": _step_started("analysis"),
        "publication": _step_started("publication__published_snapshot"),
    }
    for step, trigger in kill_points.items():
        _run_and_kill(env, home, trigger)
        published = content_checksums(snapshot)
        assert published in (last_good, clean_result), f"killed during {step}: the snapshot is neither old nor new"
        assert _raw_partitions_are_whole(home / "warehouse.duckdb") == [], f"killed during {step}"
        last_good = published

    rerun = subprocess.run([IWH, "run"], env=env, cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert content_checksums(snapshot) == clean_result
    assert not list((home / "published").glob(".incoming-*"))


def _step_intervals(instance, since: float) -> list[tuple[float, float]]:
    """(first step start, last step end) of every run created since `since`, in time order."""
    from dagster import DagsterEventType

    step_events = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    intervals = []
    for record in instance.get_run_records():
        if record.create_timestamp.timestamp() < since:
            continue
        times = [event.timestamp for event in instance.all_logs(record.dagster_run.run_id, of_type=step_events)]
        if times:
            intervals.append((min(times), max(times)))
    return sorted(intervals)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# Digit runs not inside a longer run of digits or hex characters (person keys are hex).
IDENTIFIER_LIKE = re.compile(rb"(?<![0-9a-f])\d{11,12}(?![0-9a-f])")


def _delivered_identifiers(landing: Path) -> set[bytes]:
    """Every fødselsnummer and DUF number in the deliveries, read independently of the pipeline."""
    import pandas as pd

    identifiers: set[str] = set()
    for path in sorted(landing.rglob("*")):
        if path.suffix == ".xlsx":
            frames = [pd.read_excel(path, dtype=str, engine="openpyxl")]
        elif path.suffix == ".csv" and path.parent.name in ("nir", "jobbsjansen"):
            raw = path.read_bytes()
            encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                encoding = "cp1252"
            frames = [pd.read_csv(path, sep=None, engine="python", dtype=str, encoding=encoding)]
        else:
            continue
        for frame in frames:
            frame.columns = [str(c).lstrip("\ufeff") for c in frame.columns]
            for column in ("fnr", "duf", "Fodselsnummer"):
                if column in frame.columns:
                    identifiers.update(frame[column].dropna().str.strip())
    return {identifier.encode() for identifier in identifiers if identifier}


def _text_of_every_table(database: Path) -> bytes:
    con = duckdb.connect(str(database), read_only=True)
    try:
        chunks = []
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            ]
            row_text = " || ' ' || ".join(f"coalesce(\"{c}\"::varchar, '')" for c in columns)
            chunks.append(
                con.execute(f"select coalesce(string_agg({row_text}, chr(10)), '') from {schema}.{table}")
                .fetchone()[0]
                .encode()
            )
        return b"\n".join(chunks)
    finally:
        con.close()


def _artefacts(settings) -> dict[str, bytes]:
    """Every output a user, auditor or operator can read: tables, exports, reports, docs and logs."""
    import pandas as pd

    found = {
        "working warehouse": _text_of_every_table(settings.warehouse_path),
        "published warehouse": _text_of_every_table(settings.published_path),
    }
    for path in sorted(settings.exports_dir.glob("*.dta")):
        found[str(path)] = pd.read_stata(path, convert_categoricals=False).to_csv().encode()
    for root in (
        settings.reports_dir,
        settings.dagster_home,
        settings.logs_dir,
        settings.home / "dbt",
        REPO / "dbt_project" / "target",
        REPO / "dbt_project" / "logs",
    ):
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file() and path.suffix not in (".duckdb", ".parquet", ".dta"):
                found[str(path)] = path.read_bytes()
    for path in sorted(settings.exports_dir.glob("*.parquet")):
        con = duckdb.connect()
        found[str(path)] = con.execute(f"select * from '{path}'").df().to_csv().encode()
        con.close()
    return found


def test_no_artefact_holds_an_identifier_or_the_pseudonym_key(built_warehouse):
    from stdnum.no import fodselsnummer

    from iwh.settings import DEMO_PSEUDONYM_KEY

    identifiers = _delivered_identifiers(built_warehouse.landing_dir)
    assert len(identifiers) > 1000, "the scan needs the planted identifiers"
    artefacts = _artefacts(built_warehouse.settings)
    assert any(name.endswith(".html") for name in artefacts), "reports must be among the scanned artefacts"
    leaks = []
    for name, content in artefacts.items():
        for match in IDENTIFIER_LIKE.findall(content):
            if match in identifiers or (len(match) == 11 and fodselsnummer.is_valid(match.decode())):
                leaks.append(f"{name}: an identifier-like number")
        if DEMO_PSEUDONYM_KEY.encode() in content:
            leaks.append(f"{name}: the pseudonym key")
    assert leaks == []
