"""The one Definitions object loads, via workspace.yaml as `dagster dev` does, with the expected assets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

REPO = Path(__file__).resolve().parent.parent

EXPECTED_ASSETS = [
    *[
        ["raw", t]
        for t in (
            "nir_deltakere",
            "nir_tiltak",
            "jobbsjansen_individrapportering",
            "jobbsjansen_prosjekter",
            "kostra_f275",
            "ssb_statbank",
            "ssb_sentralitet",
            "klass_131_kommuner",
        )
    ],
    *[
        ["marts", t]
        for t in ("participant_exits", "analysis_dataset", "municipality_year", "project_year", "exclusions")
    ],
    ["publication", "published_snapshot"],
    ["exports", "analysis_files"],
]


def test_definitions_hold_the_expected_assets_jobs_sensors_and_schedules():
    from orchestration.definitions import defs

    keys = set(defs.resolve_all_asset_keys())
    missing = [path for path in EXPECTED_ASSETS if AssetKey(path) not in keys]
    assert missing == []
    assert {job.name for job in defs.jobs} >= {"ingest_cohort_job", "build_warehouse_job"}
    assert {sensor.name for sensor in defs.sensors} == {"landing_sensor", "rebuild_after_ingestion_sensor"}
    assert [schedule.execution_timezone for schedule in defs.schedules] == ["Europe/Oslo"]


def test_raw_cohort_assets_are_partitioned_by_cohort_year_and_reference_tables_are_not():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey(["raw", "nir_deltakere"])).partitions_def.name == "cohort_year"
    assert graph.get(AssetKey(["raw", "klass_131_kommuner"])).partitions_def is None


def test_dagster_validates_the_workspace(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_heavy_step_libraries_load_with_the_steps_not_with_the_definitions():
    """GX, statsmodels, scipy and matplotlib are imported by the steps that use them (and in the
    background while dbt runs), so `iwh run`, the UI and sensor ticks start without them; the
    modules imported in the background are real and bring them all."""
    probe = (
        "import importlib, sys\n"
        "import orchestration.definitions\n"
        "from orchestration.background_imports import BUILD_STEP_MODULES\n"
        "heavy = ('great_expectations', 'matplotlib', 'scipy', 'statsmodels')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "for module in BUILD_STEP_MODULES: importlib.import_module(module)\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["[]", "['great_expectations', 'matplotlib', 'scipy', 'statsmodels']"]
