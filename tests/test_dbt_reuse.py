"""Which dbt nodes a build reuses (orchestration/transformation/reuse.py), on a small manifest.

The project: source raw.a → model staging.m1 → model marts.m2, a seed seeds.s, a test t on m2 and
s, and a model staging.m3 reading source raw.b.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.transformation.reuse import STATE_TABLE, plan_build, record_build

VARS = ["--vars", '{"outcome_variant": "report_text"}']


def _node(resource_type: str, name: str, schema: str | None, parents: list[str]) -> dict:
    return {
        "resource_type": resource_type,
        "name": name,
        "schema": schema,
        "alias": name,
        "fqn": ["iwh", name],
        "raw_code": f"-- {name}",
        "depends_on": {"nodes": parents},
    }


MANIFEST = {
    "metadata": {"dbt_version": "1.11.0"},
    "sources": {
        "source.iwh.raw.a": {"schema": "raw", "identifier": "a"},
        "source.iwh.raw.b": {"schema": "raw", "identifier": "b"},
    },
    "nodes": {
        "model.iwh.m1": _node("model", "m1", "staging", ["source.iwh.raw.a"]),
        "model.iwh.m2": _node("model", "m2", "marts", ["model.iwh.m1"]),
        "model.iwh.m3": _node("model", "m3", "staging", ["source.iwh.raw.b"]),
        "seed.iwh.s": _node("seed", "s", "seeds", []),
        "test.iwh.t": _node("test", "t", None, ["model.iwh.m2", "seed.iwh.s"]),
    },
    "macros": {},
}
ALL_NODES = set(MANIFEST["nodes"])


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("raw", "staging", "marts", "seeds"):
        con.execute(f"create schema {schema}")
    con.execute("create table raw.a as select range as id from range(5)")
    con.execute("create table raw.b as select 'x' as label")
    for table in ("staging.m1", "marts.m2", "staging.m3", "seeds.s"):
        con.execute(f"create table {table} (id integer)")
    yield con
    con.close()


def _build(con, tmp_path: Path, statuses: dict[str, str] | None = None, manifest=MANIFEST, dbt_vars=VARS):
    """Plan a build, and record it as if dbt ran every node it did not reuse with these statuses."""
    plan = plan_build(con, manifest, dbt_vars)
    run_results = tmp_path / "run_results.json"
    ran = sorted(set(plan.fingerprints) - set(plan.reused))
    run_results.write_text(
        json.dumps(
            {
                "results": [
                    {
                        "unique_id": unique_id,
                        "status": (statuses or {}).get(
                            unique_id, "pass" if unique_id.startswith("test.") else "success"
                        ),
                    }
                    for unique_id in ran
                ]
            }
        )
    )
    record_build(con, plan, run_results, run_id="run")
    return plan, set(ran)


def test_a_first_build_runs_everything_and_an_unchanged_one_runs_nothing(con, tmp_path):
    _, ran = _build(con, tmp_path)
    assert ran == ALL_NODES
    plan, ran = _build(con, tmp_path)
    assert ran == set()
    assert plan.reused == {
        "model.iwh.m1": "success",
        "model.iwh.m2": "success",
        "model.iwh.m3": "success",
        "seed.iwh.s": "success",
        "test.iwh.t": "pass",
    }
    assert plan.dbt_args(MANIFEST) == [
        "--exclude",
        "fqn:iwh.m1 fqn:iwh.m2 fqn:iwh.m3 fqn:iwh.s fqn:iwh.t",
        "--indirect-selection",
        "empty",
    ]


def test_a_changed_source_reruns_exactly_what_reads_it(con, tmp_path):
    _build(con, tmp_path)
    con.execute("insert into raw.a values (99)")
    plan, ran = _build(con, tmp_path)
    assert ran == {"model.iwh.m1", "model.iwh.m2", "test.iwh.t"}
    assert set(plan.reused) == {"model.iwh.m3", "seed.iwh.s"}


def test_a_changed_column_type_counts_as_a_changed_source(con, tmp_path):
    _build(con, tmp_path)
    con.execute("create or replace table raw.b as select 'x'::blob as label")
    _, ran = _build(con, tmp_path)
    assert ran == {"model.iwh.m3"}


def test_changed_vars_or_project_rebuild_everything(con, tmp_path):
    _build(con, tmp_path)
    _, ran = _build(con, tmp_path, dbt_vars=["--vars", '{"outcome_variant": "table8_literal"}'])
    assert ran == ALL_NODES
    edited = json.loads(json.dumps(MANIFEST))
    edited["nodes"]["model.iwh.m3"]["raw_code"] = "-- m3, edited"
    _, ran = _build(con, tmp_path, manifest=edited)
    assert ran == ALL_NODES


def test_a_missing_relation_rebuilds_it_and_everything_downstream(con, tmp_path):
    _build(con, tmp_path)
    con.execute("drop table staging.m1")
    _, ran = _build(con, tmp_path)
    assert ran == {"model.iwh.m1", "model.iwh.m2", "test.iwh.t"}


def test_a_failed_node_runs_again_and_a_warning_test_is_reused_with_its_status(con, tmp_path):
    _build(con, tmp_path, statuses={"test.iwh.t": "fail", "model.iwh.m3": "error"})
    plan, ran = _build(con, tmp_path, statuses={"test.iwh.t": "warn"})
    assert ran == {"test.iwh.t", "model.iwh.m3"}
    plan, ran = _build(con, tmp_path)
    assert ran == set()
    assert plan.reused["test.iwh.t"] == "warn"


def test_a_build_that_may_not_reuse_rebuilds_everything(con, tmp_path):
    _build(con, tmp_path)
    plan = plan_build(con, MANIFEST, VARS, reuse=False)
    assert plan.reused == {} and plan.dbt_args(MANIFEST) == []
    assert con.execute(f"select count(*) from {STATE_TABLE}").fetchall() == [(0,)]


def test_planning_forgets_the_nodes_it_will_rebuild(con, tmp_path):
    """A build that dies after planning leaves no stale fingerprint behind for what it was to rebuild."""
    _build(con, tmp_path)
    con.execute("insert into raw.b values ('y')")
    plan_build(con, MANIFEST, VARS)
    stored = {row[0] for row in con.execute(f"select unique_id from {STATE_TABLE}").fetchall()}
    assert stored == ALL_NODES - {"model.iwh.m3"}
