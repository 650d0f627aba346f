"""Shared pieces of a person draw: categorical draws, Norwegian levels, exclusion reasons."""

from __future__ import annotations

import numpy as np

NORSK_LEVELS = ("Under A1", "A1", "A2", "B1", "B2")
NO_LEVEL = -1

# Under the default js_scope (ordning_a); harmonisation.md.
EXCLUSION_REASONS = (
    "outside_js_scope",
    "outcome_excluded",
    "missing_outcome",
    "missing_spor",
    "missing_norsk_score",
    "missing_fravaer_hoy",
    "missing_region",
    "missing_botid",
    "missing_alder",
    "missing_varighet_mnd",
    "missing_kjonn",
)


def categorical(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given probabilities (normalised here)."""
    cumulative = np.cumsum(probabilities / probabilities.sum())
    return np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), len(probabilities) - 1)


def categorical_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One index per row of a (n, k) probability matrix."""
    cumulative = np.cumsum(probabilities / probabilities.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random(probabilities.shape[0])[:, None]
    return np.minimum((cumulative <= draws).sum(axis=1), probabilities.shape[1] - 1)


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_levels(rng: np.random.Generator, ability: np.ndarray, tests: int, noise_sd: float) -> np.ndarray:
    """(n, tests) CEFR levels 0 (Under A1) .. 4 (B2) around each person's ability."""
    raw = ability[:, None] + rng.normal(0.0, noise_sd, (ability.size, tests))
    return np.clip(np.rint(raw), 0, 4).astype(np.int64)


def mean_score(levels: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean of the present levels; NaN when none is present."""
    count = present.sum(axis=1)
    total = np.where(present, levels, 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def tier_of(score: np.ndarray, written_level: np.ndarray) -> np.ndarray:
    """Nearest level; an exact .5 goes to the side of the written test when there is one, else down.

    `written_level` is the skriftlig result (NO_LEVEL when absent). Returns NO_LEVEL where the
    score is missing.
    """
    known = ~np.isnan(score)
    safe = np.where(known, score, 0.0)
    floor = np.floor(safe)
    fraction = safe - floor
    tier = np.where(fraction > 0.5, floor + 1, floor)
    tie_up = (fraction == 0.5) & (written_level != NO_LEVEL) & (written_level > safe)
    tier = np.where(tie_up, floor + 1, tier)
    return np.where(known, tier, NO_LEVEL).astype(np.int64)


def level_labels(levels: np.ndarray) -> np.ndarray:
    table = np.array([*NORSK_LEVELS, ""], dtype=object)
    return table[np.where(levels == NO_LEVEL, len(NORSK_LEVELS), levels)]


def exclusion_reasons(missing: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """First reason (None when modelled) and all reasons `;`-joined, in the documented priority order."""
    pattern = np.zeros(size, dtype=np.int64)
    for bit, reason in enumerate(EXCLUSION_REASONS):
        pattern |= missing[reason].astype(np.int64) << bit
    # Few distinct combinations occur: spell each out once and look the rows up.
    combinations, index = np.unique(pattern, return_inverse=True)
    first_table = np.empty(combinations.size, dtype=object)
    every_table = np.empty(combinations.size, dtype=object)
    for position, combination in enumerate(combinations):
        reasons = [reason for bit, reason in enumerate(EXCLUSION_REASONS) if combination >> bit & 1]
        first_table[position] = reasons[0] if reasons else None
        every_table[position] = ";".join(reasons) if reasons else None
    return first_table[index], every_table[index]
