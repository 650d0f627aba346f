"""Publication to PostgreSQL on a small snapshot of known content: types, roles, whole-or-nothing."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from postgres_server import psycopg, read_as, scratch_database, server_available

from iwh.postgres import init_roles, publish

pytestmark = pytest.mark.skipif(not server_available(), reason="no PostgreSQL server on 127.0.0.1:5432")


def write_snapshot(path: Path, participants: int = 3) -> Path:
    con = duckdb.connect(str(path))
    for schema in ("raw", "marts", "analysis", "quality"):
        con.execute(f"create schema {schema}")
    con.execute(
        f"""
        create table marts.participant_exits as
        select 'k' || i as person_key, 2017 + i % 4 as cohort_year, i % 2 = 0 as kjonn_mann,
               case when i = 1 then null else i * 0.5 end as alder
        from range({participants}) t(i)
        """
    )
    con.execute(
        """
        create table marts.exclusions as select * from (values
            ('intro', 2019, 'nir/nir_deltakere_2019.csv', 1, 'delivered', null, 12),
            ('intro', 2019, 'nir/nir_deltakere_2019.csv', 2, 'quarantined', 'invalid_date', 2)
        ) v(programme, cohort_year, source_file, step_order, step, reason, n_rows)
        """
    )
    con.execute(
        """
        create table analysis.model_fit as select * from (values
            ('M1', 1234, -567.25::double, 0.125::decimal(6, 3), true, date '2020-12-31',
             timestamp '2021-01-02 03:04:05', ''::varchar, null::varchar, [1, 2]::integer[])
        ) v(model, n, log_likelihood, icc, converged, fitted_on, fitted_at, note, missing, ranks)
        """
    )
    con.execute("create table raw.nir_deltakere as select 'secret' as fodselsnummer")
    con.execute("create table quality.validation_results as select 'run-1' as run_id, true as success")
    con.close()
    return path


@pytest.fixture
def database():
    with scratch_database() as url:
        yield url


def test_types_values_and_nulls_arrive_as_in_duckdb(database, tmp_path):
    snapshot = write_snapshot(tmp_path / "warehouse.duckdb")
    publication = publish(database, snapshot, tmp_path)

    assert {(t.schema, t.name, t.rows, t.person_level) for t in publication.tables} == {
        ("marts", "participant_exits", 3, True),
        ("marts", "exclusions", 2, False),
        ("analysis", "model_fit", 1, False),
        ("quality", "validation_results", 1, False),
    }
    with psycopg.connect(database) as con:
        assert con.execute("select * from analysis.model_fit").fetchall() == [
            (
                "M1",
                1234,
                -567.25,
                decimal.Decimal("0.125"),
                True,
                dt.date(2020, 12, 31),
                dt.datetime(2021, 1, 2, 3, 4, 5),
                "",
                None,
                [1, 2],
            )
        ]
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'analysis' and table_name = 'model_fit'"
            ).fetchall()
        )
        assert types == {
            "model": "text",
            "n": "integer",
            "log_likelihood": "double precision",
            "icc": "numeric",
            "converged": "boolean",
            "fitted_on": "date",
            "fitted_at": "timestamp without time zone",
            "note": "text",
            "missing": "text",
            "ranks": "jsonb",
        }
        assert con.execute("select person_key, alder from marts.participant_exits order by 1").fetchall() == [
            ("k0", decimal.Decimal("0.0")),
            ("k1", None),
            ("k2", decimal.Decimal("1.0")),
        ]
        schemas = {r[0] for r in con.execute("select nspname from pg_namespace").fetchall()}
    assert "raw" not in schemas
    assert not [s for s in schemas if s.startswith("iwh_")]


def test_roles_see_what_warehouse_md_says_and_keep_it_across_publications(database, tmp_path):
    init_roles(database)
    with psycopg.connect(database) as con:
        roles = con.execute("select rolname, rolcanlogin from pg_roles where rolname like 'iwh\\_%' order by 1")
        assert roles.fetchall() == [("iwh_analyst", False), ("iwh_auditor", False)]
    again = init_roles(database)
    assert "role iwh_analyst exists" in again and "role iwh_auditor exists" in again
    snapshot = write_snapshot(tmp_path / "warehouse.duckdb")
    for _ in range(2):
        publish(database, snapshot, tmp_path)

    assert read_as(database, "iwh_analyst", "select count(*) from marts.participant_exits") == [(3,)]
    assert read_as(database, "iwh_analyst", "select count(*) from analysis.model_fit") == [(1,)]
    assert read_as(database, "iwh_auditor", "select count(*) from quality.validation_results") == [(1,)]
    assert read_as(database, "iwh_auditor", "select sum(n_rows) from marts.exclusions") == [(14,)]
    assert read_as(database, "iwh_auditor", "select count(*) from analysis.model_fit") == [(1,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        read_as(database, "iwh_auditor", "select count(*) from marts.participant_exits")


def test_a_reader_in_the_middle_of_a_query_finishes_it_across_a_publication(database, tmp_path):
    publish(database, write_snapshot(tmp_path / "old.duckdb", participants=1000), tmp_path)
    with psycopg.connect(database) as reader:
        with reader.cursor(name="long_read") as cursor:
            cursor.itersize = 10
            cursor.execute("select person_key from marts.participant_exits order by cohort_year, person_key")
            first = cursor.fetchmany(10)
            publication = publish(database, write_snapshot(tmp_path / "new.duckdb", participants=7), tmp_path)
            rest = cursor.fetchall()
        assert len(first) + len(rest) == 1000
        reader.rollback()
        assert reader.execute("select count(*) from marts.participant_exits").fetchone() == (7,)
    # The reader held the retired marts; the next publication drops them.
    assert [name.rsplit("_", 1)[0] for name in publication.retired_left] == ["iwh_retired_marts"]
    publish(database, tmp_path / "new.duckdb", tmp_path)
    with psycopg.connect(database) as con:
        left = con.execute("select nspname from pg_namespace where nspname like 'iwh\\_%'").fetchall()
    assert left == []


def test_a_publication_killed_midway_leaves_the_previous_one(database, tmp_path):
    publish(database, write_snapshot(tmp_path / "old.duckdb", participants=5), tmp_path)
    big = write_snapshot(tmp_path / "big.duckdb", participants=1_000_000)
    script = (
        "import sys; from pathlib import Path; from iwh.postgres import publish; "
        "publish(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, database, str(big), str(tmp_path)], env={**os.environ}, cwd=Path.cwd()
    )
    try:
        with psycopg.connect(database, autocommit=True) as con:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                copying = con.execute(
                    "select count(*) from pg_stat_activity where state = 'active' and query like 'copy %iwh_incoming_%'"
                ).fetchone()[0]
                if copying:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the publication never started copying")
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert con.execute("select count(*) from marts.participant_exits").fetchone() == (5,)
    finally:
        if process.poll() is None:
            process.kill()
    publish(database, tmp_path / "old.duckdb", tmp_path)
    with psycopg.connect(database) as con:
        assert con.execute("select nspname from pg_namespace where nspname like 'iwh\\_%'").fetchall() == []


def test_a_full_run_publishes_what_the_snapshot_holds_and_each_role_sees_its_part(
    built_warehouse, session_postgres_url
):
    url = session_postgres_url
    init_roles(url)
    duck = duckdb.connect(str(built_warehouse.settings.published_path), read_only=True)
    try:
        tables = duck.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'analysis', 'quality') and table_type = 'BASE TABLE' order by all"
        ).fetchall()
        expected = {
            f"{schema}.{table}": duck.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
            for schema, table in tables
        }
    finally:
        duck.close()
    assert {"marts.participant_exits", "marts.analysis_dataset", "analysis.model_coefficients"} <= set(expected)
    published = {}
    for name in expected:
        schema, table = name.split(".")
        published[name] = read_as(url, "iwh_analyst", f'select count(*) from {schema}."{table}"')[0][0]
    assert published == expected
    assert read_as(url, "iwh_auditor", "select count(*) from quality.validation_results") == [
        (expected["quality.validation_results"],)
    ]
    for person_level in ("marts.participant_exits", "marts.analysis_dataset"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            read_as(url, "iwh_auditor", f"select count(*) from {person_level}")


def test_iwh_postgres_init_creates_the_roles_and_says_how_to_grant_them(database, tmp_path):
    environment = {**os.environ, "IWH_POSTGRES_URL": database, "IWH_HOME": str(tmp_path)}
    iwh = Path(sys.executable).parent / "iwh"
    first = subprocess.run([iwh, "postgres", "init"], env=environment, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "grant iwh_analyst to <user>" in first.stdout
    again = subprocess.run([iwh, "postgres", "init"], env=environment, capture_output=True, text=True)
    assert "role iwh_analyst exists" in again.stdout and "role iwh_auditor exists" in again.stdout
    unset = {key: value for key, value in environment.items() if key != "IWH_POSTGRES_URL"}
    refused = subprocess.run([iwh, "postgres", "init"], env=unset, capture_output=True, text=True)
    assert refused.returncode == 2 and "IWH_POSTGRES_URL is not set" in refused.stderr
