"""Contribution indicators: arithmetic, intervals, shrinkage, suppression, summary tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import contribution
from analysis.m1 import design_matrix, fit_m1
from analysis.simulation import simulate_analysis_dataset


@pytest.fixture(scope="module")
def fit():
    frame, _ = simulate_analysis_dataset(scale=0.3, seed=5, truth="m2")
    return fit_m1(frame)


@pytest.fixture(scope="module")
def tables(fit):
    return contribution.contribution_tables(fit, run_id="run-c", outcome_variant="report_text")


def test_a_pooled_project_row_is_actual_minus_m1_expected_with_its_interval(fit, tables):
    sample = fit.sample
    indicators = tables.indicators
    pooled = indicators.loc[
        (indicators["unit_type"] == "project") & (indicators["period_type"] == "pooled") & ~indicators["suppressed"]
    ]
    row = pooled.sort_values("n").iloc[len(pooled) // 2]
    members = sample.loc[sample["prosjekt_id"] == row["unit_id"]]
    assert row["n"] == len(members)
    assert row["actual_pct"] == pytest.approx(100 * members["maloppnaelse"].mean())
    assert row["expected_pct"] == pytest.approx(100 * members["predicted"].mean())
    assert row["contribution_pp"] == pytest.approx(row["actual_pct"] - row["expected_pct"])

    # se² = binomial + M1 (delta method) + ω²·Σ(nₜ/n)², in pp
    p = members["predicted"].to_numpy()
    binomial = np.sum(p * (1 - p)) / len(p) ** 2
    X = design_matrix(members, fit.terms).to_numpy()
    gradient = ((p * (1 - p))[:, None] * X).mean(axis=0)
    model = gradient @ fit.result.cov_params().to_numpy() @ gradient
    summary = tables.summary.set_index(["unit_type", "programme", "period_type"]).sort_index()
    omega = summary.loc[("project", row["programme"], "pooled"), "year_shock_sd_pp"] / 100
    shares = members["cohort_year"].value_counts(normalize=True)
    se = np.sqrt(binomial + model + omega**2 * np.sum(shares**2))
    assert row["se_pp"] == pytest.approx(100 * se)
    assert row["ci_low_pp"] == pytest.approx(row["contribution_pp"] - contribution.Z_INTERVAL * 100 * se)
    assert contribution.Z_INTERVAL == pytest.approx(1.6449, abs=1e-4)


def test_yearly_rows_carry_no_year_shock_term(fit, tables):
    indicators = tables.indicators
    yearly = indicators.loc[
        (indicators["unit_type"] == "project") & (indicators["period_type"] == "year") & ~indicators["suppressed"]
    ]
    row = yearly.sort_values("n").iloc[-1]
    members = fit.sample.loc[
        (fit.sample["prosjekt_id"] == row["unit_id"]) & (fit.sample["cohort_year"] == row["cohort_year"])
    ]
    p = members["predicted"].to_numpy()
    binomial = np.sum(p * (1 - p)) / len(p) ** 2
    # The model term is tiny next to binomial noise at this size; the year term would not be.
    assert binomial <= (row["se_pp"] / 100) ** 2 <= 1.05 * binomial


def test_classification_and_quadrant_follow_interval_and_national_mean(tables):
    shown = tables.indicators.loc[~tables.indicators["suppressed"]]
    expected_class = np.select([shown["ci_low_pp"] > 0, shown["ci_high_pp"] < 0], ["above", "below"], "in_line")
    assert (shown["classification"].to_numpy() == expected_class).all()
    positive = shown["contribution_pp"] >= 0
    above = shown["actual_pct"] >= shown["national_mean_pct"]
    assert (shown.loc[positive & above, "quadrant"] == "positive_above_mean").all()
    assert (shown.loc[~positive & ~above, "quadrant"] == "negative_below_mean").all()
    assert set(shown["classification"]) == {"above", "in_line", "below"}


def test_national_mean_is_the_share_of_all_modelled_participants(fit, tables):
    pooled = tables.indicators.loc[tables.indicators["period_type"] == "pooled", "national_mean_pct"].dropna().unique()
    assert pooled == pytest.approx([100 * fit.sample["maloppnaelse"].mean()])


def test_shrinkage_recovers_the_spread_of_true_contributions():
    rng = np.random.default_rng(3)
    sampling_var = rng.uniform(0.002, 0.02, 2000)
    theta = rng.normal(0, 0.08, 2000)
    observed = theta + rng.normal(0, np.sqrt(sampling_var))
    result = contribution.shrink(observed, sampling_var, np.ones(2000, dtype=bool))
    assert result.tau == pytest.approx(0.08, rel=0.1)  # its own posterior SD is about 4 % of τ here
    covered = np.abs(result.mean - theta) <= contribution.Z_INTERVAL * result.sd
    assert covered.mean() == pytest.approx(0.90, abs=0.02)
    assert np.mean((result.mean - theta) ** 2) < np.mean((observed - theta) ** 2) / 2


def test_shrinkage_intervals_keep_their_width_when_the_spread_looks_like_zero():
    # 25 units whose contributions are pure noise: τ's likelihood peaks at zero, yet τ is uncertain.
    rng = np.random.default_rng(8)
    sampling_var = np.full(25, 0.05**2)
    observed = rng.normal(0, 0.05, 25)
    result = contribution.shrink(observed, sampling_var, np.ones(25, dtype=bool))
    assert np.all(np.abs(result.mean) < np.abs(observed))
    assert np.all(result.sd > 0.2 * 0.05)
    assert result.tau < 0.05


def test_year_shock_variance_is_recovered_from_yearly_rows():
    rng = np.random.default_rng(4)
    units, years = 600, 4
    persistent = np.repeat(rng.normal(0, 0.1, units), years)
    binomial_var = rng.uniform(0.003, 0.01, units * years)
    yearly = pd.DataFrame(
        {
            "unit_id": np.repeat([f"u{i}" for i in range(units)], years),
            "binomial_var": binomial_var,
            "contribution": persistent + rng.normal(0, 0.06, units * years) + rng.normal(0, np.sqrt(binomial_var)),
        }
    )
    assert np.sqrt(contribution.year_shock_variance(yearly)) == pytest.approx(0.06, rel=0.1)


def test_shrunken_value_is_the_posterior_mean_toward_zero(tables):
    shown = tables.indicators.loc[~tables.indicators["suppressed"] & (tables.indicators["period_type"] == "pooled")]
    summary = tables.summary.set_index(["unit_type", "programme", "period_type"]).sort_index()
    row = shown.loc[shown["unit_type"] == "municipality"].iloc[0]
    pooled_municipalities = shown.loc[shown["unit_type"] == "municipality"]
    result = contribution.shrink(
        pooled_municipalities["contribution_pp"].to_numpy() / 100,
        (pooled_municipalities["se_pp"].to_numpy() / 100) ** 2,
        np.ones(len(pooled_municipalities), dtype=bool),
    )
    assert row["shrunken_pp"] == pytest.approx(100 * result.mean[0])
    assert summary.loc[("municipality", "all", "pooled"), "between_unit_sd_pp"] == pytest.approx(100 * result.tau)
    assert abs(row["shrunken_pp"]) <= abs(row["contribution_pp"])
    assert row["shrunken_ci_high_pp"] - row["shrunken_ci_low_pp"] < row["ci_high_pp"] - row["ci_low_pp"]


def test_no_row_under_five_participants_is_published(tables):
    indicators = tables.indicators
    assert (indicators.loc[~indicators["suppressed"], "n"] >= 5).all()
    hidden = indicators.loc[indicators["suppressed"]]
    assert len(hidden) > 0 and (hidden["suppression_reason"] == "small").any()
    assert hidden[contribution.DESCRIBING_COLUMNS].isna().all().all()
    assert hidden["unit_id"].notna().all()


def test_a_units_suppressed_years_never_add_up_to_fewer_than_five(tables):
    indicators = tables.indicators
    pooled = indicators.loc[(indicators["period_type"] == "pooled") & ~indicators["suppressed"]].set_index(
        ["unit_type", "unit_id"]
    )["n"]
    published_years = (
        indicators.loc[(indicators["period_type"] == "year") & ~indicators["suppressed"]]
        .groupby(["unit_type", "unit_id"])["n"]
        .sum()
    )
    remainder = pooled - published_years.reindex(pooled.index, fill_value=0)
    assert not remainder.between(1, 4).any()


def _rows(parts: dict[tuple[str, str, int], int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants from (kommunenummer, prosjekt_id, year) → count, and the indicator rows they give."""
    participants = pd.DataFrame(
        [(k, p, y) for (k, p, y), count in parts.items() for _ in range(count)],
        columns=["kommunenummer", "prosjekt_id", "cohort_year"],
    )
    rows = []
    for unit_type, column in contribution.UNIT_COLUMNS.items():
        for unit_id, members in participants.groupby(column):
            rows.append({"unit_type": unit_type, "unit_id": unit_id, "cohort_year": pd.NA, "n": len(members)})
            for year, in_year in members.groupby("cohort_year"):
                rows.append({"unit_type": unit_type, "unit_id": unit_id, "cohort_year": year, "n": len(in_year)})
    frame = pd.DataFrame(rows)
    frame["cohort_year"] = frame["cohort_year"].astype("Int64")
    return frame, participants


def _reasons(parts) -> dict[tuple, str | None]:
    rows, participants = _rows(parts)
    reasons = contribution.suppression_reasons(rows, participants)
    return {
        (t, u, None if pd.isna(y) else int(y)): r
        for t, u, y, r in zip(rows["unit_type"], rows["unit_id"], rows["cohort_year"], reasons)
    }


def test_a_small_project_year_cannot_be_recovered_by_subtraction():
    reasons = _reasons(
        {
            ("0001", "intro-0001", 2017): 40,
            ("0001", "intro-0001", 2018): 38,
            ("0001", "intro-0001", 2019): 41,
            ("0001", "intro-0001", 2020): 2,
            ("0001", "JS A", 2017): 10,
            ("0001", "JS A", 2018): 3,
            ("0001", "JS A", 2019): 12,
            ("0002", "intro-0002", 2017): 30,
            ("0002", "intro-0002", 2018): 30,
        }
    )
    assert reasons[("project", "intro-0001", 2020)] == "small"
    assert reasons[("project", "JS A", 2018)] == "small"
    # the municipality minus its introduction programme would show JS A's 3 participants of 2018
    assert reasons[("municipality", "0001", 2018)] == "complement"
    # suppressed years 2018 and 2020 hold 3 of JS A's participants: 2017, the smallest other
    # year, is withheld for the whole family too
    for unit in (("project", "intro-0001"), ("project", "JS A"), ("municipality", "0001")):
        assert reasons[(*unit, 2017)] == "complementary_year"
        assert reasons[(*unit, 2019)] is None
        assert reasons[(*unit, None)] is None
    # an unrelated municipality keeps all its rows
    assert all(reason is None for key, reason in reasons.items() if key[1] in ("0002", "intro-0002"))


def test_a_small_project_hidden_everywhere_does_not_withhold_its_neighbours_years():
    reasons = _reasons(
        {
            **{("0002", "intro-0002", year): 30 for year in (2017, 2018, 2019, 2020)},
            ("0002", "JS B", 2019): 3,
        }
    )
    assert reasons[("project", "JS B", None)] == "small"
    assert reasons[("municipality", "0002", None)] == "complement"
    assert reasons[("municipality", "0002", 2019)] == "complement"
    # JS B is in no published pooled row, so nothing can isolate it: only 2019 is withheld
    assert reasons[("project", "intro-0002", 2019)] == "complementary_year"
    assert [reasons[("project", "intro-0002", year)] for year in (2017, 2018, 2020)] == [None, None, None]
    assert reasons[("project", "intro-0002", None)] is None


def test_percentiles_are_those_of_the_published_pooled_units(tables):
    indicators = tables.indicators
    intro = indicators.loc[
        (indicators["unit_type"] == "project")
        & (indicators["programme"] == "intro")
        & (indicators["period_type"] == "pooled")
        & ~indicators["suppressed"]
    ]
    table6 = tables.percentiles.loc[
        (tables.percentiles["unit_type"] == "project") & (tables.percentiles["programme"] == "intro")
    ]
    assert table6["percentile"].tolist() == [10, 25, 50, 75, 90]
    assert table6["contribution_pp"].tolist() == pytest.approx(
        np.percentile(intro["contribution_pp"], [10, 25, 50, 75, 90])
    )
    assert table6["actual_pct"].iloc[2] == pytest.approx(np.median(intro["actual_pct"]))
    assert (table6["n_units"] == len(intro)).all()


def test_summary_shares_add_up_and_count_the_published_units(tables):
    summary = tables.summary
    classification = summary[["share_above", "share_in_line", "share_below"]].sum(axis=1)
    quadrants = summary[[f"share_{q}" for q in contribution.QUADRANTS]].sum(axis=1)
    assert classification.to_numpy() == pytest.approx(1.0) and quadrants.to_numpy() == pytest.approx(1.0)
    both = summary.set_index(["unit_type", "programme", "period_type"]).sort_index().loc[("project", "all", "pooled")]
    indicators = tables.indicators
    pooled_projects = indicators.loc[(indicators["unit_type"] == "project") & (indicators["period_type"] == "pooled")]
    assert both["n_units"] == (~pooled_projects["suppressed"]).sum()
    assert both["n_units_suppressed"] == pooled_projects["suppressed"].sum()


def test_stability_correlates_consecutive_years_of_the_same_units(tables):
    indicators = tables.indicators
    stability = tables.stability
    row = stability.loc[(stability["unit_type"] == "municipality")].iloc[0]
    yearly = indicators.loc[
        (indicators["unit_type"] == "municipality") & (indicators["period_type"] == "year") & ~indicators["suppressed"]
    ]
    wide = yearly.pivot(index="unit_id", columns="cohort_year", values="contribution_pp")
    both = wide[[row["first_year"], row["second_year"]]].dropna()
    assert row["n_units"] == len(both)
    assert row["pearson"] == pytest.approx(stats.pearsonr(both.iloc[:, 0], both.iloc[:, 1])[0])


def test_every_table_is_tagged_sorted_and_reproducible(fit, tables):
    again = contribution.contribution_tables(fit, run_id="run-c", outcome_variant="report_text")
    for name, table in tables.as_dict().items():
        assert (table["run_id"] == "run-c").all() and (table["outcome_variant"] == "report_text").all(), name
        pd.testing.assert_frame_equal(table, again.as_dict()[name], check_exact=True, obj=name)
    indicators = tables.indicators
    assert list(indicators.columns) == contribution.INDICATOR_COLUMNS + ["run_id", "outcome_variant", "outcome"]
    assert (indicators["outcome"] == "maloppnaelse").all()
    order = indicators[["unit_type", "unit_id", "period_type"]].apply(tuple, axis=1).tolist()
    assert order == sorted(order)
