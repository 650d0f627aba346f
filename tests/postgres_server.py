"""A database of its own on the machine's PostgreSQL server (127.0.0.1:5432, user postgres) per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

psycopg = pytest.importorskip("psycopg")

ADMIN_URL = os.environ.get("IWH_TEST_POSTGRES_ADMIN_URL", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def server_available() -> bool:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new database, dropped afterwards with whatever the roles were granted in it."""
    name = f"iwh_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = f"{ADMIN_URL.replace('dbname=postgres', '')} dbname={name}"
    try:
        yield url
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            roles = [r[0] for r in con.execute("select rolname from pg_roles where rolname like 'iwh\\_%'").fetchall()]
            for role in roles:
                con.execute(f'drop owned by "{role}"')
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database "{name}" with (force)')


def read_as(url: str, role: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as con:
        con.execute(f'set role "{role}"')
        return con.execute(query).fetchall()
