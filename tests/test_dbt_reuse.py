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
    STATE_SELECTION,
    dbt_state_path,
    not_yet_built,
    save_state,
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
    "sources": {"source.iwh.raw.a": {"loaded_at_field": "_loaded_at"}},
    "nodes": {
        "model.iwh.m1": _node("model", "m1", "staging", "view"),
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
    for schema in ("staging", "marts", "seeds"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.m2 (id integer)")
    con.execute("create table seeds.s (id integer)")
    con.execute("create view staging.m1 as select 1 as id")
    yield con
    con.close()


def _successful_build(tmp_path: Path, settings: Settings, manifest=MANIFEST) -> Path:
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "sources.json").write_text(json.dumps({"results": [{"unique_id": "source.iwh.raw.a"}]}))
    save_state(target, settings)
    return target


def test_a_home_without_a_successful_build_builds_everything(settings, con):
    assert usable_state(settings, MANIFEST, con) is None


def test_a_successful_build_is_the_state_of_the_next_one(tmp_path, settings, con):
    target = _successful_build(tmp_path, settings)
    state = usable_state(settings, MANIFEST, con)
    assert state == dbt_state_path(settings)
    for artefact in ("manifest.json", "sources.json"):
        assert (state / artefact).read_text() == (target / artefact).read_text()
    assert [*STATE_SELECTION, "--state", str(state)] == [
        "--select",
        "state:modified+ source_status:fresher+",
        "--state",
        str(settings.home / "dbt" / "state"),
    ]


def test_a_missing_model_or_seed_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings)
    con.execute("drop table seeds.s")
    assert usable_state(settings, MANIFEST, con) is None


def test_a_model_added_since_is_left_to_state_modified(tmp_path, settings, con):
    _successful_build(tmp_path, settings)
    grown = json.loads(json.dumps(MANIFEST))
    grown["nodes"]["model.iwh.new"] = _node("model", "new", "marts")
    assert usable_state(settings, grown, con) == dbt_state_path(settings)


def test_a_source_dbt_cannot_tell_the_freshness_of_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings)
    unstamped = json.loads(json.dumps(MANIFEST))
    unstamped["sources"]["source.iwh.raw.b"] = {"loaded_at_field": None}
    assert usable_state(settings, unstamped, con) == dbt_state_path(settings), "a source no node reads"
    unstamped["nodes"]["model.iwh.m2"]["depends_on"] = {"nodes": ["source.iwh.raw.b"]}
    assert usable_state(settings, unstamped, con) is None


def test_another_dbt_version_means_building_everything(tmp_path, settings, con):
    _successful_build(tmp_path, settings)
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
