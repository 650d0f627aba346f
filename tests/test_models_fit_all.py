"""The entry point: every analysis.* table, tagged with the run, reproducible."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from analysis import models
from analysis.simulation import simulate_analysis_dataset
from analysis.specification import DEFAULT_NODES, MODEL_NAMES


@pytest.fixture(scope="module")
def dataset():
    frame, _ = simulate_analysis_dataset(scale=0.4, seed=21, truth="m2")
    return frame


@pytest.fixture(scope="module")
def tables(dataset):
    return models.fit_all(dataset, run_id="run-a", outcome_variant="report_text")


def test_every_table_has_its_columns_and_the_run_tags(tables):
    assert set(tables) == set(models.TABLE_COLUMNS)
    for name, table in tables.items():
        assert list(table.columns) == models.TABLE_COLUMNS[name] + ["run_id", "outcome_variant", "outcome"], name
        assert len(table) > 0, name
        assert (table["run_id"] == "run-a").all() and (table["outcome_variant"] == "report_text").all(), name
        assert (table["outcome"] == "maloppnaelse").all(), name


def test_all_six_models_are_reported_and_the_estimable_ones_converge(tables):
    fit = tables["model_fit"].set_index("model")
    assert list(fit.index) == MODEL_NAMES
    # At this size women reach more than 10 complete cases in a single project-year only: M3 for
    # women is reported as not estimable, and the other models still come out.
    assert not fit.loc["m3_women", "converged"]
    assert "1 level-2 unit(s)" in fit.loc["m3_women", "message"] and pd.isna(fit.loc["m3_women", "n"])
    estimable = [name for name in MODEL_NAMES if name != "m3_women"]
    assert fit.loc[estimable, "converged"].all()
    assert set(tables["model_coefficients"]["model"]) == set(estimable)
    assert fit.loc["m2", "method"] == "aghq" and fit.loc["m2", "nodes"] == DEFAULT_NODES
    assert fit.loc["m1", "method"] == "logit" and pd.isna(fit.loc["m1", "sigma2_u"])
    assert fit.loc["m1_women", "n"] < fit.loc["m1", "n"]
    effects = tables["random_effects"]
    assert effects.groupby("model")["n"].sum().to_dict() == fit.loc[["m2", "m2_women", "m3"], "n"].to_dict()
    assert set(effects.loc[effects["model"] == "m3", "unit_type"]) == {"project_year"}


def test_same_data_give_identical_tables(dataset, tables):
    repeated = models.fit_all(dataset, run_id="run-a", outcome_variant="report_text")
    for name in tables:
        pd.testing.assert_frame_equal(repeated[name], tables[name], check_exact=True, obj=name)


def test_models_fitted_side_by_side_in_threads_give_identical_tables(dataset, tables):
    reported: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        fitted = models.fit_models(dataset, "report_text", fitted_one=reported.append, pool=pool)
        side_by_side = models.tables(fitted, "run-a", "report_text", pool=pool)
    assert sorted(reported) == sorted(MODEL_NAMES)
    assert list(fitted.not_estimable) == ["m3_women"]
    for name in tables:
        pd.testing.assert_frame_equal(side_by_side[name], tables[name], check_exact=True, obj=name)


def test_only_rows_of_the_requested_outcome_variant_are_modelled(dataset):
    other = dataset.assign(outcome_variant="table8_literal", maloppnaelse=1.0 - dataset["maloppnaelse"])
    both = pd.concat([dataset, other], ignore_index=True)
    selected = models.select_outcome_variant(both, "table8_literal")
    assert len(selected) == len(dataset)
    assert selected["maloppnaelse"].mean() == pytest.approx(1 - dataset["maloppnaelse"].mean())
    with pytest.raises(ValueError, match="no rows with outcome_variant 'unknown'"):
        models.select_outcome_variant(both, "unknown")


def test_nullable_warehouse_dtypes_give_the_same_fit(dataset):
    # DuckDB hands pandas nullable integers, booleans and strings; the numbers must not change.
    from analysis import m1, multilevel
    from analysis.specification import M2

    nullable = dataset.convert_dtypes()
    assert str(nullable["spor"].dtype) == "Int64" and str(nullable["complete_case"].dtype) == "boolean"
    pd.testing.assert_series_equal(m1.fit_m1(nullable).params, m1.fit_m1(dataset).params, rtol=1e-10)
    prepared, plain = multilevel.prepare(nullable, M2), multilevel.prepare(dataset, M2)
    pd.testing.assert_frame_equal(prepared.design.astype(float), plain.design, rtol=1e-12)
