"""M1: recovery of the generating model, and the tables built from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special
from statsmodels.stats.outliers_influence import variance_inflation_factor

from analysis import m1
from analysis.glmm import logistic_loglik
from analysis.simulation import simulate_analysis_dataset
from analysis.specification import TILTAK


@pytest.fixture(scope="module")
def m1_sample():
    frame, truth = simulate_analysis_dataset(scale=1.0, seed=0, truth="m1")
    return frame, truth


@pytest.fixture(scope="module")
def m1_fit(m1_sample):
    return m1.fit_m1(m1_sample[0])


def test_recovers_the_generating_coefficients_at_scale_1(m1_sample, m1_fit):
    _, truth = m1_sample
    table = m1.coefficient_table(m1_fit)
    true_values = table["term"].map(truth["coefficients"])
    assert true_values.notna().all()
    covered = (table["ci_low_log"] <= true_values) & (true_values <= table["ci_high_log"])
    assert covered.mean() >= 0.90
    assert np.all(np.abs(table["estimate"] - true_values) < 4 * table["std_error"])
    assert len(table) == 33  # constant, 8 individual variables, 9 regions, 15 measures


def test_coefficient_table_and_fit_statistics_on_complete_cases(m1_sample, m1_fit):
    frame, _ = m1_sample
    sample = frame.loc[frame["complete_case"]]
    assert m1_fit.result.nobs == len(sample)
    X = m1.design_matrix(sample, m1_fit.terms).to_numpy()
    y = sample["maloppnaelse"].to_numpy()
    # An independent maximisation (plain IRLS) reaches the same log-likelihood.
    loglik = logistic_loglik(X, y)
    row = m1.fit_row(m1_fit)
    assert row["log_likelihood"] == pytest.approx(loglik, abs=1e-6)
    null_loglik = logistic_loglik(np.ones((len(y), 1)), y)
    assert row["pseudo_r2"] == pytest.approx(1 - loglik / null_loglik, rel=1e-9)
    assert row["aic"] == pytest.approx(-2 * loglik + 2 * 33)
    table = m1.coefficient_table(m1_fit)
    np.testing.assert_allclose(table["odds_ratio"], np.exp(table["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(table["ci_low"], np.exp(table["estimate"] - 1.959964 * table["std_error"]), rtol=1e-6)
    np.testing.assert_allclose(table["z"], table["estimate"] / table["std_error"], rtol=1e-12)
    # Standard errors are the inverse observed information at the optimum.
    p = special.expit(X @ table["estimate"].to_numpy())
    information = X.T @ (X * (p * (1 - p))[:, None])
    np.testing.assert_allclose(table["std_error"], np.sqrt(np.diag(np.linalg.inv(information))), rtol=1e-6)


def test_europa_is_the_reference_and_absent_regions_get_no_term(m1_sample):
    frame, _ = m1_sample
    without = frame.loc[~frame["region"].isin(["Nord-Amerika", "Statsløs"])]
    fit = m1.fit_m1(without)
    assert fit.reference_region == "Europa"
    assert "region_europa" not in fit.terms
    assert "region_nord_amerika" not in fit.terms and "region_statslos" not in fit.terms
    assert "region_sor_asia" in fit.terms
    # A person from a region the fit never saw has no prediction rather than the reference's.
    probe = frame.loc[frame["complete_case"] & frame["region"].isin(["Statsløs", "Sør-Asia"])].head(20)
    predicted = m1.predict_m1(fit, probe)
    assert predicted[probe["region"] == "Statsløs"].isna().all()
    assert predicted[probe["region"] == "Sør-Asia"].notna().all()


def test_predict_m1_reproduces_fitted_probabilities_and_skips_incomplete_rows(m1_sample, m1_fit):
    frame, _ = m1_sample
    predicted = m1.predict_m1(m1_fit, frame)
    fitted = m1_fit.sample["predicted"]
    np.testing.assert_allclose(predicted.loc[fitted.index], fitted, rtol=1e-12)
    missing_spor = frame["spor"].isna()
    assert missing_spor.any() and predicted[missing_spor].isna().all()
    # Logistic MLE with a constant: the fitted probabilities average to the observed share.
    assert fitted.mean() == pytest.approx(m1_fit.sample["maloppnaelse"].mean(), abs=1e-8)


def test_women_only_model_drops_sex(m1_sample):
    frame, _ = m1_sample
    fit = m1.fit_m1(frame, "m1_women", women_only=True)
    assert "kjonn_mann" not in fit.terms and fit.dropped_terms == ["kjonn_mann"]
    assert fit.result.nobs == (frame["complete_case"] & (frame["kjonn_mann"] == 0)).sum()
    assert fit.converged


def test_vif_equals_statsmodels_and_flags_the_school_subjects(m1_fit):
    table = m1.m1_vif(m1_fit).set_index("term")
    X = m1.design_matrix(m1_fit.sample, m1_fit.terms)
    for term in ["ordning", "botid", "tiltak_grunnskolefag", "region_vest_asia"]:
        expected = variance_inflation_factor(X.to_numpy(), X.columns.get_loc(term))
        assert table.loc[term, "vif"] == pytest.approx(expected, rel=1e-8)
    # 97 % of those with one school-subject measure have both (as in the report: VIF ≈ 27).
    assert table.loc["tiltak_grunnskolefag", "vif"] > 10 and table.loc["tiltak_fag_vgo", "vif"] > 10
    others = table.drop(index=["tiltak_grunnskolefag", "tiltak_fag_vgo", "region"])
    assert others.loc[~others.index.str.startswith("region_"), "vif"].max() < 5
    region = table.loc["region"]
    assert region["df"] == 9 and region["gvif_adjusted"] == pytest.approx(region["vif"] ** (1 / 18))


def test_likelihood_ratio_tests_compare_refits_on_the_same_sample(m1_fit):
    table = m1.lr_tests(m1_fit).set_index(["comparison", "block"])
    sample = m1_fit.sample
    without_ordning = [t for t in m1_fit.terms if t != "ordning"]
    restricted = sm.Logit(sample["maloppnaelse"].to_numpy(), m1.design_matrix(sample, without_ordning)).fit(disp=False)
    row = table.loc[("drop_block", "ordning")]
    assert row["lr_statistic"] == pytest.approx(2 * (m1_fit.result.llf - restricted.llf), rel=1e-8)
    assert row["df"] == 1
    assert table.loc[("drop_block", "measures"), "df"] == len(TILTAK)
    # The sequential steps add up to the full model against the constant-only model.
    sequential = table.loc["sequential"]
    assert sequential["lr_statistic"].sum() == pytest.approx(2 * (m1_fit.result.llf - m1_fit.result.llnull), rel=1e-8)
    assert sequential["df"].sum() == len(m1_fit.terms) - 1


def test_archetypes_come_from_the_data_file(m1_fit):
    table = m1.archetype_predictions(m1_fit)
    archetypes = pd.read_csv(m1.ARCHETYPES_PATH, dtype=str, keep_default_na=False)
    assert list(table["archetype"]) == list(archetypes["archetype"])
    first = table.loc[table["archetype"] == "woman_spor2_africa"].set_index("ordning")
    assert first.loc[1, "predicted_probability"] > first.loc[0, "predicted_probability"]
    assert (table["ci_low"] < table["predicted_probability"]).all() and (
        table["predicted_probability"] < table["ci_high"]
    ).all()
    # "mean Norwegian level" is the fit sample's mean score; the others are as written.
    assert first.loc[1, "norsk_score_used"] == pytest.approx(m1_fit.sample["norsk_score"].mean())
    typical_intro = archetypes.loc[archetypes["archetype"] == "typical_intro"].iloc[0]
    x = {term: 0.0 for term in m1_fit.terms}
    x.update(
        const=1.0,
        ordning=0,
        spor=2,
        kjonn_mann=1,
        alder=32,
        botid=2,
        norsk_score=2,
        varighet_mnd=27,
        fravaer_hoy=1,
        region_vest_asia=1.0,
    )
    for measure in TILTAK:
        x[measure] = m1_fit.sample[measure].mean()
    eta = sum(m1_fit.params[t] * x[t] for t in m1_fit.terms)
    expected = 1 / (1 + np.exp(-eta))
    assert typical_intro["region"] == "Vest-Asia"
    assert table.loc[table["archetype"] == "typical_intro", "predicted_probability"].item() == pytest.approx(expected)


def test_predicted_vs_actual_by_programme_within_subgroups(m1_fit):
    table = m1.predicted_vs_actual(m1_fit)
    assert set(table["characteristic"]) == {
        "spor",
        "norsk_tier",
        "fravaer_hoy",
        "botid_quartile",
        "varighet_quartile",
        "age_band",
    }
    sample = m1_fit.sample
    spor = table.loc[table["characteristic"] == "spor"].set_index(["programme", "level"])
    cell = sample.loc[(sample["programme"] == "jobbsjansen") & (sample["spor"] == 3)]
    assert spor.loc[("jobbsjansen", "3"), "n"] == len(cell)
    assert spor.loc[("jobbsjansen", "3"), "actual"] == pytest.approx(cell["maloppnaelse"].mean())
    assert spor.loc[("jobbsjansen", "3"), "predicted"] == pytest.approx(cell["predicted"].mean())
    tiers = table.loc[(table["characteristic"] == "norsk_tier") & (table["programme"] == "intro")]
    assert list(tiers.sort_values("level_order")["level"]) == ["Under A1", "A1", "A2", "B1", "B2"]
    quartiles = table.loc[(table["characteristic"] == "botid_quartile") & (table["programme"] == "intro")]
    assert list(quartiles["level_order"]) == [1, 2, 3, 4]


def test_small_cells_are_suppressed(m1_fit, monkeypatch):
    # Raise the publication threshold above the smallest real cells instead of refitting on fewer rows.
    monkeypatch.setattr(m1, "MIN_PUBLISHED_CELL", 200)
    table = m1.predicted_vs_actual(m1_fit).set_index(["characteristic", "programme", "level"])
    sample = m1_fit.sample
    js_spor1 = ((sample["programme"] == "jobbsjansen") & (sample["spor"] == 1)).sum()
    assert 0 < js_spor1 < 200
    cell = table.loc[("spor", "jobbsjansen", "1")]
    assert bool(cell["suppressed"]) and pd.isna(cell["n"]) and np.isnan(cell["actual"]) and np.isnan(cell["predicted"])
    published = table.loc[~table["suppressed"]]
    assert (published["n"] >= 200).all() and published["actual"].notna().all()
    assert not table.loc[("spor", "intro", "1"), "suppressed"]
