"""One entry point: every model of models.md on ``marts.analysis_dataset``, as the analysis.* tables.

``fit_all`` returns plain DataFrames named as the warehouse tables (without the schema); every
row carries the run id and the outcome variant. ``fit_models`` returns the fitted objects, for
callers that need more than the tables (contribution indicators use M1's predictions through
``analysis.m1.predict_m1``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from functools import partial

import pandas as pd

from analysis import m1, multilevel
from analysis.design import ModelNotEstimable
from analysis.specification import COMPLETE_CASE_FLAGS, DEFAULT_NODES, M2, M3, MODEL_NAMES, OUTCOME

TABLE_COLUMNS = {
    "model_coefficients": [
        "model",
        "term",
        "estimate",
        "std_error",
        "z",
        "p_value",
        "odds_ratio",
        "ci_low",
        "ci_high",
        "ci_low_log",
        "ci_high_log",
    ],
    "model_fit": [
        "model",
        "n",
        "n_groups",
        "log_likelihood",
        "aic",
        "pseudo_r2",
        "sigma2_u",
        "sigma2_u_se",
        "sigma2_u_ci_low",
        "sigma2_u_ci_high",
        "icc",
        "converged",
        "iterations",
        "gradient_norm",
        "method",
        "nodes",
        "reference_region",
        "dropped_terms",
        "message",
    ],
    "vif": ["model", "term", "df", "vif", "gvif_adjusted"],
    "lr_tests": ["model", "comparison", "block", "df", "lr_statistic", "p_value", "loglik_restricted", "loglik_full"],
    "archetype_predictions": [
        "model",
        "archetype",
        "description",
        "ordning",
        "predicted_probability",
        "ci_low",
        "ci_high",
        "report_probability",
        "norsk_score_used",
    ],
    "predicted_vs_actual": [
        "model",
        "characteristic",
        "programme",
        "level",
        "level_order",
        "n",
        "predicted",
        "actual",
        "suppressed",
    ],
    "random_effects": [
        "model",
        "unit_type",
        "unit",
        "unit_id",
        "cohort_year",
        "estimate",
        "std_error",
        "posterior_mean",
        "posterior_sd",
        "n",
        "n_achieved",
    ],
    "model_standardisation": ["model", "variable", "mean", "sd"],
}


# Columns that mix integers with "not applicable" (M1 has no groups or nodes) stay integers.
INTEGER_COLUMNS = {
    "model_fit": {"n": "Int64", "n_groups": "Int64", "iterations": "Int64", "nodes": "Int64"},
    "predicted_vs_actual": {"n": "Int64", "level_order": "Int64"},
}


@dataclass
class FittedModels:
    individual: dict[str, m1.M1Fit]  # m1, m1_women
    multilevel: dict[str, multilevel.MultilevelFit]  # m2, m2_women, m3, m3_women
    not_estimable: dict[str, str]  # model → why its sample cannot identify it

    @property
    def m1(self) -> m1.M1Fit | None:
        return self.individual.get("m1")


def select_outcome_variant(analysis_dataset: pd.DataFrame, outcome_variant: str) -> pd.DataFrame:
    """The rows built under ``outcome_variant`` (all rows when the frame has no such column)."""
    if "outcome_variant" not in analysis_dataset.columns:
        return analysis_dataset
    chosen = analysis_dataset["outcome_variant"] == outcome_variant
    if chosen.all():
        return analysis_dataset  # the usual case (the mart is built for one variant): no copy
    selected = analysis_dataset.loc[chosen]
    if selected.empty:
        present = sorted(analysis_dataset["outcome_variant"].dropna().unique())
        raise ValueError(f"no rows with outcome_variant {outcome_variant!r} (present: {present})")
    return selected


def outcome_frame(analysis_dataset: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The dataset as the models read it for ``outcome``: every model takes its outcome from the
    column ``OUTCOME`` and its complete cases from ``complete_case``, so for the second outcome those
    two columns hold that outcome and its own complete-case flag."""
    if outcome not in COMPLETE_CASE_FLAGS:
        raise ValueError(f"unknown outcome {outcome!r}; known: {', '.join(COMPLETE_CASE_FLAGS)}")
    if outcome == OUTCOME:
        return analysis_dataset
    return analysis_dataset.assign(
        **{OUTCOME: analysis_dataset[outcome], "complete_case": analysis_dataset[COMPLETE_CASE_FLAGS[outcome]]}
    )


def fit_models(
    analysis_dataset: pd.DataFrame,
    outcome_variant: str,
    nodes: int = DEFAULT_NODES,
    fitted_one: Callable[[str], None] = lambda name: None,
    outcome: str = OUTCOME,
    pool: Executor | None = None,
) -> FittedModels:
    """Every model of ``outcome``; ``fitted_one`` is called, in the calling thread, with each model's
    name when it is fitted or found not estimable.

    ``pool``: an executor to fit the models side by side (threads: numpy does the work outside
    the interpreter lock, and the models share the dataset instead of copying it). Without one, they
    are fitted one after the other. Either way every model is fitted by the same code on the same
    rows, so the estimates are identical.

    A model whose sample cannot identify it (say, women in too few projects in a small delivery)
    is recorded as not estimable instead of stopping the others.
    """
    frame = outcome_frame(select_outcome_variant(analysis_dataset, outcome_variant), outcome)
    # The largest first, so that with two workers the women-only models fill in beside them.
    fits: dict[str, Callable[[], m1.M1Fit | multilevel.MultilevelFit]] = {
        "m1": partial(m1.fit_m1, frame, "m1"),
        "m2": partial(multilevel.fit_multilevel, frame, M2, nodes=nodes),
        "m3": partial(multilevel.fit_multilevel, frame, M3, nodes=nodes),
        "m1_women": partial(m1.fit_m1, frame, "m1_women", women_only=True),
        "m2_women": partial(multilevel.fit_multilevel, frame, M2, women_only=True, nodes=nodes),
        "m3_women": partial(multilevel.fit_multilevel, frame, M3, women_only=True, nodes=nodes),
    }
    results = _run_all(fits, pool, fitted_one, catch=ModelNotEstimable)
    fitted = FittedModels(individual={}, multilevel={}, not_estimable={})
    for name in MODEL_NAMES:
        result = results[name]
        if isinstance(result, ModelNotEstimable):
            fitted.not_estimable[name] = str(result)
        elif isinstance(result, m1.M1Fit):
            fitted.individual[name] = result
        else:
            fitted.multilevel[name] = result
    return fitted


def _run_all(
    calls: dict[str, Callable[[], object]],
    pool: Executor | None,
    done: Callable[[str], None] = lambda name: None,
    catch: type[Exception] | tuple[type[Exception], ...] = (),
) -> dict[str, object]:
    """Each call's result by name (an exception of type ``catch`` in place of its result), in
    ``pool`` when given; ``done`` is called in this thread as each one finishes."""
    results: dict[str, object] = {}

    def outcome_of(call: Callable[[], object]) -> object:
        try:
            return call()
        except catch as reason:
            return reason

    if pool is None:
        for name, call in calls.items():
            results[name] = outcome_of(call)
            done(name)
        return results
    futures = {pool.submit(outcome_of, call): name for name, call in calls.items()}
    for future in as_completed(futures):
        results[futures[future]] = future.result()
        done(futures[future])
    return results


def tables(
    fitted: FittedModels,
    run_id: str,
    outcome_variant: str,
    archetypes: pd.DataFrame | None = None,
    outcome: str = OUTCOME,
    pool: Executor | None = None,
) -> dict[str, pd.DataFrame]:
    """The analysis.* model tables of ``fitted``; ``pool`` computes each model's tables side by side."""
    individual = list(fitted.individual.values())
    multi = list(fitted.multilevel.values())
    per_model = _run_all(
        {f.model: partial(_individual_tables, f) for f in individual}
        | {f.model: partial(_multilevel_tables, f) for f in multi},
        pool,
    )
    fit_rows = [m1.fit_row(f) for f in individual] + [multilevel.fit_row(f) for f in multi]
    fit_rows += [
        {"model": name, "converged": False, "message": reason} for name, reason in fitted.not_estimable.items()
    ]
    order = {name: i for i, name in enumerate(MODEL_NAMES)}
    fit_rows.sort(key=lambda row: order[row["model"]])
    standardisation = []
    for fit in multi:
        table = fit.data.standardisation.copy()
        table.insert(0, "model", fit.model)
        standardisation.append(table)
    pieces = [per_model[f.model] for f in individual + multi]
    built = {
        "model_coefficients": _concat([piece["coefficients"] for piece in pieces]),
        "model_fit": pd.DataFrame(fit_rows),
        "vif": _concat([piece["vif"] for piece in pieces]),
        "lr_tests": _concat(
            [per_model[f.model]["lr_tests"] for f in individual]
            + [pd.DataFrame([per_model[f.model]["lr_test"] for f in multi])]
        ),
        "archetype_predictions": m1.archetype_predictions(fitted.m1, archetypes) if fitted.m1 else pd.DataFrame(),
        "predicted_vs_actual": m1.predicted_vs_actual(fitted.m1) if fitted.m1 else pd.DataFrame(),
        "random_effects": _concat([per_model[f.model]["random_effects"] for f in multi]),
        "model_standardisation": _concat(standardisation),
    }
    if outcome != OUTCOME and not built["archetype_predictions"].empty:
        # The report's archetype probabilities are of the outcome at exit.
        built["archetype_predictions"]["report_probability"] = float("nan")
    out = {}
    for name, table in built.items():
        table = table.reindex(columns=TABLE_COLUMNS[name]).astype(INTEGER_COLUMNS.get(name, {}))
        table["run_id"] = run_id
        table["outcome_variant"] = outcome_variant
        table["outcome"] = outcome
        out[name] = table
    return out


def _individual_tables(fit: m1.M1Fit) -> dict[str, pd.DataFrame]:
    return {"coefficients": m1.coefficient_table(fit), "vif": m1.m1_vif(fit), "lr_tests": m1.lr_tests(fit)}


def _multilevel_tables(fit: multilevel.MultilevelFit) -> dict[str, object]:
    return {
        "coefficients": multilevel.coefficient_table(fit),
        "vif": multilevel.multilevel_vif(fit),
        "lr_test": multilevel.random_intercept_lr_test(fit),
        "random_effects": multilevel.random_effects_table(fit),
    }


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fit_all(
    analysis_dataset: pd.DataFrame,
    run_id: str,
    outcome_variant: str,
    nodes: int = DEFAULT_NODES,
    archetypes: pd.DataFrame | None = None,
    outcome: str = OUTCOME,
    pool: Executor | None = None,
) -> dict[str, pd.DataFrame]:
    """All analysis.* model tables for one run and one outcome: M1, M2, M3 and their women-only versions.

    ``nodes`` is the number of adaptive Gauss–Hermite nodes for M2/M3 (1 = Laplace, as glmer's
    default; the default here, 10, makes the quadrature error negligible for clusters of more than
    10). ``archetypes`` defaults to ``analysis/archetypes.csv``. ``pool``: see ``fit_models``.
    """
    fitted = fit_models(analysis_dataset, outcome_variant, nodes, outcome=outcome, pool=pool)
    return tables(fitted, run_id, outcome_variant, archetypes, outcome, pool=pool)
