"""M2 (municipality-year) and M3 (project-year): random-intercept logistic models of models.md.

Fixed effects: ordning, alder (standardised), kjonn_mann, spor as two dummies (ref. spor 1),
fravaer_hoy and the standardised context variables of the unit type; a random intercept per
level-2 unit, estimated by maximum likelihood with ``analysis.glmm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis import glmm
from analysis.design import ModelNotEstimable, complete_cases, estimable_columns, vif_table
from analysis.specification import (
    CONSTANT,
    DEFAULT_NODES,
    MIN_UNIT_PARTICIPANTS_EXCLUSIVE,
    MULTILEVEL_INDIVIDUAL,
    OUTCOME,
    STANDARDISED_SUFFIX,
    MultilevelSpec,
)

UNIT_SEPARATOR = "|"


@dataclass
class MultilevelData:
    """The fit sample of M2/M3 and its design, before collapsing to binomial rows."""

    model: str
    spec: MultilevelSpec
    sample: pd.DataFrame
    design: pd.DataFrame  # term columns, including the constant
    unit: pd.Series  # "<unit id>|<cohort year>" per row
    standardisation: pd.DataFrame  # variable, mean, sd (fit sample, ddof = 1)
    dropped_terms: list[str]


@dataclass
class MultilevelFit:
    data: MultilevelData
    result: glmm.GlmmResult
    logit_loglik: float  # the same fixed effects without the random intercept

    @property
    def model(self) -> str:
        return self.data.model


def prepare(frame: pd.DataFrame, spec: MultilevelSpec, women_only: bool = False) -> MultilevelData:
    """Fit sample and design of M2/M3.

    Sample: complete cases (the dbt ``complete_case`` flag, plus this model's own variables
    present), women only if asked, then only level-2 units with more than 10 participants *in
    that fit sample* — so every unit in the model contributes more than 10 observations to its
    own intercept, and the women-only models apply the rule to women. alder and the context
    variables are then standardised with the mean and SD (ddof = 1) of the final fit sample, taken
    over persons; a raw-scale coefficient β corresponds to β × SD here.
    """
    model = spec.name + ("_women" if women_only else "")
    columns = MULTILEVEL_INDIVIDUAL + list(spec.context_columns) + spec.unit_columns
    # The sample keeps only this model's columns: it stays alive with the fit, one per model.
    flags = ["complete_case"] if "complete_case" in frame.columns else []
    sample = complete_cases(frame[[OUTCOME, *columns, *flags]], columns)
    if women_only:
        sample = sample.loc[sample["kjonn_mann"] == 0]
    unit = sample[spec.unit_id_column].astype(str) + UNIT_SEPARATOR + sample["cohort_year"].astype(int).astype(str)
    unit_size = unit.map(unit.value_counts())
    keep = unit_size > MIN_UNIT_PARTICIPANTS_EXCLUSIVE
    sample, unit = sample.loc[keep].copy(), unit.loc[keep]
    if unit.nunique() < 2:
        raise ModelNotEstimable(
            f"{model}: {unit.nunique()} level-2 unit(s) with more than {MIN_UNIT_PARTICIPANTS_EXCLUSIVE} complete cases; "
            "a random intercept needs at least 2"
        )

    standardised = ["alder", *spec.context_columns]
    means = sample[standardised].mean()
    sds = sample[standardised].std(ddof=1)
    design = pd.DataFrame(index=sample.index)
    design[CONSTANT] = 1.0
    design["ordning"] = sample["ordning"].astype(float)
    design["alder" + STANDARDISED_SUFFIX] = (sample["alder"] - means["alder"]) / sds["alder"]
    design["kjonn_mann"] = sample["kjonn_mann"].astype(float)
    design["spor_2"] = (sample["spor"] == 2).astype(float)
    design["spor_3"] = (sample["spor"] == 3).astype(float)
    design["fravaer_hoy"] = sample["fravaer_hoy"].astype(float)
    for column in spec.context_columns:
        design[column + STANDARDISED_SUFFIX] = (sample[column] - means[column]) / sds[column]
    kept, dropped = estimable_columns(design)
    design = design[kept]
    standardisation = pd.DataFrame({"variable": standardised, "mean": means.to_numpy(), "sd": sds.to_numpy()})
    return MultilevelData(
        model=model,
        spec=spec,
        sample=sample,
        design=design,
        unit=unit,
        standardisation=standardisation,
        dropped_terms=dropped,
    )


def collapse(data: MultilevelData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Identical covariate patterns within a unit as binomial rows: same likelihood, fewer rows.

    Returns (X, successes, trials, unit labels), in a deterministic order.
    """
    keyed = data.design.copy()
    keyed["_unit"] = data.unit.to_numpy()
    keyed["_y"] = data.sample[OUTCOME].to_numpy(dtype=float)
    keys = ["_unit", *data.design.columns]
    grouped = keyed.groupby(keys, sort=True, observed=True)["_y"].agg(["sum", "size"]).reset_index()
    X = grouped[list(data.design.columns)].to_numpy(dtype=float)
    return X, grouped["sum"].to_numpy(dtype=float), grouped["size"].to_numpy(dtype=float), grouped["_unit"].to_numpy()


def fit_collapsed(
    collapsed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], term_names: list[str], nodes: int = DEFAULT_NODES
) -> tuple[glmm.GlmmResult, float]:
    """The random-intercept fit of ``collapse``'s rows, and the log-likelihood without the intercept."""
    X, successes, trials, units = collapsed
    result = glmm.fit(X, successes, units, nodes=nodes, trials=trials, term_names=term_names)
    return result, glmm.logistic_loglik(X, successes, trials)


def fit_multilevel(
    frame: pd.DataFrame, spec: MultilevelSpec, women_only: bool = False, nodes: int = DEFAULT_NODES
) -> MultilevelFit:
    data = prepare(frame, spec, women_only)
    result, logit_loglik = fit_collapsed(collapse(data), list(data.design.columns), nodes)
    return MultilevelFit(data=data, result=result, logit_loglik=logit_loglik)


def coefficient_table(fit: MultilevelFit) -> pd.DataFrame:
    table = fit.result.coefficient_table()
    table.insert(0, "model", fit.model)
    table["odds_ratio"] = np.exp(table["estimate"])
    table["ci_low"] = np.exp(table["ci_low_log"])
    table["ci_high"] = np.exp(table["ci_high_log"])
    return table


def fit_row(fit: MultilevelFit) -> dict:
    result = fit.result
    ci_low, ci_high = result.sigma2_ci
    return {
        "model": fit.model,
        "n": result.n_obs,
        "n_groups": result.n_groups,
        "log_likelihood": result.loglik,
        "aic": result.aic,
        "pseudo_r2": None,
        "sigma2_u": result.sigma2,
        "sigma2_u_se": result.sigma2_se,
        "sigma2_u_ci_low": ci_low,
        "sigma2_u_ci_high": ci_high,
        "icc": result.icc,
        "converged": result.converged,
        "iterations": result.iterations,
        "gradient_norm": result.gradient_norm,
        "method": result.method,
        "nodes": result.nodes,
        "dropped_terms": ";".join(fit.data.dropped_terms) or None,
        "message": "; ".join(result.messages) or None,
    }


def random_effects_table(fit: MultilevelFit) -> pd.DataFrame:
    table = fit.result.random_effects_table()
    parts = table["unit"].str.rsplit(UNIT_SEPARATOR, n=1, expand=True)
    table.insert(0, "model", fit.model)
    table.insert(1, "unit_type", fit.data.spec.unit_type)
    table.insert(3, "unit_id", parts[0])
    table.insert(4, "cohort_year", parts[1].astype(int))
    return table


def random_intercept_lr_test(fit: MultilevelFit) -> dict:
    """σ²ᵤ = 0 against σ²ᵤ > 0: the null is on the boundary, so the reference distribution is the
    50:50 mixture of χ²₀ and χ²₁ (Self & Liang 1987)."""
    statistic = max(0.0, 2.0 * (fit.result.loglik - fit.logit_loglik))
    return {
        "model": fit.model,
        "comparison": "random_intercept",
        "block": fit.data.spec.unit_type,
        "df": 1,
        "lr_statistic": statistic,
        "p_value": 0.5 * float(stats.chi2.sf(statistic, 1)),
        "loglik_restricted": fit.logit_loglik,
        "loglik_full": fit.result.loglik,
    }


def multilevel_vif(fit: MultilevelFit) -> pd.DataFrame:
    return vif_table(
        fit.model, fit.data.design, {"spor": [c for c in fit.data.design.columns if c.startswith("spor_")]}
    )
