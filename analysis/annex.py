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


class _Lookup:
    """One analysis table, readied for many keyed lookups: the rows of the outcome at exit, each
    column once as an array to compare keys against (numbers as numbers, the rest as text)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if "outcome" in frame.columns:
            # The report's numbers are all of the outcome at exit; the follow-up's are this warehouse's own.
            frame = frame[frame["outcome"] == OUTCOME]
        self.frame = frame.reset_index(drop=True)
        self._keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _key_column(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """The column's NULL mask and its values: floats if numeric (not boolean), else text."""
        if column not in self._keys:
            values = self.frame[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                self._keys[column] = (values.isna().to_numpy(), values.to_numpy(dtype=float, na_value=np.nan))
            else:
                # NULL as "": never a key's value, since an empty key value asks for NULL.
                text = values.astype("string").fillna("").to_numpy(dtype=object)
                self._keys[column] = (values.isna().to_numpy(), text)
        return self._keys[column]

    def value(self, key: str, column: str) -> float:
        """The value the key selects, or NaN when this run has no such row, or more than one, or
        the cell is suppressed or missing."""
        if column not in self.frame.columns:
            return np.nan
        keep = np.ones(len(self.frame), dtype=bool)
        for key_column, wanted in parse_key(key).items():
            if key_column not in self.frame.columns:
                return np.nan
            missing, values = self._key_column(key_column)
            if wanted == "":
                keep &= missing
            elif values.dtype == float:
                keep &= values == float(wanted)
            else:
                keep &= values == wanted
        rows = np.flatnonzero(keep)
        if len(rows) != 1:
            return np.nan
        row = self.frame.iloc[rows[0]]
        if "suppressed" in self.frame.columns and bool(row["suppressed"]):
            return np.nan
        try:
            return float(row[column])
        except (TypeError, ValueError):
            # NULL (None, pd.NA) or text that is not a number.
            return np.nan


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
    lookups = {name: _Lookup(frame) for name, frame in tables.items()}
    rows["this_run"] = [
        (lookups[table].value(key, column) if table in lookups else np.nan) * scale
        for table, key, column, scale in zip(
            seed["warehouse_table"], seed["warehouse_key"], seed["warehouse_column"], seed["scale"]
        )
    ]
    rows["difference"] = rows["this_run"] - rows["published"]
    rows["explanation"] = rows[f"explanation_{language}"]
    return rows[COLUMNS].reset_index(drop=True)
