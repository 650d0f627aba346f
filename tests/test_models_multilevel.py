"""M2 and M3: fit samples, level-2 units, standardisation, and recovery of the generating model."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import glmm, multilevel
from analysis.simulation import simulate_analysis_dataset
from analysis.specification import DEFAULT_NODES, M2, M3


def standardised_truth(truth: dict, standardisation) -> dict[str, float]:
    """The generator's raw-scale coefficients on the fit's scale: β_std = β_raw·SD, and the
    constant absorbs β_raw·mean of every standardised variable."""
    raw = truth["coefficients"]
    scale = standardisation.set_index("variable")
    converted = {term: value for term, value in raw.items() if term not in scale.index}
    converted["const"] = raw["const"] + sum(raw[v] * scale.loc[v, "mean"] for v in scale.index)
    for variable in scale.index:
        converted[variable + "_std"] = raw[variable] * scale.loc[variable, "sd"]
    return converted


@pytest.fixture(scope="module")
def m2_scale5():
    frame, truth = simulate_analysis_dataset(scale=5.0, seed=0, truth="m2")
    return multilevel.fit_multilevel(frame, M2, nodes=DEFAULT_NODES), truth


def test_m2_recovers_the_generating_model_at_scale_5(m2_scale5):
    fit, truth = m2_scale5
    result = fit.result
    assert result.converged and result.gradient_norm < 1e-6
    assert result.n_obs > 80_000 and result.n_groups > 900
    low, high = result.sigma2_ci
    assert low < truth["sigma_u"] ** 2 < high
    table = multilevel.coefficient_table(fit)
    true_values = table["term"].map(standardised_truth(truth, fit.data.standardisation))
    assert true_values.notna().all()
    z = (table["estimate"] - true_values) / table["std_error"]
    # Ten fixed effects: each inside its 95 % interval would fail a correct estimator 40 % of the
    # time. Instead: all inside a Bonferroni interval (family-wise 5 %), most inside their own 95 %.
    assert np.all(np.abs(z) < 2.81)
    assert (np.abs(z) < 1.96).mean() >= 0.8


def test_unit_rule_counts_complete_cases_of_the_fit_sample():
    frame, _ = simulate_analysis_dataset(scale=0.3, seed=2, truth="m2")
    data = multilevel.prepare(frame, M2)
    counts = data.unit.value_counts()
    assert counts.min() > 10
    complete = frame.loc[frame["complete_case"]]
    complete_counts = complete.groupby(["kommunenummer", "cohort_year"]).size()
    assert len(counts) == (complete_counts > 10).sum()
    # A unit with more than 10 ended participants but at most 10 complete cases is out.
    ended = frame.groupby(["kommunenummer", "cohort_year"]).size()
    borderline = ended[(ended > 10) & (complete_counts.reindex(ended.index, fill_value=0) <= 10)]
    assert len(borderline) > 0
    kommune, year = borderline.index[0]
    assert f"{kommune}|{year}" not in set(data.unit)


def test_women_only_models_apply_the_rule_to_women_and_drop_sex():
    frame, _ = simulate_analysis_dataset(scale=0.5, seed=4, truth="m3")
    data = multilevel.prepare(frame, M3, women_only=True)
    assert data.model == "m3_women"
    assert (data.sample["kjonn_mann"] == 0).all()
    assert data.dropped_terms == ["kjonn_mann"] and "kjonn_mann" not in data.design.columns
    assert data.unit.value_counts().min() > 10
    assert data.unit.str.split("|").str[0].isin(frame["prosjekt_id"]).all()


def test_standardisation_uses_the_fit_sample():
    frame, _ = simulate_analysis_dataset(scale=0.3, seed=5, truth="m2")
    data = multilevel.prepare(frame, M2)
    table = data.standardisation.set_index("variable")
    assert list(table.index) == ["alder", "andel_innvandrere", "nettoinnflytting", "andel_utvalgte_naeringer"]
    assert table.loc["alder", "mean"] == pytest.approx(data.sample["alder"].mean())
    assert table.loc["nettoinnflytting", "sd"] == pytest.approx(data.sample["nettoinnflytting"].std(ddof=1))
    for column in ["alder_std", "andel_innvandrere_std"]:
        assert data.design[column].mean() == pytest.approx(0, abs=1e-12)
        assert data.design[column].std(ddof=1) == pytest.approx(1)
    assert list(data.design.columns) == [
        "const",
        "ordning",
        "alder_std",
        "kjonn_mann",
        "spor_2",
        "spor_3",
        "fravaer_hoy",
        "andel_innvandrere_std",
        "nettoinnflytting_std",
        "andel_utvalgte_naeringer_std",
    ]


def test_collapsing_to_binomial_rows_keeps_the_likelihood():
    frame, _ = simulate_analysis_dataset(scale=0.2, seed=6, truth="m2")
    data = multilevel.prepare(frame, M2)
    X, successes, trials, units = multilevel.collapse(data)
    assert len(X) < len(data.sample) and trials.sum() == len(data.sample)
    beta = np.linspace(-0.5, 0.5, X.shape[1])
    rowwise = glmm.marginal_loglik(
        data.design.to_numpy(), data.sample["maloppnaelse"].to_numpy(), data.unit.to_numpy(), beta, 0.6, nodes=5
    )
    assert glmm.marginal_loglik(X, successes, units, beta, 0.6, nodes=5, trials=trials) == pytest.approx(
        rowwise, abs=1e-8
    )


def test_tables_of_a_multilevel_fit(m2_scale5):
    fit, _ = m2_scale5
    effects = multilevel.random_effects_table(fit)
    assert effects["n"].sum() == fit.result.n_obs
    assert len(effects) == fit.result.n_groups
    assert (effects["unit"] == effects["unit_id"] + "|" + effects["cohort_year"].astype(str)).all()
    assert (effects["std_error"] > 0).all() and (effects["std_error"] < fit.result.sigma).all()
    row = multilevel.fit_row(fit)
    assert row["icc"] == pytest.approx(row["sigma2_u"] / (row["sigma2_u"] + np.pi**2 / 3))
    assert row["method"] == "aghq" and row["nodes"] == DEFAULT_NODES
    test = multilevel.random_intercept_lr_test(fit)
    assert test["lr_statistic"] > 100 and test["p_value"] < 1e-20
    vif = multilevel.multilevel_vif(fit).set_index("term")
    assert vif.loc["spor", "df"] == 2 and vif["vif"].max() < 5
