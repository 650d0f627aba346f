"""Building only what changed since the home's last successful build, by dbt's own state selection.

After a build of the whole project succeeds, its manifest.json and the sources.json of the
`dbt source freshness` run before it are kept as the home's dbt state (IWH_HOME/dbt/state). The
next build of the whole project runs `dbt source freshness` again and builds
`state:modified+ source_status:fresher+` against that state: every node whose code, configuration or
vars changed (dbt compares the two manifests), every node reading a source loaded since (ingestion
stamps each row it loads with `_loaded_at`, the sources' `loaded_at_field`), and everything
downstream of them. A new cohort thus leaves the seeds, the municipality reference models and their
tests as they are.

A build that fails leaves the state as it was, so the next build selects the same nodes again. The
state is not used, and the whole project is built, when it is missing, comes from another dbt
version, or describes a model or seed that is not in the warehouse (a new or restored warehouse),
and when a source a node reads has no `loaded_at_field` (every source YAML under staging/ sets it
in its `config`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from iwh.settings import Settings

STATE_SELECTION = ["--select", "state:modified+ source_status:fresher+"]
# manifest.json first: a state cut short between the two pairs the new manifest with older
# freshness, which selects more, never less.
_STATE_ARTEFACTS = ("manifest.json", "sources.json")
_RELATION_RESOURCE_TYPES = frozenset({"model", "seed"})


def dbt_state_path(settings: Settings) -> Path:
    return settings.home / "dbt" / "state"


def usable_state(settings: Settings, manifest: Mapping[str, Any], con: duckdb.DuckDBPyConnection) -> Path | None:
    """The home's dbt state if a build may select against it, else None (build everything)."""
    state = dbt_state_path(settings)
    if not all((state / artefact).exists() for artefact in _STATE_ARTEFACTS):
        return None
    # A source without a loaded_at_field has no freshness: dbt could not tell that it changed.
    read = {parent for node in manifest["nodes"].values() for parent in node.get("depends_on", {}).get("nodes", [])}
    if not all(source.get("loaded_at_field") for unique_id, source in manifest["sources"].items() if unique_id in read):
        return None
    previous = json.loads((state / "manifest.json").read_text())
    if previous["metadata"].get("dbt_version") != manifest["metadata"].get("dbt_version"):
        return None
    relations = set(con.execute("select table_schema, table_name from information_schema.tables").fetchall())
    built = {
        (node["schema"], node.get("alias") or node["name"])
        for node in previous["nodes"].values()
        if node["resource_type"] in _RELATION_RESOURCE_TYPES and node["config"].get("materialized") != "ephemeral"
    }
    return state if built <= relations else None


def save_state(target: Path, settings: Settings) -> None:
    """Keep a successful build's artefacts (in its target path) as the state of the next build."""
    state = dbt_state_path(settings)
    state.mkdir(parents=True, exist_ok=True)
    for artefact in _STATE_ARTEFACTS:
        shutil.copyfile(target / artefact, state / f"{artefact}.tmp")
        os.replace(state / f"{artefact}.tmp", state / artefact)


def not_yet_built(manifest: Mapping[str, Any], unique_ids: Iterable[str], done: set[str]) -> list[str]:
    """The models and seeds among unique_ids and upstream of them that are not in done, parents
    before children (the order Dagster takes a multi-asset's outputs in); they are added to done.

    dbt starts a node only when every selected node it depends on has finished, so when a node's
    result comes, the models and seeds upstream of it that have none were not selected: reused.
    """
    ordered: list[str] = []

    def visit(unique_id: str) -> None:
        for parent in manifest["nodes"][unique_id].get("depends_on", {}).get("nodes", []):
            if parent in manifest["nodes"] and parent not in done:
                done.add(parent)
                visit(parent)
                if manifest["nodes"][parent]["resource_type"] in _RELATION_RESOURCE_TYPES:
                    ordered.append(parent)

    for unique_id in unique_ids:
        if unique_id in manifest["nodes"] and unique_id not in done:
            done.add(unique_id)
            visit(unique_id)
            if manifest["nodes"][unique_id]["resource_type"] in _RELATION_RESOURCE_TYPES:
                ordered.append(unique_id)
    return ordered
