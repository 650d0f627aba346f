"""When a build may select against the home's dbt state, and what it keeps of a successful build
(orchestration/transformation/reuse.py), on a small manifest. That dbt then builds exactly what
changed is tested through Dagster in test_dbt_harmonisation.py and test_operations.py.

The project: model staging.m1, model marts.m2, seed seeds.s, an ephemeral model and a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from iwh.settings import Settings
from orchestration.transformation.reuse import (
    dbt_state_path,
    not_yet_built,
    save_state,
    source_loads,
    state_selection,
    usable_state,
)


def _node(resource_type: str, name: str, schema: str, materialized: str = "table") -> dict:
    return {
        "resource_type": resource_type,
        "name": name,
        "schema": schema,
        "alias": name,
        "config": {"materialized": materialized},
    }


MANIFEST = {
    "metadata": {"dbt_version": "1.11.2"},
    "sources": {
        "source.iwh.raw.a": {
            "source_name": "raw",
            "name": "a",
            "schema": "raw",
            "identifier": "a_rows",
            "loaded_at_field": "_loaded_at",
        }
    },
    "nodes": {
        "model.iwh.m1": {**_node("model", "m1", "staging", "view"), "depends_on": {"nodes": ["source.iwh.raw.a"]}},
        "model.iwh.m2": _node("model", "m2", "marts"),
        "model.iwh.e": _node("model", "e", "staging", "ephemeral"),
        "seed.iwh.s": _node("seed", "s", "seeds", "seed"),
        "test.iwh.t": _node("test", "t", "dbt_test__audit", "test"),
    },
}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(landing_dir=tmp_path / "landing", home=tmp_path / "home", pseudonym_key=None)


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("staging", "marts", "seeds", "raw"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.m2 (id integer)")
    con.execute("create table seeds.s (id integer)")
    con.execute("create view staging.m1 as select 1 as id")
    con.execute("create table raw.a_rows as select timestamp '2026-12-01 10:00:00' as _loaded_at, 1 as id")
    yield con
    con.close()


def _successful_build(tmp_path: Path, settings: Settings, con, manifest=MANIFEST) -> Path:
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    (target / "manifest.json").write_text(json.dumps(manifest))
    save_state(target, settings, source_loads(manifest, con))
    return target


def test_a_home_without_a_successful_build_builds_everything(settings, con):
    assert usable_state(settings, MANIFEST, con) is None


def test_a_successful_build_is_the_state_of_the_next_one(tmp_path, settings, con):
    target = _successful_build(tmp_path, settings, con)
    state = usable_state(settings, MANIFEST, con)
    assert state == dbt_state_path(settings)
    assert (state / "manifest.json").read_text() == (target / "manifest.json").read_text()
    assert json.loads((state / "source_loads.json").read_text()) == {"source.iwh.raw.a": "2026-12-01 10:00:00, 1 rows"}
    assert state_selection(state, MANIFEST, source_loads(MANIFEST, con)) == [
        "--select",
        "state:modified+",
        "--state",
        str(settings.home / "dbt" / "state"),
    ], "nothing loaded since: only what was modified"


def test_a_source_loaded_since_is_built_with_what_reads_it(tmp_path, settings, con):
    _successful_build(tmp_path, settings, con)
    state = dbt_state_path(settings)
    changed = ["--select", "state:modified+ source:raw.a+", "--state", str(state)]
    con.execute("insert into raw.a_rows values (timestamp '2026-12-04 09:00:00', 2)")
    assert state_selection(state, MANIFEST, source_loads(MANIFEST, con)) == changed
    con.execute("drop table raw.a_rows")
    assert source_loads(MANIFEST, con) == {"source.iwh.raw.a": None}
    assert state_selection(state, MANIFEST, source_loads(MANIFEST, con)) == changed


def test_a_re_delivery_that_only_removes_rows_is_a_change(tmp_path, settings, con):
    con.execute("insert into raw.a_rows values (timestamp '2026-11-30 08:00:00', 2)")
    _successful_build(tmp_path, settings, con)
    con.execute("delete from raw.a_rows where id = 2")
    assert source_loads(MANIFEST, con) == {"source.iwh.raw.a": "2026-12-01 10:00:00, 1 rows"}, "newest stamp as before"
    assert state_selection(dbt_state_path(settings), MANIFEST, source_loads(MANIFEST, con))[1] == (
        "state:modified+ source:raw.a+"
    )


def test_a_missing_model_or_seed_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings, con)
    con.execute("drop table seeds.s")
    assert usable_state(settings, MANIFEST, con) is None


def test_a_model_added_since_is_left_to_state_modified(tmp_path, settings, con):
    _successful_build(tmp_path, settings, con)
    grown = json.loads(json.dumps(MANIFEST))
    grown["nodes"]["model.iwh.new"] = _node("model", "new", "marts")
    assert usable_state(settings, grown, con) == dbt_state_path(settings)


def test_a_source_dbt_cannot_tell_the_freshness_of_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings, con)
    unstamped = json.loads(json.dumps(MANIFEST))
    unstamped["sources"]["source.iwh.raw.b"] = {"loaded_at_field": None}
    assert usable_state(settings, unstamped, con) == dbt_state_path(settings), "a source no node reads"
    unstamped["nodes"]["model.iwh.m2"]["depends_on"] = {"nodes": ["source.iwh.raw.b"]}
    assert usable_state(settings, unstamped, con) is None


def test_another_dbt_version_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings, con)
    upgraded = {**MANIFEST, "metadata": {"dbt_version": "1.12.0"}}
    assert usable_state(settings, upgraded, con) is None


def test_reused_models_and_seeds_come_before_the_first_result_downstream_of_them():
    """m2 reads m1, s and source b; m1 reads e (ephemeral), which reads source a; t tests m2."""
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["nodes"]["model.iwh.e"]["depends_on"] = {"nodes": ["source.iwh.raw.a"]}
    manifest["nodes"]["model.iwh.m1"]["depends_on"] = {"nodes": ["model.iwh.e"]}
    manifest["nodes"]["model.iwh.m2"]["depends_on"] = {"nodes": ["model.iwh.m1", "seed.iwh.s"]}
    manifest["nodes"]["test.iwh.t"]["depends_on"] = {"nodes": ["model.iwh.m2"]}
    done: set[str] = set()
    # dbt's first result is m2's: nothing upstream of it ran.
    assert not_yet_built(manifest, ["model.iwh.m1", "seed.iwh.s"], done) == [
        "model.iwh.e",
        "model.iwh.m1",
        "seed.iwh.s",
    ]
    done.add("model.iwh.m2")
    assert not_yet_built(manifest, ["model.iwh.m2"], done) == [], "t's parent has its result"
    assert not_yet_built(manifest, sorted(manifest["nodes"]), done) == [], "the build is over: nothing left"


def test_what_a_build_selects_nothing_of_is_reused_whole_in_dependency_order():
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["nodes"]["seed.iwh.s"]["depends_on"] = {"nodes": []}
    manifest["nodes"]["model.iwh.m1"]["depends_on"] = {"nodes": ["model.iwh.m2", "seed.iwh.s"]}
    manifest["nodes"]["model.iwh.m2"]["depends_on"] = {"nodes": ["seed.iwh.s"]}
    assert not_yet_built(manifest, sorted(manifest["nodes"]), set()) == [
        "model.iwh.e",
        "seed.iwh.s",
        "model.iwh.m2",
        "model.iwh.m1",
    ]
