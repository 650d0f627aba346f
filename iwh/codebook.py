"""What each exported column is: its label, code list, missing-value reasons and the dbt model it
comes from, read from dbt's manifest.json (a public artefact) and the warehouse.

The dbt project is the one place columns are documented:

- the label is the column's description in the model's YAML, its first sentence, at most 80
  characters (Stata's limit for a variable label). A column a model takes over unchanged from a
  parent model and does not describe again (analysis_dataset's participant columns) has the
  description of the nearest parent model that describes it, and that model is where it comes from;
- ``meta: {kodeliste: <name>}`` on a column names its code list in the seed ``kodelister``
  (``kodeliste, kode, etikett``); every boolean is coded with ``ja_nei``;
- the ``analysis.*`` tables, written by the models step, are dbt sources (``models/analysis/``),
  so they are documented, and have lineage, like the marts.

Why a cell is missing is a rule on the row (``MISSING_REASONS``), written as Stata's extended
missing values: ``.a`` not delivered, ``.b`` not applicable, ``.c`` suppressed. A missing cell no
rule explains is Stata's ``.``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from iwh.reporting import N_, Column, Language, RunFacts, render, table

TEMPLATES = Path(__file__).with_name("templates")
LABEL_CHARACTERS = 80
CODE_LIST_SEED = "kodelister"
BOOLEAN_CODE_LIST = "ja_nei"

NOT_DELIVERED, NOT_APPLICABLE, SUPPRESSED = "a", "b", "c"
MISSING_CODE_TEXTS = {
    NOT_DELIVERED: N_("not delivered"),
    NOT_APPLICABLE: N_("not applicable"),
    SUPPRESSED: N_("suppressed"),
}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class MissingReason:
    """A missing cell of this column on a row where ``when`` (SQL on the row) holds has ``code``."""

    code: str
    when: str
    why: str


# In marts.analysis_dataset a missing value is one the delivery lacked, except where the variable
# does not apply to the row. In the analysis tables a number is missing on a suppressed row because
# it was withheld, and a pooled row has no cohort year; any other missing statistic (a standard
# error a model could not give) has no stated reason and stays ".".
_DELIVERED = MissingReason(NOT_DELIVERED, "true", N_("the delivery has no value"))
_OUTCOME_EXCLUDED = MissingReason(
    NOT_APPLICABLE, "excluded_reason = 'outcome_excluded'", N_("the end reason is outside the outcome")
)
_PER_COLUMN: dict[str, list[MissingReason]] = {
    "fravaer_andel": [MissingReason(NOT_APPLICABLE, "programme = 'jobbsjansen'", N_("Jobbsjansen reports a category"))],
    "maloppnaelse": [_OUTCOME_EXCLUDED],
    "maloppnaelse_3": [
        MissingReason(NOT_APPLICABLE, "programme = 'intro'", N_("Jobbsjansen only")),
        _OUTCOME_EXCLUDED,
    ],
    # The register found the person, whose status (emigrated, dead) is outside the second outcome;
    # otherwise the follow-up was not delivered (for the cohort, or for this person).
    "arbeid_utdanning_1aar": [
        MissingReason(NOT_APPLICABLE, "oppfolging_status = 'koblet'", N_("emigrated or dead by then"))
    ],
}
# The analysis dataset's numeric columns whose missing cells the delivery explains (every other
# numeric column of it is never missing, or is added without a stated reason).
DELIVERED_COLUMNS = frozenset(
    {
        "kjonn_mann",
        "alder",
        "botid",
        "varighet_mnd",
        "fravaer_andel",
        "fravaer_hoy",
        "spor",
        "norsk_score",
        "maloppnaelse",
        "maloppnaelse_3",
        "folkemengde",
        "andel_sysselsatte",
        "andel_uforetrygdede",
        "nettoinnflytting",
        "andel_innvandrere",
        "andel_utvalgte_naeringer",
        "andel_ledige",
        "sentralitet",
        "lonn_per_deltaker_1000kr",
        "arbeid_utdanning_1aar",
        "sosialhjelp_1aar",
    }
)
_POOLED = MissingReason(NOT_APPLICABLE, "true", N_("a row pooled over years"))
_SUPPRESSED = MissingReason(SUPPRESSED, "suppressed", N_("a cell of fewer than 5 persons"))


def missing_reasons(table: str, column: str, table_columns: Sequence[str]) -> list[MissingReason]:
    """The rules for a missing cell of ``table.column``, first match wins."""
    if table == "marts.analysis_dataset":
        if column.startswith("tiltak_") or column in DELIVERED_COLUMNS:
            return [*_PER_COLUMN.get(column, []), _DELIVERED]
        return []
    # An analysis table's cohort year is a key, kept on suppressed rows: only a pooled row lacks it.
    if column == "cohort_year":
        return [_POOLED]
    if "suppressed" in table_columns and column != "suppressed":
        return [_SUPPRESSED]
    return []


@dataclass(frozen=True)
class ColumnDoc:
    label: str
    model: str  # the dbt resource the column comes from: a model name, or `source schema.table`
    code_list: str | None
    accepted_values: tuple[str, ...] = ()  # of a dbt accepted_values test: the codes of a text column


def _label(description: str) -> str:
    text = " ".join(description.replace("`", "").split())
    sentence = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    if len(sentence) <= LABEL_CHARACTERS:
        return sentence
    return sentence[: LABEL_CHARACTERS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _code_list(column: Mapping) -> str | None:
    meta = {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}
    return meta.get("kodeliste")


class Manifest:
    """The documented columns of the dbt project's models and sources, by warehouse table."""

    def __init__(self, manifest: Mapping):
        self._nodes = {
            uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in ("model", "seed")
        }
        self._sources = manifest["sources"]
        self._by_table = {(n["schema"], n.get("alias") or n["name"]): uid for uid, n in self._nodes.items()}
        self._by_table.update({(s["schema"], s["identifier"]): uid for uid, s in self._sources.items()})
        self._accepted = {
            (node.get("attached_node"), node.get("column_name")): tuple(
                map(str, node["test_metadata"]["kwargs"]["values"])
            )
            for node in manifest["nodes"].values()
            if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") == "accepted_values"
        }

    def code_list_table(self) -> str | None:
        """Where the seed of code lists is in the warehouse."""
        for node in self._nodes.values():
            if node["resource_type"] == "seed" and node["name"] == CODE_LIST_SEED:
                return f"{node['schema']}.{node.get('alias') or node['name']}"
        return None

    def _resource(self, uid: str) -> Mapping:
        return self._nodes.get(uid) or self._sources[uid]

    def _name(self, uid: str) -> str:
        resource = self._resource(uid)
        if uid in self._sources:
            return f"source {resource['source_name']}.{resource['name']}"
        return resource["name"]

    def _lineage(self, uid: str) -> list[str]:
        """``uid`` and its parent models and sources, nearest first."""
        seen, order = {uid}, [uid]
        for current in order:
            for parent in self._resource(current).get("depends_on", {}).get("nodes", []):
                if parent not in seen and (parent in self._nodes or parent in self._sources):
                    seen.add(parent)
                    order.append(parent)
        return order

    def column(self, schema: str, table: str, column: str) -> ColumnDoc | None:
        """The column's documentation: its own model's, else the nearest parent model's that describes it."""
        uid = self._by_table.get((schema, table))
        if uid is None:
            return None
        lineage = self._lineage(uid)
        own = self._resource(uid).get("columns", {}).get(column, {})
        described = [
            (node, documented)
            for node in lineage
            if (documented := self._resource(node).get("columns", {}).get(column)) and documented.get("description")
        ]
        origin, documented = described[0] if described else (uid, own)
        # Only the tests of this model or of the one the column comes from: an upstream model's test
        # may check a narrower set (one municipality's rows) than the column holds.
        accepted = self._accepted.get((uid, column)) or self._accepted.get((origin, column), ())
        return ColumnDoc(
            _label(documented.get("description", "")),
            self._name(origin),
            _code_list(own) or _code_list(documented),
            accepted,
        )


def code_lists(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> dict[str, dict[int, str]]:
    """Every code list of the seed, as {name: {code: label}}."""
    location = manifest.code_list_table()
    if location is None:
        return {}
    lists: dict[str, dict[int, str]] = {}
    for name, code, label in con.execute(f"select kodeliste, kode, etikett from {location} order by all").fetchall():
        lists.setdefault(name, {})[int(code)] = label
    return lists


CSV_COLUMNS = ("table", "name", "label", "type", "codes", "missing_share", "missing_codes", "model")


@dataclass(frozen=True)
class CodebookRow:
    table: str
    name: str
    label: str
    type: str
    codes: str
    missing_share: float | None
    missing_codes: str
    model: str


def _codes_text(codes: Mapping[int, str] | None, accepted: Sequence[str]) -> str:
    """Numeric codes with their labels; a text column's codes as its accepted_values test lists them."""
    if codes:
        return "; ".join(f"{code} = {label}" for code, label in sorted(codes.items()))
    return "; ".join(accepted)


def _reasons_text(reasons: Sequence[MissingReason], lang: Language) -> str:
    return "; ".join(f".{r.code} = {lang._(MISSING_CODE_TEXTS[r.code])} ({lang._(r.why)})" for r in reasons)


def codebook_rows(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: str,
    types: Sequence[str],
    value_labels: Mapping[str, Mapping[int, str]],
    docs: Mapping[str, ColumnDoc],
    lang: Language,
) -> list[CodebookRow]:
    """One row per column of ``source`` (exported as ``table``): share missing from the data."""
    columns = con.sql(f"select * from {source}").columns
    shares = con.execute(
        f"select {', '.join(f'avg(({quoted(c)} is null)::double)' for c in columns) or 'null'} from {source}"
    ).fetchall()[0]
    return [
        CodebookRow(
            table=table,
            name=column,
            label=docs[column].label,
            type=sql_type,
            codes=_codes_text(value_labels.get(column), docs[column].accepted_values),
            missing_share=share,
            missing_codes=_reasons_text(missing_reasons(table, column, columns), lang),
            model=docs[column].model,
        )
        for column, sql_type, share in zip(columns, types, shares, strict=True)
    ]


def codebook_csv(rows: Sequence[CodebookRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        share = "" if row.missing_share is None else f"{row.missing_share:.4f}"
        writer.writerow([row.table, row.name, row.label, row.type, row.codes, share, row.missing_codes, row.model])
    return out.getvalue()


def codebook_html(rows: Sequence[CodebookRow], run: RunFacts, lang: Language) -> str:
    """The codebook page in the report style: one table per exported table."""
    columns = [
        Column("name", lang._("Column")),
        Column("label", lang._("Label")),
        Column("type", lang._("Type")),
        Column("codes", lang._("Codes")),
        Column("missing_share", lang._("Missing"), kind="percent", digits=1),
        Column("missing_codes", lang._("Why missing")),
        Column("model", lang._("dbt model")),
    ]
    frame = pd.DataFrame([row.__dict__ for row in rows], columns=list(CSV_COLUMNS))
    tables = [
        (name, table(lang, part, columns, table_id=name.replace(".", "__")))
        for name, part in frame.groupby("table", sort=False)
    ]
    return render(
        TEMPLATES,
        "codebook.html",
        lang,
        title=lang._("Codebook of the exports"),
        run=run,
        tables=tables,
        missing_codes=[(f".{code}", lang._(text)) for code, text in MISSING_CODE_TEXTS.items()],
    )
