"""Building only what changed since the home's last successful build, by dbt's own state selection.

After a build of the whole project succeeds, its manifest.json is kept as the home's dbt state
(IWH_HOME/dbt/state), with the newest load stamp of every source the project reads
(`source_loads.json`: ingestion stamps each row it loads with `_loaded_at`, the sources'
`loaded_at_field`). The next build of the whole project reads the stamps again (one query) and
builds `state:modified+` against that state together with `source:<name>+` of every source loaded
since: every node whose code, configuration or vars changed (dbt compares the two manifests), every
node reading a source loaded since, and everything downstream of them. A new cohort thus leaves
the seeds, the municipality reference models and their tests as they are.

The stamps are what `dbt source freshness` and `source_status:fresher+` compare too; reading them
in the run's own process instead of a dbt process of its own saves that process (about 3 s of
every build at scale 1, README).

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

_MANIFEST = "manifest.json"
_SOURCE_LOADS = "source_loads.json"
_RELATION_RESOURCE_TYPES = frozenset({"model", "seed"})


def dbt_state_path(settings: Settings) -> Path:
    return settings.home / "dbt" / "state"


def _read_sources(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    read = {parent for node in manifest["nodes"].values() for parent in node.get("depends_on", {}).get("nodes", [])}
    return {unique_id: source for unique_id, source in manifest["sources"].items() if unique_id in read}


def _relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(con.execute("select table_schema, table_name from information_schema.tables").fetchall())


def usable_state(settings: Settings, manifest: Mapping[str, Any], con: duckdb.DuckDBPyConnection) -> Path | None:
    """The home's dbt state if a build may select against it, else None (build everything)."""
    state = dbt_state_path(settings)
    if not all((state / artefact).exists() for artefact in (_MANIFEST, _SOURCE_LOADS)):
        return None
    # A source without a loaded_at_field has no stamp: nothing tells that it changed.
    if not all(source.get("loaded_at_field") for source in _read_sources(manifest).values()):
        return None
    previous = json.loads((state / _MANIFEST).read_text())
    if previous["metadata"].get("dbt_version") != manifest["metadata"].get("dbt_version"):
        return None
    relations = _relations(con)
    built = {
        (node["schema"], node.get("alias") or node["name"])
        for node in previous["nodes"].values()
        if node["resource_type"] in _RELATION_RESOURCE_TYPES and node["config"].get("materialized") != "ephemeral"
    }
    return state if built <= relations else None


def source_loads(manifest: Mapping[str, Any], con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """What every source a node reads holds: its newest `loaded_at_field` and its row count, as text
    (the count also changes when a re-delivery only removes rows, which the newest stamp may not);
    None for a source that has no such field or no table."""
    relations = _relations(con)
    loads: dict[str, str | None] = {}
    for unique_id, source in sorted(_read_sources(manifest).items()):
        field = source.get("loaded_at_field")
        loads[unique_id] = None
        if field and (source["schema"], source["identifier"]) in relations:
            relation = f'"{source["schema"]}"."{source["identifier"]}"'
            # The field is the project's own SQL (dbt selects max(loaded_at_field) the same way).
            newest, rows = con.execute(f"select max({field})::varchar, count(*) from {relation}").fetchone()
            loads[unique_id] = f"{newest}, {rows} rows"
    return loads


def state_selection(state: Path, manifest: Mapping[str, Any], loads: Mapping[str, str | None]) -> list[str]:
    """dbt's arguments to build what changed against ``state``: the nodes modified since, and what
    reads a source whose load differs from the one recorded with the state (or that it lacks)."""
    recorded = json.loads((state / _SOURCE_LOADS).read_text())
    methods = ["state:modified+"]
    for unique_id, load in sorted(loads.items()):
        if load is None or unique_id not in recorded or recorded[unique_id] != load:
            source = manifest["sources"][unique_id]
            methods.append(f"source:{source['source_name']}.{source['name']}+")
    return ["--select", " ".join(methods), "--state", str(state)]


def save_state(target: Path, settings: Settings, loads: Mapping[str, str | None]) -> None:
    """Keep a successful build's manifest (in its target path) and the source loads it built from
    as the state of the next build. The manifest first: a state cut short between the two pairs the
    new manifest with older loads, which selects more, never less."""
    state = dbt_state_path(settings)
    state.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target / _MANIFEST, state / f"{_MANIFEST}.tmp")
    os.replace(state / f"{_MANIFEST}.tmp", state / _MANIFEST)
    (state / f"{_SOURCE_LOADS}.tmp").write_text(json.dumps(loads, indent=1, sort_keys=True))
    os.replace(state / f"{_SOURCE_LOADS}.tmp", state / _SOURCE_LOADS)


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
