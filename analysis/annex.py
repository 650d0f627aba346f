"""The annex "Rapport 13/2022 og denne kjøringen": every number the report publishes that the
warehouse computes, beside this run's value.

The published numbers are data (``report_13_2022.csv``): each row names the report's table, row and
column as printed, the value, and where this run keeps the same quantity — an analysis.* table, a
key (``column=value;…``, an empty value meaning NULL) that selects one row of it, the column, and a
scale (100 for a proportion the report prints in percent). A known difference of definition has a
one-line explanation in bokmål and English.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.specification import OUTCOME

PUBLISHED_PATH = Path(__file__).with_name("report_13_2022.csv")
LANGUAGES = ("nb", "en")
COLUMNS = [
    "report_table",
    "row",
    "column",
    "unit",
    "published",
    "decimals",
    "this_run",
    "difference",
    "explanation",
    "warehouse_table",
]


def published_values(path: Path = PUBLISHED_PATH) -> pd.DataFrame:
    """The seed, with ``decimals``: how many decimals the report printed (to round this run alike)."""
    seed = pd.read_csv(path, dtype=str, keep_default_na=False)
    seed["decimals"] = seed["published"].str.partition(".")[2].str.len()
    seed["published"] = seed["published"].astype(float)
    seed["scale"] = seed["scale"].astype(float)
    return seed


def parse_key(key: str) -> dict[str, str]:
    """``"model=m1;term=alder"`` → ``{"model": "m1", "term": "alder"}``."""
    return dict(part.split("=", 1) for part in key.split(";") if part)


def _matching(table: pd.DataFrame, key: dict[str, str]) -> pd.DataFrame:
    keep = np.ones(len(table), dtype=bool)
    for column, wanted in key.items():
        if column not in table.columns:
            return table.iloc[0:0]
        values = table[column]
        if wanted == "":
            keep &= values.isna().to_numpy()
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            keep &= (values == float(wanted)).fillna(False).to_numpy(dtype=bool)
        else:
            keep &= (values.astype("string") == wanted).fillna(False).to_numpy(dtype=bool)
    return table.loc[keep]


def this_run_value(tables: Mapping[str, pd.DataFrame], table: str, key: str, column: str) -> float:
    """The value the key selects, or NaN when this run has no such row, or more than one, or the
    cell is suppressed or missing."""
    frame = tables.get(table)
    if frame is None or column not in frame.columns:
        return np.nan
    if "outcome" in frame.columns:
        # The report's numbers are all of the outcome at exit; the follow-up's are this warehouse's own.
        frame = frame[frame["outcome"] == OUTCOME]
    rows = _matching(frame, parse_key(key))
    if len(rows) != 1:
        return np.nan
    row = rows.iloc[0]
    if "suppressed" in rows.columns and bool(row["suppressed"]):
        return np.nan
    value = pd.to_numeric(pd.Series([row[column]]), errors="coerce").iloc[0]
    return float(value) if pd.notna(value) else np.nan


def annex_rows(
    tables: Mapping[str, pd.DataFrame], language: str = "nb", published: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per published number, in the seed's order: report_table, row, column, unit,
    published, decimals, this_run (on the report's scale), difference (this run − published),
    explanation (in ``language``, empty when none is known) and warehouse_table.

    ``tables`` maps analysis table names (``descriptives``, ``model_coefficients``, ``model_fit``,
    ``contribution_percentiles``, ``contribution_summary``, ``archetype_predictions``) to this run's
    frames, as read from the warehouse."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    seed = published_values() if published is None else published
    rows = seed.copy()
    rows["this_run"] = [
        this_run_value(tables, table, key, column) * scale
        for table, key, column, scale in zip(
            seed["warehouse_table"], seed["warehouse_key"], seed["warehouse_column"], seed["scale"]
        )
    ]
    rows["difference"] = rows["this_run"] - rows["published"]
    rows["explanation"] = rows[f"explanation_{language}"]
    return rows[COLUMNS].reset_index(drop=True)
