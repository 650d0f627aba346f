"""Contribution indicators (bidragsindikatorer) of models.md, for projects and municipalities.

A unit is a project (``prosjekt_id``: a Jobbsjansen project, or ``intro-<kommunenummer>`` for a
municipality's introduction programme) or a municipality (``kommunenummer``, both programmes).
Each unit gets one row over all cohort years pooled and one row per cohort year, computed on
M1's fit sample (the complete cases, the only participants M1 can predict):

- expected = mean of M1's predicted probabilities over the unit's participants;
- actual = their observed share reaching the goal;
- contribution = 100 · (actual − expected), in percentage points.

Uncertainty. The interval of a contribution is ±z·se at 90 %, with

    se² = Σᵢ p̂ᵢ(1 − p̂ᵢ) / n²          binomial noise of the unit's outcomes around expected
        + ḡᵀ V ḡ                       M1's estimation error (delta method; ḡ = mean ∂p̂ᵢ/∂β)
        + ω² · Σₜ (nₜ / n)²            pooled rows only: year-to-year shocks

The first term dominates for small units. The last makes a pooled row an estimate of the unit's
*lasting* contribution: a unit's yearly contributions scatter around their mean by more than
binomial noise (a municipality's labour market has good and bad years that are no doing of the
project), and ω² — that extra within-unit, between-year variance — is estimated from the yearly
rows of all units by the method of moments (DerSimonian–Laird, pooled over units). A yearly row
describes that year, shocks included, so it carries no such term.
A unit is *above* (*below*) expectation when its whole interval is above (below) zero, else
*in line*. Its quadrant (report figures 1 and 21) crosses the sign of its contribution with its
actual result against the national mean of the same period (all modelled participants).

Shrunken indicator. Raw contributions of small units are noisy, so the ranking of raw values
favours small units at both ends. The shrunken value is the posterior mean under
contribution ~ N(0, τ²) across units of one type, programme and period, with each unit's
sampling variance se² as above: given τ, shrunken = contribution · τ² / (τ² + se²) with posterior
SD √(τ²se²/(τ² + se²)); τ is integrated out over its posterior from the units of that group with
at least 5 participants (flat prior, see ``shrink``). This is the pp-scale counterpart of the M2/M3 empirical-Bayes intercepts
(which are in ``analysis.random_effects``, per municipality-year and project-year on the logit
scale, and exist only for units with more than 10 participants): it shrinks toward zero — the
programme's mean, since M1 has ``ordning`` and an intercept, so its residuals sum to zero within
each programme — and is defined for every unit and period.

Stability. A pooled row carries the number of years the unit had participants and a
heterogeneity test of its yearly contributions (Q = Σₜ (cₜ − c̄)²/vₜ against χ²(T − 1), vₜ the
yearly binomial and model variance); ``stability_table`` correlates consecutive years' values.

Small cells (warehouse.md): rows describing fewer than 5 participants keep the unit's identity
but every number is NULL and ``suppressed`` is true. Secondary suppression keeps such a cell
from being recovered by subtraction — see ``suppression_reasons``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.m1 import MIN_PUBLISHED_CELL, M1Fit, design_array
from analysis.specification import OUTCOME

INTERVAL_LEVEL = 0.90
Z_INTERVAL = float(stats.norm.ppf(0.5 + INTERVAL_LEVEL / 2))
PERCENTILES = (10, 25, 50, 75, 90)

UNIT_COLUMNS = {"project": "prosjekt_id", "municipality": "kommunenummer"}
# Municipality rows span both programmes.
ALL_PROGRAMMES = "all"
POOLED, YEAR = "pooled", "year"
CLASSIFICATIONS = ("above", "in_line", "below")
QUADRANTS = ("positive_above_mean", "positive_below_mean", "negative_above_mean", "negative_below_mean")

# With fewer published units than this in a group, τ (hence the shrunken value) is not estimated.
MIN_UNITS_FOR_SHRINKAGE = 5

INDICATOR_COLUMNS = [
    "unit_type",
    "unit_id",
    "programme",
    "period_type",
    "cohort_year",
    "first_year",
    "last_year",
    "n",
    "actual_pct",
    "expected_pct",
    "contribution_pp",
    "se_pp",
    "ci_low_pp",
    "ci_high_pp",
    "interval_level",
    "classification",
    "national_mean_pct",
    "quadrant",
    "shrunken_pp",
    "shrunken_ci_low_pp",
    "shrunken_ci_high_pp",
    "n_years",
    "year_heterogeneity_q",
    "year_heterogeneity_p",
    "suppressed",
    "suppression_reason",
]
# Every number that describes the unit's participants; NULL on suppressed rows.
DESCRIBING_COLUMNS = [
    "n",
    "actual_pct",
    "expected_pct",
    "contribution_pp",
    "se_pp",
    "ci_low_pp",
    "ci_high_pp",
    "classification",
    "quadrant",
    "shrunken_pp",
    "shrunken_ci_low_pp",
    "shrunken_ci_high_pp",
    "n_years",
    "year_heterogeneity_q",
    "year_heterogeneity_p",
]


@dataclass
class ContributionTables:
    indicators: pd.DataFrame
    percentiles: pd.DataFrame
    summary: pd.DataFrame
    stability: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {
            "contribution_indicators": self.indicators,
            "contribution_percentiles": self.percentiles,
            "contribution_summary": self.summary,
            "contribution_stability": self.stability,
        }


def participant_predictions(fit: M1Fit) -> tuple[pd.DataFrame, np.ndarray]:
    """M1's fit sample reduced to what the indicators need, and each participant's gradient of
    the predicted probability with respect to M1's coefficients, p̂(1 − p̂)·xᵢ."""
    sample = fit.sample
    p = sample["predicted"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "prosjekt_id": sample["prosjekt_id"].array,
            "kommunenummer": sample["kommunenummer"].array,
            "programme": sample["programme"].array,
            "cohort_year": sample["cohort_year"].astype(int).to_numpy(),
            "y": sample[OUTCOME].to_numpy(dtype=float),
            "p": p,
        }
    )
    # The design (column-major, 445 MB for M1 at scale 100) becomes the gradient in place.
    gradient = design_array(sample, fit.terms)
    gradient *= (p * (1.0 - p))[:, None]
    return frame, gradient


def _cells(
    frame: pd.DataFrame, gradient: np.ndarray, covariance: np.ndarray, unit_type: str, by_year: bool
) -> pd.DataFrame:
    """Sums per unit (and year): n, actual, expected, binomial and model variance of the contribution."""
    unit_column = UNIT_COLUMNS[unit_type]
    keys = [unit_column] + (["cohort_year"] if by_year else [])
    known = frame[unit_column].notna().to_numpy()
    work = frame.loc[known]
    grouped = work.groupby(keys, sort=True)
    group_of_row = grouped.ngroup().to_numpy()
    n_groups = grouped.ngroups

    def group_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(group_of_row, weights=values, minlength=n_groups)

    p = work["p"].to_numpy()
    n = group_sum(np.ones(len(work)))
    gradient_sums = np.column_stack([group_sum(gradient[known, j]) for j in range(gradient.shape[1])])
    mean_gradient = gradient_sums / n[:, None]
    years = grouped["cohort_year"].agg(["min", "max"])
    programme = grouped["programme"].agg(["min", "max"])
    cells = pd.DataFrame(
        {
            "unit_type": unit_type,
            "unit_id": years.index.get_level_values(unit_column).astype(str),
            "programme": np.where(programme["min"] == programme["max"], programme["min"], ALL_PROGRAMMES)
            if unit_type == "project"
            else ALL_PROGRAMMES,
            "period_type": YEAR if by_year else POOLED,
            "cohort_year": years["min"].to_numpy() if by_year else pd.NA,
            "first_year": years["min"].to_numpy(dtype=int),
            "last_year": years["max"].to_numpy(dtype=int),
            "n": n.astype(int),
            "actual": group_sum(work["y"].to_numpy()) / n,
            "expected": group_sum(p) / n,
            "binomial_var": group_sum(p * (1.0 - p)) / n**2,
            "model_var": np.einsum("ij,jk,ik->i", mean_gradient, covariance, mean_gradient),
        }
    )
    cells["cohort_year"] = cells["cohort_year"].astype("Int64")
    cells["contribution"] = cells["actual"] - cells["expected"]
    return cells


def year_shock_variance(yearly: pd.DataFrame) -> float:
    """ω²: variance of a unit's yearly contributions around its own mean beyond binomial noise.

    DerSimonian–Laird moments summed over units: E[Σⱼ Qⱼ] = Σⱼ (Tⱼ − 1) + ω² Σⱼ (S₁ⱼ − S₂ⱼ/S₁ⱼ),
    with inverse binomial variances as weights (Sₖ = Σₜ wₜᵏ). Truncated at zero.
    """
    usable = yearly.loc[yearly["binomial_var"] > 0]
    weights = 1.0 / usable["binomial_var"]
    work = pd.DataFrame(
        {
            "unit": usable["unit_id"],
            "w": weights,
            "wc": weights * usable["contribution"],
            "wcc": weights * usable["contribution"] ** 2,
            "ww": weights**2,
        }
    )
    per_unit = work.groupby("unit", sort=True).agg(
        S1=("w", "sum"), S2=("ww", "sum"), WC=("wc", "sum"), WCC=("wcc", "sum"), T=("w", "size")
    )
    per_unit = per_unit.loc[per_unit["T"] >= 2]
    if per_unit.empty:
        return 0.0
    q = per_unit["WCC"] - per_unit["WC"] ** 2 / per_unit["S1"]
    denominator = (per_unit["S1"] - per_unit["S2"] / per_unit["S1"]).sum()
    return max(0.0, float((q.sum() - (per_unit["T"] - 1).sum()) / denominator))


def _year_heterogeneity(yearly: pd.DataFrame) -> pd.DataFrame:
    """Per unit: years with participants, and Cochran's Q of the yearly contributions with its p-value."""
    variance = yearly["binomial_var"] + yearly["model_var"]
    work = pd.DataFrame({"unit_id": yearly["unit_id"], "w": 1.0 / variance, "c": yearly["contribution"]})
    work["wc"], work["wcc"] = work["w"] * work["c"], work["w"] * work["c"] ** 2
    per_unit = work.groupby("unit_id", sort=True).agg(
        S1=("w", "sum"), WC=("wc", "sum"), WCC=("wcc", "sum"), n_years=("w", "size")
    )
    q = (per_unit["WCC"] - per_unit["WC"] ** 2 / per_unit["S1"]).clip(lower=0.0)
    several = per_unit["n_years"] >= 2
    per_unit["year_heterogeneity_q"] = q.where(several)
    per_unit["year_heterogeneity_p"] = pd.Series(stats.chi2.sf(q, per_unit["n_years"] - 1), index=q.index).where(
        several
    )
    return per_unit[["n_years", "year_heterogeneity_q", "year_heterogeneity_p"]].reset_index()


TAU_GRID_POINTS = 400


@dataclass
class Shrinkage:
    mean: np.ndarray  # posterior mean of each unit's contribution
    sd: np.ndarray  # posterior SD, including the uncertainty about τ
    tau: float  # posterior mean of τ


def shrink(contribution: np.ndarray, sampling_var: np.ndarray, fit_mask: np.ndarray) -> Shrinkage:
    """Posterior of each unit's contribution θⱼ under θⱼ ~ N(0, τ²), contributionⱼ ~ N(θⱼ, seⱼ²).

    τ gets a flat prior and is integrated out on a grid, using the units in ``fit_mask``:
    p(τ | data) ∝ Πⱼ N(contributionⱼ; 0, τ² + seⱼ²). Given τ the posterior of θⱼ is normal with
    mean wⱼ·contributionⱼ and variance wⱼ·seⱼ², wⱼ = τ²/(τ² + seⱼ²); over τ, the mean is E[wⱼ]·cⱼ
    and the variance E[wⱼ]·seⱼ² + Var(wⱼ)·cⱼ². Plugging in a point estimate of τ instead (plain
    empirical Bayes) collapses every interval to zero width whenever the estimate is zero, which
    happens with a few dozen units.
    """
    fitted_c, fitted_v = contribution[fit_mask], sampling_var[fit_mask]
    upper = 3.0 * float(np.sqrt(np.mean(fitted_c**2))) + 1e-9
    tau = np.linspace(0.0, upper, TAU_GRID_POINTS)
    total = tau[None, :] ** 2 + fitted_v[:, None]
    loglik = -0.5 * np.sum(np.log(total) + fitted_c[:, None] ** 2 / total, axis=0)
    posterior = np.exp(loglik - loglik.max())
    posterior /= posterior.sum()
    weight = tau[None, :] ** 2 / (tau[None, :] ** 2 + sampling_var[:, None])
    mean_weight = weight @ posterior
    weight_var = (weight**2) @ posterior - mean_weight**2
    return Shrinkage(
        mean=mean_weight * contribution,
        sd=np.sqrt(mean_weight * sampling_var + np.clip(weight_var, 0.0, None) * contribution**2),
        tau=float(tau @ posterior),
    )


GROUP_KEYS = ["unit_type", "programme", "period_type", "cohort_year"]


def _shrink(cells: pd.DataFrame) -> pd.DataFrame:
    """Shrunken value and its interval per row, τ integrated out within each group."""
    cells = cells.copy()
    for column in ("tau", "shrunken", "shrunken_sd"):
        cells[column] = np.nan
    for _, index in cells.groupby(GROUP_KEYS, sort=True, dropna=False).groups.items():
        group = cells.loc[index]
        publishable = (group["n"] >= MIN_PUBLISHED_CELL).to_numpy()
        if publishable.sum() < MIN_UNITS_FOR_SHRINKAGE:
            continue
        result = shrink(group["contribution"].to_numpy(), group["variance"].to_numpy(), publishable)
        cells.loc[index, "tau"] = result.tau
        cells.loc[index, "shrunken"] = result.mean
        cells.loc[index, "shrunken_sd"] = result.sd
    cells["shrunken_low"] = cells["shrunken"] - Z_INTERVAL * cells["shrunken_sd"]
    cells["shrunken_high"] = cells["shrunken"] + Z_INTERVAL * cells["shrunken_sd"]
    return cells


def suppression_reasons(rows: pd.DataFrame, participants: pd.DataFrame) -> pd.Series:
    """Suppression reason per row (None = published).

    ``small``: fewer than 5 participants.
    ``complement``: a municipality row containing a project part (the participants of one
    project in that municipality and period) of 1–4 persons: the municipality minus its other,
    published projects would reveal that part.
    ``complementary_year``: a unit's pooled row minus its published years reveals the sum of its
    suppressed years. Projects and municipalities that share participants form a family whose
    members suppress the same years (else one member's years minus another's could isolate a
    part), and years are added — smallest first — until every project part that a published
    pooled row contains has, summed over the suppressed years, 0 or at least 5 persons.

    ``rows`` needs unit_type, unit_id, cohort_year (NA on pooled rows) and n; ``participants``
    one row per modelled participant with prosjekt_id, kommunenummer and cohort_year.
    """
    known = participants["prosjekt_id"].notna() & participants["kommunenummer"].notna()
    part_sizes = participants.loc[known].groupby(["kommunenummer", "prosjekt_id", "cohort_year"], sort=True).size()
    parts: dict[tuple[str, str], dict[int, int]] = {}
    for (kommunenummer, prosjekt_id, year), size in part_sizes.items():
        parts.setdefault((kommunenummer, prosjekt_id), {})[int(year)] = int(size)

    def is_small(size: int) -> bool:
        return 0 < size < MIN_PUBLISHED_CELL

    small_part_periods = set()
    for (kommunenummer, _), sizes in parts.items():
        small_part_periods |= {(kommunenummer, year) for year, size in sizes.items() if is_small(size)}
        if is_small(sum(sizes.values())):
            small_part_periods.add((kommunenummer, None))

    year_of_row = [None if pd.isna(year) else int(year) for year in rows["cohort_year"]]
    keys = list(zip(rows["unit_type"], rows["unit_id"], year_of_row))
    reason = pd.Series(
        [
            "small"
            if size < MIN_PUBLISHED_CELL
            else "complement"
            if unit_type == "municipality" and (unit_id, year) in small_part_periods
            else None
            for size, (unit_type, unit_id, year) in zip(rows["n"], keys)
        ],
        index=rows.index,
        dtype=object,
    )

    published_pooled = {
        (unit_type, unit_id) for (unit_type, unit_id, year), why in zip(keys, reason) if year is None and why is None
    }
    family = _families(parts)
    # A part's sum over the suppressed years can be recovered only through a published pooled
    # row that contains it: its project's, or its municipality's.
    exposed_parts: dict[int, list[dict[int, int]]] = {}
    family_size: dict[int, dict[int, int]] = {}
    for (kommunenummer, prosjekt_id), sizes in parts.items():
        family_id = family[("municipality", kommunenummer)]
        totals = family_size.setdefault(family_id, {})
        for year, size in sizes.items():
            totals[year] = totals.get(year, 0) + size
        if ("project", prosjekt_id) in published_pooled or ("municipality", kommunenummer) in published_pooled:
            exposed_parts.setdefault(family_id, []).append(sizes)
    suppressed_years: dict[int, set[int]] = {}
    for (unit_type, unit_id, year), why in zip(keys, reason):
        if year is not None and why is not None:
            suppressed_years.setdefault(family[(unit_type, unit_id)], set()).add(year)
    for family_id, years in suppressed_years.items():
        exposed = exposed_parts.get(family_id, [])
        while any(is_small(sum(size for year, size in sizes.items() if year in years)) for sizes in exposed):
            candidates = sorted((size, year) for year, size in family_size[family_id].items() if year not in years)
            if not candidates:
                break
            years.add(candidates[0][1])
    complementary = [
        why is None and year is not None and year in suppressed_years.get(family.get((unit_type, unit_id)), ())
        for (unit_type, unit_id, year), why in zip(keys, reason)
    ]
    reason[complementary] = "complementary_year"
    return reason


def _families(parts: dict[tuple[str, str], dict[int, int]]) -> dict[tuple[str, str], int]:
    """Connected components of projects and municipalities linked by shared participants."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for kommunenummer, prosjekt_id in parts:
        a, b = root(("municipality", kommunenummer)), root(("project", prosjekt_id))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = sorted({root(node) for node in list(parent)})
    number = {node: i for i, node in enumerate(roots)}
    return {node: number[root(node)] for node in list(parent)}


def _indicator_rows(fit: M1Fit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicator rows (before run tags) and the variance components per group (τ², ω²)."""
    frame, gradient = participant_predictions(fit)
    covariance = fit.result.cov_params().to_numpy()
    national = pd.concat(
        [
            pd.DataFrame({"period_type": [POOLED], "cohort_year": [pd.NA], "national_mean": [frame["y"].mean()]}),
            frame.groupby("cohort_year", sort=True)["y"]
            .mean()
            .rename("national_mean")
            .reset_index()
            .assign(period_type=YEAR),
        ],
        ignore_index=True,
    )
    national["cohort_year"] = national["cohort_year"].astype("Int64")
    tables = []
    for unit_type in UNIT_COLUMNS:
        yearly = _cells(frame, gradient, covariance, unit_type, by_year=True)
        pooled = _cells(frame, gradient, covariance, unit_type, by_year=False)
        omega2 = year_shock_variance(yearly)
        year_share = yearly["n"] / yearly.groupby("unit_id")["n"].transform("sum")
        year_share_squared = (year_share**2).groupby(yearly["unit_id"]).sum()
        pooled["omega2"] = omega2
        pooled["year_shock_var"] = omega2 * pooled["unit_id"].map(year_share_squared).to_numpy()
        yearly["omega2"] = omega2
        yearly["year_shock_var"] = 0.0
        pooled = pooled.merge(_year_heterogeneity(yearly), on="unit_id", how="left")
        tables += [pooled, yearly]
    cells = pd.concat(tables, ignore_index=True)
    cells["variance"] = cells["binomial_var"] + cells["model_var"] + cells["year_shock_var"]
    cells = _shrink(cells)
    cells = cells.merge(national, on=["period_type", "cohort_year"], how="left")
    components = cells.groupby(GROUP_KEYS, sort=True, dropna=False)[["tau", "omega2"]].first().reset_index()

    se = np.sqrt(cells["variance"])
    low, high = cells["contribution"] - Z_INTERVAL * se, cells["contribution"] + Z_INTERVAL * se
    positive = cells["contribution"] >= 0
    above_mean = cells["actual"] >= cells["national_mean"]
    out = pd.DataFrame(
        {
            "unit_type": cells["unit_type"],
            "unit_id": cells["unit_id"],
            "programme": cells["programme"],
            "period_type": cells["period_type"],
            "cohort_year": cells["cohort_year"],
            "first_year": cells["first_year"],
            "last_year": cells["last_year"],
            "n": cells["n"].astype("Int64"),
            "actual_pct": 100 * cells["actual"],
            "expected_pct": 100 * cells["expected"],
            "contribution_pp": 100 * cells["contribution"],
            "se_pp": 100 * se,
            "ci_low_pp": 100 * low,
            "ci_high_pp": 100 * high,
            "interval_level": INTERVAL_LEVEL,
            "classification": np.select([low > 0, high < 0], ["above", "below"], "in_line"),
            "national_mean_pct": 100 * cells["national_mean"],
            "quadrant": np.select(
                [positive & above_mean, positive & ~above_mean, ~positive & above_mean],
                QUADRANTS[:3],
                QUADRANTS[3],
            ),
            "shrunken_pp": 100 * cells["shrunken"],
            "shrunken_ci_low_pp": 100 * cells["shrunken_low"],
            "shrunken_ci_high_pp": 100 * cells["shrunken_high"],
            "n_years": cells["n_years"].astype("Int64"),
            "year_heterogeneity_q": cells["year_heterogeneity_q"],
            "year_heterogeneity_p": cells["year_heterogeneity_p"],
        }
    )
    out["suppression_reason"] = suppression_reasons(out, frame)
    out["suppressed"] = out["suppression_reason"].notna()
    for column in DESCRIBING_COLUMNS:
        if out[column].dtype == object:
            out[column] = out[column].where(~out["suppressed"], None)
        else:
            out[column] = out[column].mask(out["suppressed"])
    out = out.sort_values(["unit_type", "unit_id", "period_type", "cohort_year"], kind="stable", na_position="first")
    return out.reset_index(drop=True)[INDICATOR_COLUMNS], components


def percentile_table(indicators: pd.DataFrame) -> pd.DataFrame:
    """Report table 6: percentiles of pooled contribution and actual result per unit type and
    programme, over the published units (linear interpolation between units)."""
    pooled = indicators.loc[(indicators["period_type"] == POOLED) & ~indicators["suppressed"]]
    rows = []
    for (unit_type, programme), units in pooled.groupby(["unit_type", "programme"], sort=True):
        for percentile in PERCENTILES:
            rows.append(
                {
                    "unit_type": unit_type,
                    "programme": programme,
                    "percentile": percentile,
                    "contribution_pp": float(np.percentile(units["contribution_pp"].astype(float), percentile)),
                    "actual_pct": float(np.percentile(units["actual_pct"].astype(float), percentile)),
                    "n_units": len(units),
                }
            )
    return pd.DataFrame(
        rows, columns=["unit_type", "programme", "percentile", "contribution_pp", "actual_pct", "n_units"]
    )


def summary_table(indicators: pd.DataFrame, components: pd.DataFrame) -> pd.DataFrame:
    """Per unit type, programme and period: units shown and withheld, shares above / in line /
    below and per quadrant (of the units shown), τ and ω in pp. Projects also get a row over both
    programmes (the report's 41 % / 15 % / 45 % is over all projects)."""
    both = indicators.loc[indicators["unit_type"] == "project"].assign(programme=ALL_PROGRAMMES)
    frame = pd.concat([indicators, both], ignore_index=True)
    rows = []
    for keys, units in frame.groupby(GROUP_KEYS, sort=True, dropna=False):
        shown = units.loc[~units["suppressed"]]
        row = dict(zip(GROUP_KEYS, keys))
        row["n_units"] = len(shown)
        row["n_units_suppressed"] = int(units["suppressed"].sum())
        for label in CLASSIFICATIONS:
            row[f"share_{label}"] = float((shown["classification"] == label).mean()) if len(shown) else np.nan
        for label in QUADRANTS:
            row[f"share_{label}"] = float((shown["quadrant"] == label).mean()) if len(shown) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows).merge(components, on=GROUP_KEYS, how="left")
    table["between_unit_sd_pp"] = 100 * table.pop("tau")
    omega2 = table.pop("omega2")
    table["year_shock_sd_pp"] = (100 * np.sqrt(omega2)).where(table["period_type"] == POOLED)
    table["cohort_year"] = table["cohort_year"].astype("Int64")
    return table


def stability_table(indicators: pd.DataFrame) -> pd.DataFrame:
    """Consecutive cohort years: how well a unit's contribution one year predicts the next, over the
    units published in both years."""
    yearly = indicators.loc[(indicators["period_type"] == YEAR) & ~indicators["suppressed"]]
    rows = []
    for (unit_type, programme), units in yearly.groupby(["unit_type", "programme"], sort=True):
        wide = units.pivot(index="unit_id", columns="cohort_year", values=["contribution_pp", "classification"])
        years = sorted(units["cohort_year"].unique())
        for first, second in zip(years, years[1:]):
            both = wide.loc[wide[("contribution_pp", first)].notna() & wide[("contribution_pp", second)].notna()]
            a = both[("contribution_pp", first)].astype(float)
            b = both[("contribution_pp", second)].astype(float)
            enough = len(both) >= MIN_UNITS_FOR_SHRINKAGE
            rows.append(
                {
                    "unit_type": unit_type,
                    "programme": programme,
                    "first_year": int(first),
                    "second_year": int(second),
                    "n_units": len(both),
                    "pearson": float(stats.pearsonr(a, b)[0]) if enough else np.nan,
                    "spearman": float(stats.spearmanr(a, b)[0]) if enough else np.nan,
                    "same_classification_share": float(
                        (both[("classification", first)] == both[("classification", second)]).mean()
                    )
                    if len(both)
                    else np.nan,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "unit_type",
            "programme",
            "first_year",
            "second_year",
            "n_units",
            "pearson",
            "spearman",
            "same_classification_share",
        ],
    )


def contribution_tables(fit: M1Fit, run_id: str, outcome_variant: str, outcome: str = OUTCOME) -> ContributionTables:
    """The analysis.contribution_* tables of one run and outcome, each row tagged with the run, the
    outcome variant and the outcome (whose M1 ``fit`` is)."""
    indicators, components = _indicator_rows(fit)
    tables = ContributionTables(
        indicators=indicators,
        percentiles=percentile_table(indicators),
        summary=summary_table(indicators, components),
        stability=stability_table(indicators),
    )
    for table in tables.as_dict().values():
        table["run_id"] = run_id
        table["outcome_variant"] = outcome_variant
        table["outcome"] = outcome
    return tables
