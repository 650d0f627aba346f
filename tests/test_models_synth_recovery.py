"""M1 and M2 recover the delivery generator's own ground truth (iwh_synth, truth models "m1", "m2").

truth_persons.parquet carries the harmonised columns of every exit, so the models' frames are built
from it directly, without the warehouse; complete cases are the rows without an exclusion reason.
M2's context variables are read from the SSB files of the landing zone, as published.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import m1, multilevel
from analysis.specification import CONSTANT, M2, REGION_TERMS

YEARS = [2017, 2018, 2019, 2020]
# SSB table → context column of marts.analysis_dataset (landing-zone contract: ssb/<table>.csv).
CONTEXT_TABLES = {"09817": "andel_innvandrere", "09588": "nettoinnflytting", "07984": "andel_utvalgte_naeringer"}
SSB_SYMBOLS = {".", "..", "...", ":"}

pytestmark = pytest.mark.slow


def term_in_truth(term: str) -> str:
    """truth.json names the constant ``Intercept`` and region effects ``region[<label>]``."""
    if term == CONSTANT:
        return "Intercept"
    region_of_term = {t: label for label, t in REGION_TERMS.items()}
    return f"region[{region_of_term[term]}]" if term in region_of_term else term


def generate_persons(tmp_path_factory, truth: str, scale: float, seed: int) -> tuple[pd.DataFrame, dict, Path]:
    from iwh_synth import generate

    out = tmp_path_factory.mktemp(f"synth_{truth}") / "landing"
    generate(out_dir=out, years=YEARS, scale=scale, seed=seed, truth=truth)
    persons = pd.read_parquet(out / "truth_persons.parquet")
    persons["complete_case"] = persons["excluded_reason"].isna()
    return persons, json.loads((out / "truth.json").read_text(encoding="utf-8")), out


def published_context(landing: Path) -> pd.DataFrame:
    """Municipality-year context from the statbank exports, indexed by (kommunenummer, cohort_year)."""
    columns = []
    for table, name in CONTEXT_TABLES.items():
        raw = pd.read_csv(
            landing / "ssb" / f"{table}.csv", sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
        raw = raw.loc[~raw.iloc[:, 3].isin(SSB_SYMBOLS)]
        index = pd.MultiIndex.from_arrays(
            [raw["region"].str[:4], raw["år"].astype(int)], names=["kommunenummer", "cohort_year"]
        )
        columns.append(pd.Series(raw.iloc[:, 3].str.replace(",", ".").astype(float).to_numpy(), index=index, name=name))
    return pd.concat(columns, axis=1)


@pytest.fixture(scope="module")
def generated_m1(tmp_path_factory):
    persons, truth, _ = generate_persons(tmp_path_factory, "m1", scale=1.0, seed=1)
    return persons, truth


@pytest.fixture(scope="module")
def generated_m2(tmp_path_factory):
    persons, truth, landing = generate_persons(tmp_path_factory, "m2", scale=5.0, seed=2)
    persons["cohort_year"] = persons["cohort_year"].astype(int)
    return persons.join(published_context(landing), on=["kommunenummer", "cohort_year"]), truth


def test_m1_recovers_the_generator_truth_at_scale_1(generated_m1):
    persons, truth = generated_m1
    assert truth["model"] == "m1" and truth["reference_category"]["region"] == "Europa"
    fit = m1.fit_m1(persons)
    assert fit.converged and fit.result.nobs > 15_000
    table = m1.coefficient_table(fit)
    true_values = table["term"].map(lambda term: truth["coefficients"][term_in_truth(term)])
    covered = (table["ci_low_log"] <= true_values) & (true_values <= table["ci_high_log"])
    assert covered.mean() >= 0.90
    assert np.all(np.abs(table["estimate"] - true_values) < 4 * table["std_error"])


def test_m2_recovers_the_generator_truth_at_scale_5(generated_m2):
    persons, truth = generated_m2
    assert truth["model"] == "m2"
    assert persons.loc[persons["complete_case"], "andel_innvandrere"].notna().all()
    fit = multilevel.fit_multilevel(persons, M2)
    result = fit.result
    assert result.converged and result.n_groups > 800
    low, high = result.sigma2_ci
    assert low < truth["random_effects"]["kommune_aar"]["variance"] < high
    raw = truth["coefficients"]
    scale = fit.data.standardisation.set_index("variable")
    expected = {term: raw[term] for term in ["ordning", "kjonn_mann", "spor_2", "spor_3", "fravaer_hoy"]}
    expected["const"] = raw["Intercept"] + sum(raw[v] * scale.loc[v, "mean"] for v in scale.index)
    expected.update({f"{v}_std": raw[v] * scale.loc[v, "sd"] for v in scale.index})
    table = multilevel.coefficient_table(fit)
    z = (table["estimate"] - table["term"].map(expected)) / table["std_error"]
    assert z.notna().all()
    # Bonferroni over the ten fixed effects (family-wise 5 %), and most inside their own 95 %.
    assert np.all(np.abs(z) < 2.81) and (np.abs(z) < 1.96).mean() >= 0.8
