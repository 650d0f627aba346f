"""Shared fixtures: one small synthetic sample and one pipeline run per test session.

Generating and building take most of a test's time, so every test that only reads the
result shares this build. Tests that change the landing zone make their own copies.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline_env import point_environment_at
from test_landing_fixtures import copy_examples, settings_for

from iwh.settings import Settings

SAMPLE_YEARS = [2017, 2018, 2019, 2020]
SAMPLE_SCALE = 0.2
SAMPLE_SEED = 7

for name, value in {
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}.items():
    os.environ.setdefault(name, value)


def pytest_sessionstart(session):
    """The definitions are made from the dbt manifest, which `iwh run` prepares before it loads them."""
    from orchestration.transformation.project import prepare_manifest

    prepare_manifest()


@dataclass(frozen=True)
class BuiltWarehouse:
    settings: Settings
    landing_dir: Path
    truth: dict
    outcome: object

    @property
    def truth_persons_path(self) -> Path:
        return self.landing_dir / "truth_persons.parquet"


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> Path:
    """A pristine synthetic landing zone. Never modify it: copy it with `landing_copy`."""
    from iwh_synth import generate

    out = tmp_path_factory.mktemp("sample") / "landing"
    generate(out_dir=out, years=SAMPLE_YEARS, scale=SAMPLE_SCALE, seed=SAMPLE_SEED)
    return out


@pytest.fixture
def landing_copy(sample_landing, tmp_path) -> Path:
    """A private, modifiable copy of the sample landing zone."""
    target = tmp_path / "landing"
    shutil.copytree(sample_landing, target)
    return target


@pytest.fixture(scope="session")
def session_postgres_url() -> Iterator[str | None]:
    """A database of the session's own on the machine's PostgreSQL server, or None without one."""
    from postgres_server import scratch_database, server_available

    if not server_available():
        yield None
        return
    with scratch_database() as url:
        yield url


@pytest.fixture(scope="session")
def built_warehouse(sample_landing, tmp_path_factory, session_postgres_url) -> BuiltWarehouse:
    """The sample, materialised and published once for the whole session (also to PostgreSQL, when
    the machine has its server)."""
    from orchestration.runner import run_pipeline

    home = tmp_path_factory.mktemp("home")
    settings = point_environment_at(sample_landing, home, postgres_url=session_postgres_url)
    try:
        outcome = run_pipeline(settings)
    finally:
        os.environ.pop("IWH_POSTGRES_URL", None)
    assert outcome.ok, outcome.failures
    truth = json.loads((sample_landing / "truth.json").read_text())
    return BuiltWarehouse(settings=settings, landing_dir=sample_landing, truth=truth, outcome=outcome)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A private copy of the contract's example landing zone (tests/fixtures/landing_examples)."""
    return copy_examples(tmp_path / "landing")


@pytest.fixture
def settings(landing: Path, tmp_path: Path) -> Settings:
    return settings_for(landing, tmp_path / "home")
