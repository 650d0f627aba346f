"""M1 recovers the delivery generator's own ground truth (iwh_synth, truth model "m1").

truth_persons.parquet carries the harmonised columns of every exit, so M1's frame is built from
it directly, without the warehouse; complete cases are the rows without an exclusion reason.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import m1
from analysis.specification import CONSTANT, REGION_TERMS

pytestmark = pytest.mark.slow


def term_in_truth(term: str) -> str:
    """truth.json names the constant ``Intercept`` and region effects ``region[<label>]``."""
    if term == CONSTANT:
        return "Intercept"
    region_of_term = {t: label for label, t in REGION_TERMS.items()}
    return f"region[{region_of_term[term]}]" if term in region_of_term else term


@pytest.fixture(scope="module")
def generated_m1(tmp_path_factory):
    from iwh_synth import generate

    out = tmp_path_factory.mktemp("synth_m1") / "landing"
    generate(out_dir=out, years=[2017, 2018, 2019, 2020], scale=1.0, seed=1, truth="m1")
    persons = pd.read_parquet(out / "truth_persons.parquet")
    persons["complete_case"] = persons["excluded_reason"].isna()
    return persons, json.loads((out / "truth.json").read_text(encoding="utf-8"))


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
