"""The shared warehouse on PostgreSQL: publication of the published DuckDB snapshot, and roles.

Publication copies the `marts`, `analysis` and `quality` schemas of the snapshot into new schemas
(`iwh_incoming_<schema>_<token>`) with COPY, grants them to the roles, and renames them into place
in one transaction. Renaming a schema takes no lock on its tables, so a reader in the middle of a
query keeps reading the retired tables; they are dropped once no reader holds them (at the latest
by the next publication). A publication that fails or is killed before its commit leaves the
previous one in place; its incoming schemas are removed by the next publication.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

PUBLISHED_SCHEMAS = ("marts", "analysis", "quality")
ANALYST_ROLE = "iwh_analyst"
AUDITOR_ROLE = "iwh_auditor"
ROLES = (ANALYST_ROLE, AUDITOR_ROLE)
INCOMING_PREFIX = "iwh_incoming_"
RETIRED_PREFIX = "iwh_retired_"
# The auditors see the data-quality results and the delivery-to-model counts, never a person's row.
AUDITOR_MARTS_TABLES = frozenset({"exclusions"})
PERSON_LEVEL_COLUMN = "person_key"
# One publication at a time per database, whichever machine it comes from (a session-level
# advisory lock).
PUBLICATION_LOCK_KEY = 0x1A_0C_0B_11
COPY_BLOCK_BYTES = 1 << 20
# How long dropping a retired schema waits for readers still in it before leaving it to the next
# publication.
RETIRED_DROP_LOCK_TIMEOUT = "2s"

log = logging.getLogger(__name__)

# DuckDB's type names (information_schema.columns.data_type) → PostgreSQL's. Nested types travel as
# JSON; anything else unknown as text, so a new type never breaks a publication.
_SCALAR_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
}


class PostgresPublicationError(RuntimeError):
    pass


@dataclass(frozen=True)
class PublishedTable:
    schema: str
    name: str
    rows: int
    person_level: bool


@dataclass(frozen=True)
class Publication:
    tables: list[PublishedTable]
    seconds: float
    retired_left: list[str]


@dataclass(frozen=True)
class _Column:
    name: str
    duckdb_type: str

    @property
    def postgres_type(self) -> str:
        if self.duckdb_type.startswith("DECIMAL"):
            return self.duckdb_type.lower().replace("decimal", "numeric")
        if self.duckdb_type.endswith("]") or self.duckdb_type.startswith(("STRUCT", "MAP")):
            return "jsonb"
        return _SCALAR_TYPES.get(self.duckdb_type, "text")

    @property
    def export_expression(self) -> str:
        quoted = '"' + self.name.replace('"', '""') + '"'
        if self.postgres_type == "jsonb":
            return f"to_json({quoted}) as {quoted}"
        if self.postgres_type == "text" and self.duckdb_type != "VARCHAR":
            return f"cast({quoted} as varchar) as {quoted}"
        return quoted


def auditor_may_read(schema: str, table: str, person_level: bool) -> bool:
    """warehouse.md: quality.*, marts.exclusions and the aggregate analysis.* tables."""
    if person_level:
        return False
    if schema == "quality":
        return True
    if schema == "marts":
        return table in AUDITOR_MARTS_TABLES
    return schema == "analysis"


def connect(url: str, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as error:
        raise PostgresPublicationError(f"could not connect to PostgreSQL (IWH_POSTGRES_URL): {error}") from error


def init_roles(url: str) -> list[str]:
    """Create the roles and their privileges; idempotent. Returns what it did, for the user.

    The default privileges make every table the publishing login creates readable by the analysts,
    so later publications keep their grants; the auditors' narrower grants are given table by
    table by each publication (auditor_may_read).
    """
    done = []
    with connect(url, autocommit=True) as con:
        owner = con.execute("select current_user").fetchone()[0]
        database = con.execute("select current_database()").fetchone()[0]
        for role in ROLES:
            exists = con.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            if exists:
                done.append(f"role {role} exists")
            else:
                con.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
                done.append(f"created role {role}")
            con.execute(
                sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), sql.Identifier(role))
            )
        con.execute(
            sql.SQL("alter default privileges for role {} grant usage on schemas to {}, {}").format(
                sql.Identifier(owner), sql.Identifier(ANALYST_ROLE), sql.Identifier(AUDITOR_ROLE)
            )
        )
        con.execute(
            sql.SQL("alter default privileges for role {} grant select on tables to {}").format(
                sql.Identifier(owner), sql.Identifier(ANALYST_ROLE)
            )
        )
        done.append(f"default privileges of {owner}: usage on new schemas, select on new tables for {ANALYST_ROLE}")
        with con.transaction():
            published = _published_tables(con)
            _grant(con, published, {schema: schema for schema in {t.schema for t in published}})
        done.append(f"grants on the {len(published)} published tables")
    return done


def publish(
    url: str,
    snapshot: Path,
    scratch_dir: Path,
    progress: Callable[[str], None] = lambda line: None,
) -> Publication:
    """Publish the snapshot's marts, analysis and quality schemas, whole or not at all."""
    started = time.monotonic()
    token = uuid.uuid4().hex[:12]
    incoming = {schema: f"{INCOMING_PREFIX}{schema}_{token}" for schema in PUBLISHED_SCHEMAS}
    source = duckdb.connect(str(snapshot), read_only=True)
    try:
        tables = _snapshot_tables(source)
        with connect(url) as con:
            # Held for the whole publication, and released by the server if this process dies.
            con.execute("select pg_advisory_lock(%s)", (PUBLICATION_LOCK_KEY,))
            con.commit()
            _drop_leftovers(con)
            published: list[PublishedTable] = []
            with con.transaction():
                for schema in PUBLISHED_SCHEMAS:
                    con.execute(sql.SQL("create schema {}").format(sql.Identifier(incoming[schema])))
            for schema, table, columns in tables:
                rows = _copy_table(source, con, schema, table, columns, incoming[schema], scratch_dir)
                con.commit()
                person_level = any(column.name == PERSON_LEVEL_COLUMN for column in columns)
                published.append(PublishedTable(schema, table, rows, person_level))
                progress(f"{schema}.{table}: {rows} rows")
            retired = _swap_in(con, published, incoming, token)
            retired_left = _drop_retired(con, retired)
            con.execute("select pg_advisory_unlock(%s)", (PUBLICATION_LOCK_KEY,))
            con.commit()
    finally:
        source.close()
    return Publication(published, time.monotonic() - started, retired_left)


def _snapshot_tables(source: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[_Column]]]:
    rows = source.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        inner join information_schema.tables as t using (table_catalog, table_schema, table_name)
        where c.table_schema in (select unnest(?)) and t.table_type = 'BASE TABLE'
        order by c.table_schema, c.table_name, c.ordinal_position
        """,
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    tables: dict[tuple[str, str], list[_Column]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault((schema, table), []).append(_Column(column, data_type))
    missing = [schema for schema in PUBLISHED_SCHEMAS if not any(key[0] == schema for key in tables)]
    if missing:
        raise PostgresPublicationError(f"the snapshot has no tables in schema(s) {', '.join(missing)}")
    return [(schema, table, columns) for (schema, table), columns in tables.items()]


def _copy_table(
    source: duckdb.DuckDBPyConnection,
    con: psycopg.Connection,
    schema: str,
    table: str,
    columns: list[_Column],
    target_schema: str,
    scratch_dir: Path,
) -> int:
    target = sql.Identifier(target_schema, table)
    con.execute(
        sql.SQL("create table {} ({})").format(
            target,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.postgres_type)) for c in columns
            ),
        )
    )
    # DuckDB writes the CSV (NULL unquoted and empty, an empty string as ""), which is exactly what
    # PostgreSQL's COPY … (format csv) reads back; COPY streams it without a row in Python.
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="postgres-copy-") as scratch:
        path = Path(scratch) / "table.csv"
        select = ", ".join(c.export_expression for c in columns)
        source.execute(f'copy (select {select} from "{schema}"."{table}") to \'{path}\' (format csv, header false)')
        with con.cursor() as cursor:
            with cursor.copy(sql.SQL("copy {} from stdin (format csv)").format(target)) as copy, open(path, "rb") as f:
                while block := f.read(COPY_BLOCK_BYTES):
                    copy.write(block)
            return cursor.rowcount


def _published_tables(con: psycopg.Connection, schemas: Iterable[str] = PUBLISHED_SCHEMAS) -> list[PublishedTable]:
    rows = con.execute(
        """
        select t.table_schema, t.table_name,
               exists (select 1 from information_schema.columns as c
                       where c.table_schema = t.table_schema and c.table_name = t.table_name
                         and c.column_name = %s)
        from information_schema.tables as t
        where t.table_schema = any(%s) and t.table_type = 'BASE TABLE'
        order by 1, 2
        """,
        (PERSON_LEVEL_COLUMN, list(schemas)),
    ).fetchall()
    return [PublishedTable(schema, table, -1, person_level) for schema, table, person_level in rows]


def _existing_roles(con: psycopg.Connection) -> set[str]:
    rows = con.execute("select rolname from pg_roles where rolname = any(%s)", (list(ROLES),)).fetchall()
    return {row[0] for row in rows}


def _grant(con: psycopg.Connection, tables: list[PublishedTable], physical_schema: dict[str, str]) -> None:
    """The grants of warehouse.md on the given tables, where the roles exist (`iwh postgres init`)."""
    roles = _existing_roles(con)
    if not roles:
        return
    for schema in sorted({t.schema for t in tables}):
        con.execute(
            sql.SQL("grant usage on schema {} to {}").format(
                sql.Identifier(physical_schema[schema]), sql.SQL(", ").join(map(sql.Identifier, sorted(roles)))
            )
        )
    for table in tables:
        identifier = sql.Identifier(physical_schema[table.schema], table.name)
        if ANALYST_ROLE in roles:
            con.execute(sql.SQL("grant select on {} to {}").format(identifier, sql.Identifier(ANALYST_ROLE)))
        if AUDITOR_ROLE in roles and auditor_may_read(table.schema, table.name, table.person_level):
            con.execute(sql.SQL("grant select on {} to {}").format(identifier, sql.Identifier(AUDITOR_ROLE)))


def _swap_in(con: psycopg.Connection, tables: list[PublishedTable], incoming: dict[str, str], token: str) -> list[str]:
    retired = []
    with con.transaction():
        _grant(con, tables, incoming)
        for schema in PUBLISHED_SCHEMAS:
            exists = con.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
            if exists:
                retired_name = f"{RETIRED_PREFIX}{schema}_{token}"
                con.execute(
                    sql.SQL("alter schema {} rename to {}").format(sql.Identifier(schema), sql.Identifier(retired_name))
                )
                retired.append(retired_name)
            con.execute(
                sql.SQL("alter schema {} rename to {}").format(sql.Identifier(incoming[schema]), sql.Identifier(schema))
            )
    return retired


def _drop_retired(con: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Drop retired schemas that no reader holds; the names of those left for the next publication."""
    left = []
    for schema in schemas:
        try:
            with con.transaction():
                con.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(RETIRED_DROP_LOCK_TIMEOUT)))
                con.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
        except psycopg.errors.LockNotAvailable:
            left.append(schema)
    return left


def _drop_leftovers(con: psycopg.Connection) -> None:
    """Incoming schemas of publications that never committed, and retired ones readers held then.
    The caller holds the publication lock, so no other publication is under way."""
    with con.transaction():
        names = [
            row[0]
            for row in con.execute(
                "select nspname from pg_namespace where nspname like %s or nspname like %s",
                (INCOMING_PREFIX + "%", RETIRED_PREFIX + "%"),
            ).fetchall()
        ]
    left = _drop_retired(con, names)
    if left:
        log.warning("retired schemas still read by someone, dropped by a later publication: %s", ", ".join(left))
