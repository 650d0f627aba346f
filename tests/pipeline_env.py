"""Pointing the pipeline at a landing zone and a warehouse home, as a user does with IWH_* variables."""

from __future__ import annotations

import os
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
