"""One delivered file → typed-as-text raw rows plus quarantine rows, before any warehouse write.

Everything happens in a private in-memory DuckDB ("scratch"), so the identifiers read from
the file never reach the warehouse connection, not even in a temporary table: only the
finished rows (with person keys) and the quarantine rows leave this module.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import duckdb
import pyarrow as pa

from iwh.landing.contract import SSB_MISSING_SYMBOLS, SSB_STATBANK, CodeList, Column, Kind, Source
from iwh.landing.discovery import LandingFile
from iwh.landing.errors import DeliveryError, redact
from iwh.landing.identifiers import compact_sql, key_identifiers, valid_sql
from iwh.landing.readers import DELIVERED_TABLE, read_delivery
from iwh.landing.schema import quote, raw_columns

DATE_FORMATS = "['%d.%m.%Y', '%Y-%m-%d']"
DECIMAL_PATTERN = "[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)"
# Identifier-shaped numbers anywhere outside the identifier columns (a shifted column, a
# free-text comment) are removed before a cell is stored: nothing in the contract has 11+ digits.
IDENTIFIER_SHAPED = "[0-9]{6}[ -]?[0-9]{5,6}"
IDENTIFIER_REMOVED = "<identifier removed>"
DETAIL_VALUE_CHARS = 40
QUARANTINE_VALUE_CHARS = 200
PARALLEL_FROM_BYTES = 8 << 20
STATBANK_VALUE_HEADER = re.compile(r"\s*\d+\s*:")


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    valid_from: dt.date
    valid_to: dt.date | None


@dataclass(frozen=True)
class PreparedFile:
    file: LandingFile
    rows: pa.Table  # rows for raw.<source>
    quarantine: pa.Table  # rows for quality.quarantine
    rows_delivered: int
    rows_quarantined: int
    quarantine_counts: dict[str, int]  # reason → quarantine entries
    extra_columns: tuple[str, ...]  # delivered names, redacted
    encoding: str
    scrubbed_cells: dict[str, int] = field(default_factory=dict)  # column → cells with a number removed


@dataclass(frozen=True)
class _Layout:
    """Where each contract column sits in the delivered file (c0, c1, …)."""

    positions: dict[str, str]  # contract column name → delivered column id
    extras: tuple[tuple[str, str], ...]  # (delivered name, column id)
    statbank_value: str | None = None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scrubbed(value: str) -> str:
    return (
        f"case when length({value}) >= 11 and regexp_matches({value}, '{IDENTIFIER_SHAPED}') "
        f"then regexp_replace({value}, '{IDENTIFIER_SHAPED}', '{IDENTIFIER_REMOVED}', 'g') else {value} end"
    )


def _shown(value_sql: str) -> str:
    return f"'''' || left({value_sql}, {DETAIL_VALUE_CHARS}) || ''''"


def _map_header(
    source: Source, header: Sequence[str], relative_path: str, scratch: duckdb.DuckDBPyConnection
) -> _Layout:
    by_name = {c.name.lower(): c for c in source.columns}
    positions: dict[str, str] = {}
    extras: list[tuple[str, str]] = []
    statbank_value = None
    seen: set[str] = set()
    for index, name in enumerate(header):
        column_id = f"c{index}"
        folded = name.lower()
        if folded in seen and folded:
            raise DeliveryError(relative_path, "this column appears twice in the header", row=1, column=redact(name))
        seen.add(folded)
        if folded in by_name:
            positions[by_name[folded].name] = column_id
        elif source is SSB_STATBANK and STATBANK_VALUE_HEADER.match(name):
            if statbank_value is not None:
                raise DeliveryError(
                    relative_path, "more than one value column '<table>: <title>'", row=1, column=redact(name)
                )
            statbank_value = column_id
        elif name:
            extras.append((redact(name), column_id))
        elif _has_values(scratch, column_id):
            extras.append((f"column_{index + 1}", column_id))
    missing = [
        c.name for c in source.columns if c.required and c.kind is not Kind.IDENTIFIER and c.name not in positions
    ]
    if source.identifier_columns and not any(name in positions for name in source.identifier_columns):
        missing.insert(0, " or ".join(source.identifier_columns))
    if source is SSB_STATBANK and statbank_value is None:
        missing.append("<table>: <title>")
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise DeliveryError(relative_path, f"required {noun} missing: {', '.join(missing)}", row=1)
    return _Layout(positions=positions, extras=tuple(extras), statbank_value=statbank_value)


def _has_values(scratch: duckdb.DuckDBPyConnection, column_id: str) -> bool:
    found = scratch.execute(
        f"select count(*) from {DELIVERED_TABLE} where nullif(trim({column_id}), '') is not null"
    ).fetchall()[0][0]
    return found > 0


def _label_key(value: str) -> str:
    """A label as compared with a code list: case, surrounding and repeated spaces, dash type and
    spaces around a slash are not significant (the same rule as dbt's label_key macro)."""
    dashes = f"replace(replace({value}, '–', '-'), '—', '-')"
    return rf"regexp_replace(regexp_replace(lower({dashes}), '\s+', ' ', 'g'), '\s*/\s*', '/', 'g')"


def unknown_label_advice(seed: str, quoted_value: bool = False) -> str:
    """What to do about a label its seed does not know (Norwegian: a data manager reads it)."""
    subject = " finnes ikke i" if quoted_value else "Etiketten finnes ikke i"
    return (
        f"{subject} seed `{seed}`: legg etiketten til i seed `{seed}` (dbt_project/seeds/{seed}.csv) "
        "for å kartlegge den, eller be dataeieren rette leveransen"
    )


def _label_keys(scratch: duckdb.DuckDBPyConnection, labels: Sequence[str]) -> list[str]:
    """A seed's labels as _label_key compares them, computed by the same SQL as the cells'."""
    rows = scratch.execute(
        f"select distinct {_label_key('trim(label)')} from unnest(?::varchar[]) as t(label) order by 1", [list(labels)]
    ).fetchall()
    return [key for (key,) in rows]


def _normalised(column: Column, value: str) -> str:
    if column.kind is Kind.DECIMAL:
        return f"replace({value}, ',', '.')"
    if column.kind is Kind.DATE:
        return f"coalesce(strftime(try_strptime({value}, {DATE_FORMATS}), '%Y-%m-%d'), {value})"
    return value


class _Checks:
    """Row-level checks as SQL, evaluated in one pass over the rows.

    Each check is a CASE giving a struct (column_name, reason, detail, value) for a failing row; the
    list of them is unnested into quarantine rows.
    """

    def __init__(
        self,
        source: Source,
        cohort_year: int | None,
        municipalities: Sequence[Municipality],
        label_keys: Mapping[CodeList, Sequence[str]],
    ):
        self.source = source
        self.cohort_year = cohort_year
        self.label_keys = label_keys
        self.municipality_codes = ", ".join(sorted({_literal(m.code) for m in municipalities})) or "null"
        self.municipality_names = ", ".join(sorted({_literal(m.name.lower()) for m in municipalities})) or "null"
        self.problems: list[str] = []

    def add(self, column_sql: str, reason: str, condition: str, detail: str, value: str = "null") -> None:
        """value: the offending cell (never an identifier), NULL where there is none to show."""
        shown = "null::varchar" if value == "null" else f"left({value}, {QUARANTINE_VALUE_CHARS})"
        self.problems.append(
            f"case when {condition} then "
            f"{{'column_name': {column_sql}, 'reason': {_literal(reason)}, 'detail': {detail}, 'value': {shown}}} end"
        )

    def column(self, column: Column, value: str) -> None:
        name = _literal(column.name)
        add = functools.partial(self.add, value=value)
        if column.kind is Kind.INTEGER:
            add(name, "invalid_number", f"{value} is not null and not regexp_full_match({value}, '[+-]?[0-9]+')",
                f"{_shown(value)} || ' is not a whole number'")  # fmt: skip
        elif column.kind is Kind.DECIMAL:
            add(name, "invalid_number", f"{value} is not null and not regexp_full_match({value}, '{DECIMAL_PATTERN}')",
                f"{_shown(value)} || ' is not a number'")  # fmt: skip
        elif column.kind is Kind.DATE:
            parsed = f"try_strptime({value}, {DATE_FORMATS})"
            add(name, "invalid_date", f"{value} is not null and {parsed} is null",
                f"{_shown(value)} || ' is not a date (dd.mm.yyyy or yyyy-mm-dd)'")  # fmt: skip
            if column.value_required:
                self.add(name, "invalid_date", f"{value} is null", f"'empty: {column.name} is required'")
            if column.name == self.source.cohort_date_column:
                add(name, "date_outside_cohort", f"year({parsed}) <> {self.cohort_year}",
                    f"strftime({parsed}, '%Y-%m-%d') || ' is outside cohort year {self.cohort_year}'")  # fmt: skip
        elif column.kind is Kind.CODE:
            allowed = ", ".join(_literal(code) for code in sorted(column.codes))
            comparable = (
                f"case when regexp_full_match({value}, '[0-9]{{1,9}}') "
                f"then cast(cast({value} as bigint) as varchar) else {_label_key(value)} end"
            )
            add(name, "code_outside_list", f"{value} is not null and {comparable} not in ({allowed})",
                f"{_shown(value)} || ' is not one of {column.code_label}'")  # fmt: skip
        elif column.kind is Kind.LABEL:
            assert column.code_list is not None, column
            seed = column.code_list.seed
            known = ", ".join(_literal(key) for key in self.label_keys[column.code_list]) or "null"
            add(name, "unknown_label", f"{value} is not null and {_label_key(value)} not in ({known})",
                f"{_shown(value)} || {_literal(unknown_label_advice(seed, quoted_value=True))}")  # fmt: skip
        elif column.kind is Kind.MUNICIPALITY_CODE:
            # Excel-edited CSVs lose the leading zero of 0301; the code is still unambiguous.
            code = f"case when regexp_full_match({value}, '[0-9]{{1,3}}') then lpad({value}, 4, '0') else {value} end"
            add(name, "unknown_municipality", f"{value} is not null and {code} not in ({self.municipality_codes})",
                f"{_shown(value)} || ' is not a KLASS 131 municipality code valid in {self.cohort_year}'")  # fmt: skip
        elif column.kind is Kind.MUNICIPALITY_NAME:
            add(name, "unknown_municipality",
                f"{value} is not null and lower({value}) not in ({self.municipality_names})",
                f"{_shown(value)} || ' is not a KLASS 131 municipality name valid in {self.cohort_year}'")  # fmt: skip

    def sql(self) -> str:
        problems = ", ".join(self.problems) if self.problems else ""
        per_row = (
            f"select _row_number as row_number, problem.column_name, problem.reason, problem.detail, problem.value from "
            f"(select _row_number, unnest(list_filter([{problems}], lambda p: p is not null)) as problem from keyed)"
        )
        if not self.problems:
            per_row = (
                "select null::integer as row_number, null as column_name, null as reason, null as detail, "
                "null as value where false"
            )
        if self.source.one_row_per_person:
            return f"{per_row} union all {DUPLICATE_PERSONS}"
        return per_row


# Every row of a person who appears more than once: which one is right cannot be known.
DUPLICATE_PERSONS = """
    select _row_number as row_number, id_column as column_name, 'duplicate_person' as reason,
           'the same person is in rows ' || array_to_string(list_sort(rows)[1:10], ', ')
           || case when len(rows) > 10 then ', …' else '' end as detail,
           null::varchar as value
    from (
        select _row_number, id_column, list(_row_number) over (partition by person_key) as rows
        from keyed where person_key is not null
    ) where len(rows) > 1
"""


def prepare_file(
    source: Source,
    file: LandingFile,
    cohort_year: int | None,
    pseudonym_key: str | None,
    municipalities: Sequence[Municipality],
    loaded_at: dt.datetime,
    code_lists: Mapping[CodeList, Sequence[str]] | None = None,
) -> PreparedFile:
    """Read, validate and pseudonymise one file. Raises DeliveryError on file-level problems.

    code_lists: the labels of each seed code list the source's LABEL columns name.
    """
    scratch = duckdb.connect(":memory:")
    if file.size < PARALLEL_FROM_BYTES:
        # Thread start-up costs more than it saves on a small file.
        scratch.execute("set threads = 1")
    try:
        return _prepare(scratch, source, file, cohort_year, pseudonym_key, municipalities, loaded_at, code_lists or {})
    finally:
        scratch.close()


def _prepare(
    scratch: duckdb.DuckDBPyConnection,
    source: Source,
    file: LandingFile,
    cohort_year: int | None,
    pseudonym_key: str | None,
    municipalities: Sequence[Municipality],
    loaded_at: dt.datetime,
    code_lists: Mapping[CodeList, Sequence[str]],
) -> PreparedFile:
    widths = {c.name.lower(): c.width for c in source.columns if c.width}
    delivered = read_delivery(file.path, file.relative_path, scratch, widths)
    layout = _map_header(source, delivered.header, file.relative_path, scratch)

    scrubbed = _store_keyed_cells(scratch, source, layout, pseudonym_key)

    label_keys = {code_list: _label_keys(scratch, code_lists[code_list]) for code_list in source.code_lists}
    checks = _Checks(source, cohort_year, _valid_in(municipalities, cohort_year), label_keys)
    for column in source.stored_columns:
        checks.column(column, quote(column.raw_name))
    if layout.statbank_value:
        symbols = ", ".join(_literal(s) for s in SSB_MISSING_SYMBOLS)
        checks.add(
            "'value'",
            "invalid_number",
            f"_statbank_value is not null and _statbank_value not in ({symbols}) and "
            f"not regexp_full_match(_statbank_value, '{DECIMAL_PATTERN}')",
            f"{_shown('_statbank_value')} || ' is neither a number nor an SSB symbol (. .. ... :)'",
            value="_statbank_value",
        )
    if source.identifier_columns:
        checks.add("id_column", "invalid_identifier", "id_problem is not null", "id_problem")

    lineage = {
        "_source_file": _literal(file.relative_path),
        "_file_sha256": _literal(file.sha256),
        "_loaded_at": f"{_literal(loaded_at.isoformat(sep=' '))}::timestamp",
    }
    quarantine = _arrow(
        scratch,
        f"""
        select {_literal(source.name)} as source, {"null" if cohort_year is None else cohort_year}::integer as cohort_year,
               {lineage["_source_file"]} as source_file, {lineage["_file_sha256"]} as file_sha256,
               row_number::integer as row_number, column_name, reason, detail, value,
               {lineage["_loaded_at"]} as loaded_at
        from ({checks.sql()}) order by row_number, column_name, reason
        """,
    )
    rows = _arrow(scratch, _raw_select(source, layout, cohort_year, lineage, file))
    reasons = quarantine.column("reason").to_pylist()
    return PreparedFile(
        file=file,
        rows=rows,
        quarantine=quarantine,
        rows_delivered=rows.num_rows,
        rows_quarantined=len(set(quarantine.column("row_number").to_pylist())),
        quarantine_counts={reason: reasons.count(reason) for reason in sorted(set(reasons))},
        extra_columns=tuple(name for name, _ in layout.extras),
        encoding=delivered.encoding,
        scrubbed_cells=scrubbed,
    )


def _arrow(scratch: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    # Measured: a record-batch reader on an executed query is the cheapest way out of DuckDB's
    # Python layer (the relation API it recommends instead re-tokenises the SQL in Python).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
        return scratch.execute(query).to_arrow_reader().read_all()


def _valid_in(municipalities: Sequence[Municipality], cohort_year: int | None) -> list[Municipality]:
    if cohort_year is None:
        return list(municipalities)
    first, last = dt.date(cohort_year, 1, 1), dt.date(cohort_year, 12, 31)
    return [m for m in municipalities if m.valid_from <= last and (m.valid_to is None or m.valid_to >= first)]


def _store_keyed_cells(
    scratch: duckdb.DuckDBPyConnection, source: Source, layout: _Layout, pseudonym_key: str | None
) -> dict[str, int]:
    """keyed: per row, one trimmed, identifier-scrubbed text value per contract column (NULL when
    absent), plus person_key, id_type, id_column and id_problem (NULL when the identifier is valid).

    Identifier values exist only inside this scratch database. Returns, per column, how many
    cells had an identifier-shaped number removed.
    """
    identifier_ids = {layout.positions.get(c.name) for c in source.columns if c.kind is Kind.IDENTIFIER}
    stored_ids = [
        cid
        for cid in [*layout.positions.values(), *(cid for _, cid in layout.extras), layout.statbank_value]
        if cid and cid not in identifier_ids
    ]
    scrub_candidates = _long_columns(scratch, stored_ids)
    names = {layout.positions[c.name]: c.name for c in source.stored_columns if c.name in layout.positions}
    names |= {cid: name for name, cid in layout.extras}
    if layout.statbank_value:
        names[layout.statbank_value] = "value"

    def cell(column_id: str) -> str:
        trimmed = _trimmed(column_id)
        return _scrubbed(trimmed) if column_id in scrub_candidates else trimmed

    cell_columns = ["_row_number"]
    for column in source.columns:
        column_id = layout.positions.get(column.name)
        if column.kind is Kind.IDENTIFIER:
            cell_columns.append(
                f"{_trimmed(column_id) if column_id else 'null::varchar'} as {quote('_id_' + column.name)}"
            )
        else:
            cell_columns.append(f"{cell(column_id) if column_id else 'null::varchar'} as {quote(column.raw_name)}")
    if layout.statbank_value:
        cell_columns.append(f"{cell(layout.statbank_value)} as _statbank_value")
    for index, (_, column_id) in enumerate(layout.extras):
        cell_columns.append(f"{cell(column_id)} as _extra_{index}")
    cells = f"select {', '.join(cell_columns)} from {DELIVERED_TABLE}"

    if source.identifier_columns:
        scratch.register("identifiers", _keyed_identifiers(scratch, source, layout, pseudonym_key))
        choice = " ".join(
            f"when {quote('_id_' + name)} is not null then {_literal(name)}" for name in source.identifier_columns
        )
        value = "coalesce(" + ", ".join(quote("_id_" + name) for name in source.identifier_columns) + ")"
        missing = (
            f"'empty: {source.identifier_columns[0]} is required'"
            if len(source.identifier_columns) == 1
            else f"'empty: neither {' nor '.join(source.identifier_columns)} is given'"
        )
        scratch.execute(
            f"""
            create table keyed as
            with cells as ({cells})
            select c.*, i.person_key, coalesce(i.id_column, {_literal(source.identifier_columns[0])}) as id_column,
                   case when i.id_column = 'duf' then 'duf' when i.id_column is not null then 'fnr' end as id_type,
                   case when i.id_column is null then {missing} else i.id_problem end as id_problem
            from cells c
            left join identifiers i on i.id_column = (case {choice} end) and i.id_value = {value}
            """
        )
        scratch.unregister("identifiers")
    else:
        scratch.execute(f"create table keyed as {cells}")

    if not scrub_candidates:
        return {}
    found = scratch.execute(
        "select "
        + ", ".join(f"count(*) filter (where {_trimmed(cid)} <> {cell(cid)})" for cid in scrub_candidates)
        + f" from {DELIVERED_TABLE}"
    ).fetchall()[0]
    return {names[cid]: n for cid, n in zip(scrub_candidates, found, strict=True) if n}


def _trimmed(column_id: str) -> str:
    return f"nullif(trim({column_id}), '')"


def _long_columns(scratch: duckdb.DuckDBPyConnection, column_ids: Sequence[str]) -> list[str]:
    """Columns holding a value long enough to hide an identifier; only these need the regex."""
    if not column_ids:
        return []
    lengths = scratch.execute(
        "select "
        + ", ".join(f"coalesce(max(length(trim({cid}))), 0)" for cid in column_ids)
        + f" from {DELIVERED_TABLE}"
    ).fetchall()[0]
    return [cid for cid, longest in zip(column_ids, lengths, strict=True) if longest >= 11]


def _keyed_identifiers(
    scratch: duckdb.DuckDBPyConnection, source: Source, layout: _Layout, pseudonym_key: str | None
) -> pa.Table:
    """(id_column, id_value, person_key, id_problem) for every distinct delivered identifier."""
    if pseudonym_key is None:
        raise ValueError(f"{source.name} holds identifiers: a pseudonym key is required")
    columns: dict[str, list] = {"id_column": [], "id_value": [], "person_key": [], "id_problem": []}
    for name in source.identifier_columns:
        column_id = layout.positions.get(name)
        if column_id is None:
            continue
        id_type = "duf" if name == "duf" else "fnr"
        screened = _arrow(
            scratch,
            f"select value, digits, {valid_sql('digits', id_type)} as passed from ("
            f"  select value, {compact_sql('value')} as digits from ("
            f"    select distinct {_trimmed(column_id)} as value from {DELIVERED_TABLE} where {_trimmed(column_id)} is not null))",
        )
        values = screened.column("value").to_pylist()
        keys, problems = key_identifiers(
            screened.column("digits").to_pylist(), screened.column("passed").to_pylist(), id_type, pseudonym_key
        )
        columns["id_column"] += [name] * len(values)
        columns["id_value"] += values
        columns["person_key"] += keys
        columns["id_problem"] += problems
    return pa.table({column_name: pa.array(cells, pa.string()) for column_name, cells in columns.items()})


def _raw_select(
    source: Source, layout: _Layout, cohort_year: int | None, lineage: dict[str, str], file: LandingFile
) -> str:
    outputs = {c.raw_name: _normalised(c, quote(c.raw_name)) for c in source.stored_columns}
    if source is SSB_STATBANK:
        symbols = ", ".join(_literal(s) for s in SSB_MISSING_SYMBOLS)
        region = quote("region")
        outputs |= {
            "tabell": _literal(PurePosixPath(file.relative_path).stem),
            "kommunenummer": f"nullif(regexp_extract({region}, '^(?:K-)?([0-9]{{4}})\\s', 1), '')",
            "region_navn": f"coalesce(nullif(regexp_replace({region}, '^(?:K-)?[0-9]+\\s+', ''), ''), {region})",
            "value": f"case when _statbank_value in ({symbols}) then null else replace(_statbank_value, ',', '.') end",
            "ssb_symbol": f"case when _statbank_value in ({symbols}) then _statbank_value end",
        }
    if source.identifier_columns:
        outputs["person_key"] = "person_key"
    if len(source.identifier_columns) > 1:
        outputs["id_type"] = "id_type"
    if source.partitioned:
        outputs["cohort_year"] = f"{cohort_year}::integer"
    outputs |= lineage
    outputs["_row_number"] = "_row_number"
    if layout.extras:
        pairs = ", ".join(f"{_literal(name)}, _extra_{i}" for i, (name, _) in enumerate(layout.extras))
        outputs["_extra_columns"] = f"json_object({pairs})::varchar"
    else:
        outputs["_extra_columns"] = "null::varchar"
    ordered = [name for name, _ in raw_columns(source)]
    assert set(ordered) == set(outputs), set(ordered) ^ set(outputs)
    select = ", ".join(f"{outputs[name]} as {quote(name)}" for name in ordered)
    return f"select {select} from keyed order by _row_number"
