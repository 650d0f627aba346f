"""The dbt project as dagster-dbt sees it (`DbtProject`), its manifest, and how dbt is invoked.

Everything that starts dbt gets `dbt_environment()`, so dbt writes to the same working warehouse
as the rest of the pipeline and never phones home.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject

from iwh import html_policy
from iwh.settings import Settings
from orchestration.forkserver import start_forkserver
from orchestration.transformation.invocation import DbtCommand, DbtCommandError

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
# The venv's own dbt, so the pipeline works without an activated venv.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Written by dbt itself, never inputs of the manifest.
_GENERATED_DIRS = frozenset({"target", "logs", "dbt_packages"})


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variables dbt needs: profiles.yml reads the warehouse path from IWH_WAREHOUSE_PATH."""
    return {
        "IWH_WAREHOUSE_PATH": str(settings.warehouse_path),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def apply_dbt_environment(settings: Settings) -> None:
    """Set dbt's variables in this process, whose environment DbtCliResource passes on to dbt."""
    os.environ.update(dbt_environment(settings))


def dbt_vars(settings: Settings) -> list[str]:
    """The --vars of every dbt command of a run; dbt parses again from scratch when they differ."""
    return ["--vars", json.dumps({"outcome_variant": settings.outcome_variant, "js_scope": settings.js_scope})]


def dbt_target_path(settings: Settings) -> Path:
    """Where the pipeline's dbt commands write their artefacts: one directory per IWH_HOME, outside
    the repository. dbt's partial parse stays there between runs; it is only valid for the warehouse
    path (part of the profile) and vars of the parse, which are those of the home."""
    return settings.home / "dbt" / "target"


def _project_files() -> list[Path]:
    """Every file of the dbt project, in a fixed order; what dbt generates is not part of it."""
    paths = []
    for root, dirs, files in os.walk(DBT_PROJECT_DIR):
        dirs[:] = [d for d in dirs if d not in _GENERATED_DIRS]
        paths += [Path(root, name) for name in files]
    return sorted(paths)


def manifest_is_stale() -> bool:
    manifest = DBT_PROJECT.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < max(p.stat().st_mtime for p in _project_files())


def dbt_cli_resource() -> DbtCliResource:
    """dagster-dbt's resource for this project, running the venv's own dbt."""
    return DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=str(DBT_EXECUTABLE))


def prepare_manifest(settings: Settings | None = None) -> Path:
    """The project's manifest.json, from `dbt parse` first when it is missing or older than a file
    of the project (a fresh clone, an edited model). Called before the definitions load (`iwh run`,
    `make install`, the test session), never on import.

    Several processes may prepare it at once, so parsing holds a lock and the manifest is swapped
    in whole: a process loading the definitions never reads half a manifest.
    """
    manifest = DBT_PROJECT.manifest_path
    if not manifest_is_stale():
        return manifest
    apply_dbt_environment(settings or Settings.from_env())
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():
            with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as scratch:
                dbt_cli_resource().cli(["parse", "--quiet"], target_path=Path(scratch)).wait()
                # dagster-dbt starts each later dbt command of a new home from this parse.
                os.replace(Path(scratch) / PARTIAL_PARSE_FILE, manifest.parent / PARTIAL_PARSE_FILE)
                os.replace(Path(scratch) / "manifest.json", manifest)
    return manifest


def dbt_command(settings: Settings, args: list[str]) -> DbtCommand:
    """Start a dbt command on the home's warehouse, writing into its target (invocation.DbtCommand)."""
    environment = {**os.environ, **dbt_environment(settings)}
    return DbtCommand(args, DBT_PROJECT_DIR, dbt_target_path(settings), environment)


def prepare_dbt(settings: Settings) -> threading.Thread:
    """Start, in a thread for the caller to join before the build: the run's forkserver, which
    imports dbt (orchestration.forkserver), then, for a home that has never run dbt, `dbt parse`.

    A home's first dbt command cannot reuse the partial parse of prepare_manifest (dbt parses from
    scratch when the warehouse path or vars differ, which they do: 4.6 s against 2.3 s at scale 1).
    `dbt parse` reads no warehouse, so it can run on the second core while ingestion writes, and
    leaves the build a partial parse of the home's own. A failed parse only costs the build its
    partial parse; the build reports the error itself."""
    target = dbt_target_path(settings)

    def prepare() -> None:
        if (target / PARTIAL_PARSE_FILE).exists():
            start_forkserver()
            return
        target.mkdir(parents=True, exist_ok=True)
        try:
            dbt_command(settings, ["parse", *dbt_vars(settings)]).wait()
        except DbtCommandError as error:
            print(error)

    thread = threading.Thread(target=prepare, name="iwh-prepare-dbt", daemon=True)
    thread.start()
    return thread


_FINGERPRINT_FILE = ".fingerprint"


def project_digest() -> str:
    """SHA-256 of every file of the dbt project (models, tests, macros, seeds, configuration): the
    project changed exactly when this changed."""
    digest = hashlib.sha256()
    for path in _project_files():
        digest.update(f"{path.relative_to(DBT_PROJECT_DIR)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def docs_fingerprint(manifest: Mapping[str, Any], dbt_vars: list[str], warehouse_columns: list[tuple]) -> str:
    """What the docs site shows: the project (its files, the run's vars, the dbt version) and the
    warehouse columns of its models, seeds and the sources they read (the catalog). The sources
    written after dbt (analysis.*) do not count: they appear after a home's first build, and their
    columns are described in the project. warehouse_columns are (schema, table, column, type,
    position) rows."""
    read = {parent for node in manifest["nodes"].values() for parent in node.get("depends_on", {}).get("nodes", [])}
    documented = {(node["schema"], node.get("alias") or node["name"]) for node in manifest["nodes"].values()}
    documented |= {
        (source["schema"], source["identifier"])
        for unique_id, source in manifest["sources"].items()
        if unique_id in read
    }
    content = {
        "project": project_digest(),
        "vars": dbt_vars,
        "dbt_version": manifest["metadata"].get("dbt_version"),
        "columns": [list(map(str, row)) for row in warehouse_columns if tuple(row[:2]) in documented],
        # A site written under another policy is written again.
        "policy": html_policy.POLICY,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


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
    page = (target_path / "static_index.html").read_text(encoding="utf-8")
    # dbt's page is an application: its own inline script must run (iwh.html_policy).
    destination.write_text(html_policy.with_policy(page, html_policy.own_scripts_policy(page)), encoding="utf-8")
    (docs_dir / _FINGERPRINT_FILE).write_text(fingerprint)
    return destination


# Under `dagster dev` the manifest is parsed again whenever the code location loads, so an edited
# model shows at once; dbt reads the warehouse path of its profile even to parse. Elsewhere the
# manifest is prepared before the definitions load (prepare_manifest).
if DBT_PROJECT.preparer.using_dagster_dev():
    apply_dbt_environment(Settings.from_env())
DBT_PROJECT.prepare_if_dev()
