"""Reusing dbt nodes whose inputs have not changed since they last succeeded.

A new cohort changes the participant sources, but the seeds, the municipality reference models and
their tests read nothing that changed, and rebuilding them costs about a third of a re-run's dbt
build. Each model, seed and test gets an input fingerprint: a hash of the whole project (any edit to
a model, test, macro, seed or the run's vars changes every fingerprint, so a code change always
rebuilds everything), of the content of the sources the node reads, and of its parents'
fingerprints. A node is reused when its fingerprint equals the one stored when it last succeeded
and, for models and seeds, its relation is still in the warehouse.

The fingerprints live in the warehouse itself (STATE_TABLE), so they always describe the tables
beside them: a restored warehouse brings its own, a new one has none. Rows of the nodes about to
run are deleted before dbt starts, so a build that dies half-way leaves those nodes to be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.transformation.project import without_volatile_fields

STATE_TABLE = "quality.dbt_node_state"
BUILT_RESOURCE_TYPES = frozenset({"model", "seed", "test"})
# dbt statuses after which a node's result stands until its inputs change. A warning test is
# reused too: the same inputs would warn again, and each run reports the warning again.
_STANDING_STATUSES = frozenset({"success", "pass", "warn"})


@dataclass(frozen=True)
class BuildPlan:
    """What a build must run and what it can reuse, by dbt unique_id; `reused` maps each reused
    node, parents before children, to the status it last succeeded with (a test's "pass" or "warn")."""

    fingerprints: Mapping[str, str]
    reused: Mapping[str, str]

    def dbt_args(self, manifest: Mapping[str, Any]) -> list[str]:
        """dbt arguments leaving exactly the reused nodes out of a build of the whole project, each
        by its fully qualified name. Indirect selection is off: by default, excluding a seed would
        also drop a test of a rebuilt model that reads the seed."""
        if not self.reused:
            return []
        names = sorted("fqn:" + ".".join(manifest["nodes"][unique_id]["fqn"]) for unique_id in self.reused)
        return ["--exclude", " ".join(names), "--indirect-selection", "empty"]


def project_fingerprint(manifest: Mapping[str, Any], dbt_vars: Iterable[str]) -> str:
    content = {
        "dbt_version": manifest["metadata"].get("dbt_version"),
        "vars": list(dbt_vars),
        "project": {
            section: without_volatile_fields(manifest.get(section, {})) for section in ("nodes", "sources", "macros")
        },
    }
    return _digest(json.dumps(content, sort_keys=True, default=str))


def source_fingerprints(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The content of every source relation: its columns and types, row count and an
    order-independent sum of row hashes. DuckDB hashes three million rows in about a second."""
    fingerprints = {}
    for unique_id, source in manifest["sources"].items():
        schema, table = source["schema"], source["identifier"]
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        if not columns:
            fingerprints[unique_id] = "absent"
            continue
        rows, hash_sum = con.execute(f'select count(*), sum(hash(r)) from "{schema}"."{table}" r').fetchall()[0]
        fingerprints[unique_id] = _digest(json.dumps([columns, rows, str(hash_sum)]))
    return fingerprints


def node_fingerprints(manifest: Mapping[str, Any], project: str, sources: Mapping[str, str]) -> dict[str, str]:
    fingerprints: dict[str, str] = dict(sources)

    def fingerprint(unique_id: str) -> str:
        if unique_id not in fingerprints:
            parents = sorted(manifest["nodes"][unique_id]["depends_on"].get("nodes", []))
            fingerprints[unique_id] = _digest("\n".join([project, unique_id, *(fingerprint(p) for p in parents)]))
        return fingerprints[unique_id]

    return {
        unique_id: fingerprint(unique_id)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in BUILT_RESOURCE_TYPES
    }


def plan_build(
    con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], dbt_vars: Iterable[str], reuse: bool = True
) -> BuildPlan:
    """Decide which nodes to reuse (none unless `reuse`), and forget the stored fingerprints of
    all others (they may be about to be rebuilt; see the module docstring)."""
    fingerprints = node_fingerprints(
        manifest, project_fingerprint(manifest, dbt_vars), source_fingerprints(con, manifest)
    )
    _create_state_table(con)
    stored = {
        unique_id: (fingerprint, status)
        for unique_id, fingerprint, status in con.execute(
            f"select unique_id, input_fingerprint, status from {STATE_TABLE}"
        ).fetchall()
    }
    relations = {
        (schema, table)
        for schema, table in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    # A node is rebuilt when any parent is: dbt and Dagster then see reused nodes only upstream of
    # rebuilt ones, and Dagster takes a multi-asset's outputs in topological order only.
    reused: dict[str, str] = {}
    for unique_id in _topological_order(manifest, fingerprints):
        node = manifest["nodes"][unique_id]
        fingerprint, status = stored.get(unique_id, (None, None))
        parents = [p for p in node["depends_on"].get("nodes", []) if p in fingerprints]
        if (
            reuse
            and fingerprint == fingerprints[unique_id]
            and _relation_present(node, relations)
            and all(parent in reused for parent in parents)
        ):
            reused[unique_id] = status
    con.execute(f"delete from {STATE_TABLE} where unique_id not in (select unnest(?::varchar[]))", [sorted(reused)])
    return BuildPlan(fingerprints=fingerprints, reused=reused)


def _topological_order(manifest: Mapping[str, Any], unique_ids: Iterable[str]) -> list[str]:
    """unique_ids with every node after the nodes it depends on."""
    wanted, ordered, visited = set(unique_ids), [], set()

    def visit(unique_id: str) -> None:
        if unique_id in visited:
            return
        visited.add(unique_id)
        for parent in manifest["nodes"][unique_id]["depends_on"].get("nodes", []):
            if parent in wanted:
                visit(parent)
        ordered.append(unique_id)

    for unique_id in sorted(wanted):
        visit(unique_id)
    return ordered


def record_build(con: duckdb.DuckDBPyConnection, plan: BuildPlan, run_results_path: Path, run_id: str) -> None:
    """Store the fingerprints of the nodes that succeeded in this build."""
    if not run_results_path.exists():
        return
    results = json.loads(run_results_path.read_text())["results"]
    succeeded = [
        (result["unique_id"], plan.fingerprints[result["unique_id"]], result["status"], run_id)
        for result in results
        if result["status"] in _STANDING_STATUSES and result["unique_id"] in plan.fingerprints
    ]
    _create_state_table(con)
    if succeeded:
        con.executemany(
            f"insert or replace into {STATE_TABLE} (unique_id, input_fingerprint, status, run_id, built_at) "
            "values (?, ?, ?, ?, current_timestamp)",
            succeeded,
        )


def _relation_present(node: Mapping[str, Any], relations: set[tuple[str, str]]) -> bool:
    if node["resource_type"] == "test":
        return True
    return (node["schema"], node.get("alias") or node["name"]) in relations


def _create_state_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists quality")
    con.execute(
        f"""
        create table if not exists {STATE_TABLE} (
            unique_id varchar primary key,
            input_fingerprint varchar not null,
            status varchar not null,
            run_id varchar not null,
            built_at timestamp not null
        )
        """
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
