"""Pointing the pipeline at a landing zone and a warehouse home, as a user does with IWH_* variables."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from iwh.settings import Settings


def point_environment_at(landing_dir: Path, home: Path, postgres_url: str | None = None) -> Settings:
    os.environ["IWH_LANDING_DIR"] = str(landing_dir)
    os.environ["IWH_HOME"] = str(home)
    os.environ.pop("IWH_PSEUDONYM_KEY", None)
    if postgres_url:
        os.environ["IWH_POSTGRES_URL"] = postgres_url
    else:
        os.environ.pop("IWH_POSTGRES_URL", None)
    return Settings.from_env()


# What a pipeline run in a test changes in the process's environment.
RUN_ENVIRONMENT = ("IWH_LANDING_DIR", "IWH_HOME", "IWH_PSEUDONYM_KEY", "DAGSTER_HOME")


@contextlib.contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """The variables named are as they were before, however the block ends."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
