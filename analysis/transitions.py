"""analysis.outcome_transitions: the outcome at exit against the status one year after.

The audit office's question (models.md): of those who reached work or education at exit, how many
are there a year later, and of those who did not — by programme, cohort year and municipality.
Persons counted: ended participations whose follow-up row was found (``oppfolging_status =
koblet``) with a determinable outcome at exit, inside the analysed Jobbsjansen schemes.

Small cells (warehouse.md): a cell of fewer than 5 persons is suppressed (``n`` and ``share_pct``
NULL, ``suppressed`` true); when that leaves exactly one suppressed cell beside a published row
total, the next smallest cell of the row is suppressed too, so it cannot be recovered by
subtraction. Municipalities enter with at least 5 such persons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.specification import SECOND_OUTCOME

MIN_CELL = 5
# status_1aar grouped as arbeid_utdanning_1aar codes it (harmonisation.md); NULL = emigrated or dead.
STATUS_GROUPS = {1.0: "arbeid_eller_utdanning", 0.0: "ikke_arbeid_eller_utdanning"}
GONE = "utvandret_eller_dod"
GROUP_ORDER = [*STATUS_GROUPS.values(), GONE]
OUTSIDE_SCOPE = "outside_js_scope"
INPUT_COLUMNS = [
    "programme",
    "cohort_year",
    "kommunenummer",
    "kommunenavn",
    "maloppnaelse",
    SECOND_OUTCOME,
    "oppfolging_status",
    "excluded_reason",
]
COLUMNS = [
    "level",
    "programme",
    "period_type",
    "cohort_year",
    "kommunenummer",
    "kommunenavn",
    "maloppnaelse",
    "status_1aar_gruppe",
    "n",
    "n_exit_status",
    "share_pct",
    "suppressed",
]
KEY = ["level", "programme", "period_type", "cohort_year", "kommunenummer", "maloppnaelse"]


def outcome_transitions(dataset: pd.DataFrame, run_id: str, outcome_variant: str) -> pd.DataFrame:
    linked = dataset.loc[
        (dataset["oppfolging_status"] == "koblet")
        & dataset["maloppnaelse"].notna()
        & (dataset["excluded_reason"].fillna("") != OUTSIDE_SCOPE),
        INPUT_COLUMNS,
    ]
    base = (
        linked.assign(
            status_1aar_gruppe=linked[SECOND_OUTCOME].map(STATUS_GROUPS).fillna(GONE),
            maloppnaelse=linked["maloppnaelse"].astype(int),
        )
        .groupby(["programme", "cohort_year", "kommunenummer", "maloppnaelse", "status_1aar_gruppe"])
        .size()
        .rename("n")
        .reset_index()
    )
    frames = []
    for level in ("national", "municipality"):
        for programme in ("alle", "jobbsjansen", "intro"):
            for period_type in ("pooled", "year"):
                part = base if programme == "alle" else base.loc[base["programme"] == programme]
                part = part.assign(
                    level=level,
                    programme=programme,
                    period_type=period_type,
                    cohort_year=part["cohort_year"] if period_type == "year" else np.nan,
                    kommunenummer=part["kommunenummer"] if level == "municipality" else None,
                )
                frames.append(part.groupby(KEY + ["status_1aar_gruppe"], dropna=False)["n"].sum().reset_index())
    cells = _complete_rows(pd.concat(frames, ignore_index=True))
    cells["n_exit_status"] = cells.groupby(KEY, dropna=False)["n"].transform("sum")
    unit_total = cells.groupby([c for c in KEY if c != "maloppnaelse"], dropna=False)["n"].transform("sum")
    cells = cells.loc[(cells["level"] == "national") | (unit_total >= MIN_CELL)].copy()
    cells["share_pct"] = 100.0 * cells["n"] / cells["n_exit_status"]
    cells["suppressed"] = _suppressed(cells)
    cells.loc[cells["suppressed"], ["n", "share_pct"]] = np.nan
    cells.loc[cells["n_exit_status"] < MIN_CELL, "n_exit_status"] = np.nan
    cells["kommunenavn"] = cells["kommunenummer"].map(_latest_names(linked))
    cells["n"] = cells["n"].astype("Int64")
    cells["n_exit_status"] = cells["n_exit_status"].astype("Int64")
    cells["cohort_year"] = cells["cohort_year"].astype("Int64")
    orders = {
        "level": {"national": 0, "municipality": 1},
        "programme": {"alle": 0, "jobbsjansen": 1, "intro": 2},
        "status_1aar_gruppe": {name: i for i, name in enumerate(GROUP_ORDER)},
    }
    cells = cells.sort_values(
        ["level", "programme", "period_type", "cohort_year", "kommunenummer", "maloppnaelse", "status_1aar_gruppe"],
        key=lambda column: column.map(orders[column.name]) if column.name in orders else column,
        na_position="first",
    )
    table = cells.reindex(columns=COLUMNS).reset_index(drop=True)
    table["outcome"] = SECOND_OUTCOME
    table["run_id"] = run_id
    table["outcome_variant"] = outcome_variant
    return table


def _complete_rows(cells: pd.DataFrame) -> pd.DataFrame:
    """Every row of cells gets all three status groups (an empty one as 0)."""
    rows = cells[KEY].drop_duplicates()
    grid = rows.merge(pd.DataFrame({"status_1aar_gruppe": GROUP_ORDER}), how="cross")
    merged = grid.merge(cells, on=KEY + ["status_1aar_gruppe"], how="left")
    merged["n"] = merged["n"].fillna(0).astype(float)
    return merged


def _suppressed(cells: pd.DataFrame) -> pd.Series:
    primary = (cells["n"] < MIN_CELL) | (cells["n_exit_status"] < MIN_CELL)
    suppressed = primary.copy()
    # A single suppressed cell beside a published total is the total minus the others: hide the
    # smallest other cell of its row too.
    row_ids = cells.groupby(KEY, dropna=False).ngroup()
    count = primary.groupby(row_ids).transform("sum")
    lonely = (count == 1) & (cells["n_exit_status"] >= MIN_CELL)
    candidates = cells.loc[lonely & ~primary, "n"].groupby(row_ids[lonely & ~primary]).idxmin()
    suppressed.loc[candidates.to_numpy()] = True
    return suppressed


def _latest_names(linked: pd.DataFrame) -> dict[str, str]:
    latest = linked.sort_values("cohort_year").drop_duplicates("kommunenummer", keep="last")
    return dict(zip(latest["kommunenummer"], latest["kommunenavn"]))
