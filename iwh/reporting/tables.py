"""Tables for the shared table component (``components.html``, macro ``table``).

A table is built in Python from a DataFrame (or its records) and a list of columns, each with a
kind that says how its values are written in the page's language; the template only lays it out.
Every report uses this one component, so a number reads the same on every page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from iwh.reporting.language import SUPPRESSED, Language

# Column kinds and the Language method that writes them; "text" is the value as delivered.
NUMBER_KINDS = {
    "year": "ungrouped",
    "ungrouped": "ungrouped",
    "integer": "integer",
    "count": "count",
    "decimal": "decimal",
    "number": "number",
    "percent": "percent",
    "percent_of_100": "percent_of_100",
    "p_value": "p_value",
}
WITH_DIGITS = {"decimal", "percent", "percent_of_100"}
# "formatted": numbers the caller wrote already (each row with its own decimals), aligned as numbers.
KINDS = {"text", "boolean", "formatted", *NUMBER_KINDS}


@dataclass(frozen=True)
class Column:
    """``key``: the frame's column; ``heading``: translated text; ``kind``: one of KINDS;
    ``digits``: decimals of decimal and percent kinds; ``href``: a column holding a link for the cell;
    ``missing``: what a missing value reads (a statistic withheld for a small cell: ``<5``)."""

    key: str
    heading: str
    kind: str = "text"
    digits: int = 2
    href: str | None = None
    missing: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: no kind {self.kind!r}")

    @property
    def numeric(self) -> bool:
        return self.kind in NUMBER_KINDS or self.kind == "formatted"


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool = False
    href: str | None = None


@dataclass(frozen=True)
class Row:
    """``detail``: text shown in a full-width line beneath the row (kept as written, line breaks too)."""

    cells: Sequence[Cell]
    css: str = ""
    detail: str | None = None


@dataclass(frozen=True)
class Table:
    head: Sequence[Column]
    rows: Sequence[Row]
    id: str | None
    empty: str


def _writer(lang: Language, column: Column) -> Callable[[object], str]:
    if column.kind in ("text", "formatted"):
        return lambda value: "" if value is None or pd.isna(value) else str(value)
    if column.kind == "boolean":
        return lang.boolean
    write = getattr(lang, NUMBER_KINDS[column.kind])
    if column.kind in WITH_DIGITS:
        return lambda value: write(value, column.digits)
    return write


def table(
    lang: Language,
    frame: pd.DataFrame | Sequence[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    table_id: str | None = None,
    suppressed: str | None = None,
    row_class: Callable[[dict], str] | None = None,
    detail: str | None = None,
    empty: str | None = None,
) -> Table:
    """``frame``: a DataFrame or its rows as records (``DataFrame.to_dict("records")``), which spares
    a page of many small tables a DataFrame per table. ``suppressed``: a boolean column; on its true
    rows every empty number reads ``<5``. ``detail``: a column whose text goes beneath its row.
    ``empty``: what is said of no rows."""
    writers = [_writer(lang, column) for column in columns]
    rows = []
    # Records, not iterrows: a Series per row costs more than the whole table's HTML.
    records = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    for record in records:
        hidden = bool(suppressed and record[suppressed])
        cells = []
        for column, write in zip(columns, writers):
            text = write(record[column.key]) or column.missing
            if hidden and column.numeric and text == "":
                text = SUPPRESSED
            href = record[column.href] if column.href and isinstance(record[column.href], str) else None
            cells.append(Cell(text, column.numeric, href))
        note = record[detail] if detail and isinstance(record[detail], str) else None
        rows.append(Row(cells, row_class(record) if row_class else "", note))
    return Table(columns, rows, table_id, lang._("None.") if empty is None else empty)
