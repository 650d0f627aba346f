"""Where the dbt project is, how dbt is invoked, and keeping its manifest current.

Everything that starts dbt goes through `dbt_environment()` so dbt writes to the same working
warehouse as the rest of the pipeline and never phones home.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from iwh.settings import Settings
from iwh.warehouse import ensure_private_dir
from orchestration.transformation.warm_dbt import DBT_EXECUTABLE

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Written by dbt itself, never inputs of the manifest.
_GENERATED_DIRS = frozenset({"target", "logs", "dbt_packages"})


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variables dbt needs: profiles.yml reads the warehouse path from IWH_WAREHOUSE_PATH.

    No dbt.log: the pipeline's dbt commands write theirs to scratch directories that are deleted
    (what dbt reports is in Dagster's run log), and writing every statement of a build to it at
    debug level cost about 1 s of a 10 s build.
    """
    return {
        "IWH_WAREHOUSE_PATH": str(settings.warehouse_path),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_LEVEL_FILE": "none",
    }


def apply_dbt_environment(settings: Settings) -> None:
    """Set dbt's variables in this process, whose environment DbtCliResource passes on to dbt."""
    os.environ.update(dbt_environment(settings))


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_vars(settings: Settings) -> list[str]:
    """The --vars of every dbt command of a run; dbt parses again from scratch when they differ."""
    return ["--vars", json.dumps({"outcome_variant": settings.outcome_variant, "js_scope": settings.js_scope})]


def parse_command(settings: Settings, target: Path) -> list[str]:
    """`dbt parse` of the project into ``target``, with the run's vars (dbt_vars)."""
    return [
        str(DBT_EXECUTABLE),
        "parse",
        *dbt_vars(settings),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
    ]


def saved_parse_path(settings: Settings) -> Path:
    """dbt's partial parse kept between runs of one IWH_HOME. dbt re-parses from scratch whenever
    the warehouse path (part of its profile) or the vars differ from those of the parse it is
    given, so a parse is only reusable by runs of the same home."""
    return settings.home / f"dbt_{PARTIAL_PARSE_FILE}"


class BackgroundParse:
    """`dbt parse` for a home that has no saved parse yet, run while ingestion runs.

    The first build of a home would otherwise start with a full parse (about 5 s on the critical
    path). Parsing reads only the project, never the warehouse, so it can run beside the
    ingestion's writes, on the other core.
    """

    def __init__(self, settings: Settings, process: subprocess.Popen, scratch: Path):
        self.settings, self.process, self.scratch = settings, process, scratch

    @classmethod
    def start(cls, settings: Settings) -> BackgroundParse | None:
        if saved_parse_path(settings).exists():
            return None
        ensure_private_dir(settings.home)
        scratch = Path(tempfile.mkdtemp(prefix="dbt-parse-", dir=settings.home))
        process = subprocess.Popen(
            parse_command(settings, scratch),
            env={**os.environ, **dbt_environment(settings)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return cls(settings, process, scratch)

    def finish(self) -> bool:
        """Wait for the parse and keep it for the build; whether there was one to keep. A failed
        parse is dropped: the build parses again and reports the project's errors itself."""
        try:
            parsed = self.process.wait() == 0 and (self.scratch / PARTIAL_PARSE_FILE).exists()
            if parsed:
                os.replace(self.scratch / PARTIAL_PARSE_FILE, saved_parse_path(self.settings))
            return parsed
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def cancel(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _newest_source_mtime() -> float:
    newest = 0.0
    for root, dirs, files in os.walk(DBT_PROJECT_DIR):
        dirs[:] = [d for d in dirs if d not in _GENERATED_DIRS]
        for name in files:
            newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest


def manifest_is_stale() -> bool:
    return not MANIFEST_PATH.exists() or MANIFEST_PATH.stat().st_mtime < _newest_source_mtime()


def ensure_manifest() -> Path:
    """Return target/manifest.json, running `dbt parse` first when it is missing or older than any
    file of the dbt project, so a fresh clone (or an edited model) needs no manual step.

    Several processes may import the definitions at once (`dagster dev` starts more than one), so
    parsing holds a lock and the manifest is swapped in atomically.
    """
    if not manifest_is_stale():
        return MANIFEST_PATH
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    lock_path = MANIFEST_PATH.parent / ".parse.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():
            _parse()
    return MANIFEST_PATH


def _parse() -> None:
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(dir=MANIFEST_PATH.parent, prefix="parse-") as target:
        completed = subprocess.run(
            parse_command(settings, Path(target)),
            env={**os.environ, **dbt_environment(settings)},
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"dbt parse failed for {DBT_PROJECT_DIR}:\n{completed.stdout[-4000:]}{completed.stderr[-2000:]}"
            )
        # dagster-dbt copies target/partial_parse.msgpack into each run's target path, so every
        # `dbt build` from Dagster starts from this parse instead of parsing the project again.
        os.replace(Path(target) / "partial_parse.msgpack", MANIFEST_PATH.parent / "partial_parse.msgpack")
        os.replace(Path(target) / "manifest.json", MANIFEST_PATH)


# Fields of the manifest that change from one parse or build to the next without changing what the
# project builds or documents: timestamps, paths, and what compiling a node adds (its SQL and the
# macros it calls, in depends_on), which follows from the project but is only there for the nodes
# that build ran.
_VOLATILE_MANIFEST_FIELDS = frozenset(
    {
        "created_at",
        "compiled_path",
        "build_path",
        "root_path",
        "generated_at",
        "invocation_id",
        "invocation_started_at",
        "compiled",
        "compiled_code",
        "extra_ctes",
        "extra_ctes_injected",
        "macros",
    }
)
_FINGERPRINT_FILE = ".fingerprint"


def without_volatile_fields(value):
    if isinstance(value, dict):
        return {k: without_volatile_fields(v) for k, v in value.items() if k not in _VOLATILE_MANIFEST_FIELDS}
    if isinstance(value, list):
        return [without_volatile_fields(v) for v in value]
    return value


def docs_fingerprint(target_path: Path, warehouse_columns: list[tuple]) -> str:
    """What the docs site shows: the project as the build's manifest describes it (models, tests,
    descriptions, compiled SQL) and the warehouse columns of its models, seeds and sources (the
    catalog). warehouse_columns are (schema, table, column, type, position) rows."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    documented = {(node["schema"], node.get("alias") or node["name"]) for node in manifest["nodes"].values()}
    documented |= {(source["schema"], source["identifier"]) for source in manifest["sources"].values()}
    content = {
        "dbt_version": manifest["metadata"].get("dbt_version"),
        "manifest": {
            section: without_volatile_fields(manifest.get(section, {}))
            for section in ("nodes", "sources", "docs", "exposures", "metrics", "semantic_models", "unit_tests")
        },
        "columns": [list(map(str, row)) for row in warehouse_columns if tuple(row[:2]) in documented],
    }
    text = json.dumps(content, sort_keys=True, default=str).replace(str(target_path), "<target>")
    return hashlib.sha256(text.encode()).hexdigest()


def _docs_dir(settings: Settings) -> Path:
    return settings.reports_dir / "dbt_docs"


def docs_site_exists(settings: Settings) -> bool:
    return (_docs_dir(settings) / "index.html").exists()


def docs_are_current(settings: Settings, fingerprint: str) -> bool:
    marker = _docs_dir(settings) / _FINGERPRINT_FILE
    return docs_site_exists(settings) and marker.exists() and marker.read_text() == fingerprint


def copy_static_docs(target_path: Path, settings: Settings, fingerprint: str) -> Path:
    """Publish `dbt docs generate --static`'s single-file site under IWH_HOME/reports/dbt_docs/,
    with the fingerprint of what it shows."""
    docs_dir = _docs_dir(settings)
    docs_dir.mkdir(parents=True, exist_ok=True)
    destination = docs_dir / "index.html"
    shutil.copyfile(target_path / "static_index.html", destination)
    (docs_dir / _FINGERPRINT_FILE).write_text(fingerprint)
    return destination
