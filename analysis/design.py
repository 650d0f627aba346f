"""Shared pieces of the model designs: complete cases, estimable columns, variance inflation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.specification import CONSTANT, OUTCOME

# A column whose part not explained by the columns before it has less than this share of its
# squared norm is treated as collinear with them.
COLLINEARITY_TOLERANCE = 1e-9
# Rows per block when the correlation of a design's columns is summed (a few megabytes).
CORRELATION_ROW_BLOCK = 16384


class ModelNotEstimable(ValueError):
    """The fit sample cannot identify the model (no rows, a single level-2 unit, …)."""


def complete_cases(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows the dbt layer marks as complete cases that also have every model column present."""
    keep = frame[[OUTCOME] + columns].notna().all(axis=1)
    if "complete_case" in frame.columns:
        keep &= frame["complete_case"].fillna(False).astype(bool)
    return frame.loc[keep].copy()


def estimable_columns(design: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Columns to keep, in order, and those dropped because they add nothing identifiable.

    A column is dropped when it is (numerically) a linear combination of the columns kept before
    it: no variation (kjonn_mann among women), a measure nobody received, spor 2 and spor 3 when
    no one in the sample has spor 1. Like R's aliased coefficients, the earlier column wins.
    """
    values = design.to_numpy(dtype=float)
    gram = values.T @ values
    kept: list[int] = []
    for j in range(values.shape[1]):
        own = gram[j, j]
        if kept:
            cross = gram[kept, j]
            explained = float(cross @ np.linalg.solve(gram[np.ix_(kept, kept)], cross))
        else:
            explained = 0.0
        if own > 0 and (own - explained) / own > COLLINEARITY_TOLERANCE:
            kept.append(j)
    names = list(design.columns)
    return [names[j] for j in kept], [names[j] for j in range(len(names)) if j not in kept]


def vif_table(model: str, X: pd.DataFrame, blocks: dict[str, list[str]]) -> pd.DataFrame:
    """Variance inflation of every design column and, for multi-column terms, of the whole term.

    With R the correlation matrix of the non-constant columns, a column's VIF is the diagonal of
    R⁻¹ (identical to statsmodels' ``variance_inflation_factor`` on the design with its constant,
    which a test checks, but one inversion instead of one regression per column); a block's is
    the generalised VIF of Fox & Monette (1992), det(R_bb)·det(R_oo)/det(R), also given as
    GVIF^(1/(2·df)) so terms of different df can be compared.
    """
    columns = [c for c in X.columns if c != CONSTANT]
    correlation = _correlation(X, columns)
    rows = [
        {"model": model, "term": column, "df": 1, "vif": float(value)}
        for column, value in zip(columns, np.diag(np.linalg.inv(correlation)))
    ]
    _, logdet_all = np.linalg.slogdet(correlation)
    for block, block_columns in blocks.items():
        inside = [columns.index(c) for c in block_columns if c in columns]
        if len(inside) < 2:
            continue
        outside = [j for j in range(len(columns)) if j not in inside]
        _, logdet_in = np.linalg.slogdet(correlation[np.ix_(inside, inside)])
        _, logdet_out = np.linalg.slogdet(correlation[np.ix_(outside, outside)])
        rows.append(
            {
                "model": model,
                "term": block,
                "df": len(inside),
                "vif": float(np.exp(logdet_in + logdet_out - logdet_all)),
            }
        )
    table = pd.DataFrame(rows)
    table["gvif_adjusted"] = table["vif"] ** (1.0 / (2.0 * table["df"]))
    return table


def _correlation(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The correlation matrix of ``columns`` (as numpy's corrcoef), centred a block of rows at a
    time: corrcoef's centred copy of the design would be 445 MB for M1 at scale 100."""
    values = X.to_numpy(dtype=float)
    chosen = [X.columns.get_loc(column) for column in columns]
    means = np.array([values[:, j].mean() for j in chosen])
    cross = np.zeros((len(chosen), len(chosen)))
    for start in range(0, len(values), CORRELATION_ROW_BLOCK):
        block = values[start : start + CORRELATION_ROW_BLOCK, chosen] - means
        cross += block.T @ block
    scale = np.sqrt(np.diag(cross))
    return cross / np.outer(scale, scale)
