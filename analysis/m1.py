"""M1, the individual logistic model of models.md, with statsmodels.

``maloppnaelse ~ ordning + spor + kjonn_mann + alder + botid + norsk_score + varighet_mnd
+ fravaer_hoy + region (ref. Europa) + 15 tiltak groups`` on complete cases, spor as a number 1–3.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special, stats

from analysis.design import ModelNotEstimable, complete_cases, estimable_columns, vif_table
from analysis.glmm import logistic_loglik
from analysis.specification import (
    CONSTANT,
    M1_COLUMNS,
    M1_INDIVIDUAL_TERMS,
    M1_NUMERIC,
    OUTCOME,
    REFERENCE_REGION,
    REGION_TERMS,
    TILTAK,
)
from iwh.vocabulary import NORSK_TIERS

ARCHETYPES_PATH = Path(__file__).with_name("archetypes.csv")
Z_95 = stats.norm.ppf(0.975)
# A cell describing fewer persons than this is not published (warehouse.md, small-cell suppression).
MIN_PUBLISHED_CELL = 5

# The columns an M1 fit keeps of its sample: the model's, and what predicted_vs_actual and the
# contribution indicators group by (at scale 100 the sample has 1.8 million rows).
SAMPLE_COLUMNS = list(
    dict.fromkeys(
        [
            OUTCOME,
            "complete_case",
            *M1_COLUMNS,
            "programme",
            "cohort_year",
            "norsk_tier",
            "prosjekt_id",
            "kommunenummer",
        ]
    )
)

# What coefficient_table, fit_row and archetype_predictions read of a statsmodels result.
RESULT_STATISTICS = ("llf", "llnull", "prsquared", "aic", "bse", "tvalues", "pvalues")

AGE_BANDS = [(18, 24), (25, 29), (30, 34), (35, 39), (40, 49), (50, 120)]


@dataclass
class M1Fit:
    """A fitted M1: the statsmodels result plus what is needed to rebuild its design on new rows."""

    model: str
    result: sm.discrete.discrete_model.BinaryResultsWrapper
    terms: list[str]
    reference_region: str
    sample: pd.DataFrame  # the complete-case fit sample, with column "predicted"
    dropped_terms: list[str] = field(default_factory=list)

    @property
    def params(self) -> pd.Series:
        return self.result.params

    @property
    def converged(self) -> bool:
        return bool(self.result.mle_retvals["converged"])


def _region_terms_present(region: pd.Series) -> tuple[str, list[str]]:
    """Reference region and the dummies to estimate: only regions that occur in the sample.

    Europa is the reference; should it be absent, the most frequent region takes its place so the
    dummies stay identified (the reference is recorded with the fit).
    """
    counts = region.value_counts()
    unknown = sorted(set(counts.index) - set(REGION_TERMS))
    if unknown:
        raise ValueError(f"regions without a model term: {unknown}")
    reference = REFERENCE_REGION if REFERENCE_REGION in counts.index else counts.sort_index().idxmax()
    present = [label for label in REGION_TERMS if label in counts.index and label != reference]
    return reference, [REGION_TERMS[label] for label in present]


def design_matrix(frame: pd.DataFrame, terms: list[str]) -> pd.DataFrame:
    """M1's design for the given terms; a region dummy is 1 for its region (0 elsewhere)."""
    return pd.DataFrame(design_array(frame, terms), index=frame.index, columns=terms, copy=False)


def design_array(frame: pd.DataFrame, terms: list[str]) -> np.ndarray:
    """``design_matrix`` as one column-major array of its own (at scale 100 M1's is 445 MB)."""
    # Labels are compared once per distinct region, not once per row and term.
    region_codes, region_labels = pd.factorize(frame["region"])
    code_of_term = {REGION_TERMS.get(label): code for code, label in enumerate(region_labels)}
    values = np.empty((len(frame), len(terms)), order="F")
    for j, term in enumerate(terms):
        if term == CONSTANT:
            values[:, j] = 1.0
        elif term.startswith("region_"):
            values[:, j] = region_codes == code_of_term.get(term, -2)
        else:
            values[:, j] = frame[term].to_numpy(dtype=float)
    return values


def _fit_logit(y: np.ndarray, X: pd.DataFrame):
    with warnings.catch_warnings():
        # Separation or a near-singular information shows up as non-convergence, reported in model_fit.
        warnings.simplefilter("ignore")
        # The design has full rank by construction (estimable_columns), so statsmodels' own rank
        # check, a QR decomposition of the whole design, is skipped.
        return sm.Logit(y, X, check_rank=False).fit(method="newton", maxiter=100, tol=1e-10, disp=False)


def fit_m1(frame: pd.DataFrame, model: str = "m1", women_only: bool = False) -> M1Fit:
    """Fit M1 on the complete cases of ``frame`` (women only: kjonn_mann = 0, without that term)."""
    sample = complete_cases(frame[[column for column in SAMPLE_COLUMNS if column in frame.columns]], M1_COLUMNS)
    if women_only:
        sample = sample.loc[sample["kjonn_mann"] == 0]
    if sample.empty:
        raise ModelNotEstimable(f"{model}: no complete cases")
    reference, region_terms = _region_terms_present(sample["region"])
    candidate_terms = [CONSTANT] + M1_NUMERIC + region_terms + TILTAK
    terms, dropped = estimable_columns(design_matrix(sample, candidate_terms))
    X = design_matrix(sample, terms)
    result = _fit_logit(sample[OUTCOME].to_numpy(dtype=float), X)
    sample["predicted"] = result.predict(X)
    # The statistics the tables read are computed now, and statsmodels' copy of the design (445 MB
    # at scale 100) is let go: the sample rebuilds it where it is needed.
    for statistic in RESULT_STATISTICS:
        getattr(result, statistic)
    result.remove_data()
    return M1Fit(
        model=model, result=result, terms=terms, reference_region=reference, sample=sample, dropped_terms=dropped
    )


def predict_m1(fit: M1Fit, frame: pd.DataFrame) -> pd.Series:
    """M1's predicted probability for each row of ``frame`` (NaN where a model variable is missing
    or the row's region had no participants in the fit sample and so has no coefficient)."""
    known_regions = {label for label, term in REGION_TERMS.items() if term in fit.terms} | {fit.reference_region}
    usable = frame[M1_COLUMNS].notna().all(axis=1)
    usable &= frame["region"].isin(known_regions)
    X = design_matrix(frame.loc[usable], fit.terms)
    probability = pd.Series(np.nan, index=frame.index, name="predicted")
    probability.loc[usable] = fit.result.predict(X)
    return probability


def coefficient_table(fit: M1Fit) -> pd.DataFrame:
    result = fit.result
    ci = result.conf_int(alpha=0.05)
    return pd.DataFrame(
        {
            "model": fit.model,
            "term": fit.terms,
            "estimate": result.params.to_numpy(),
            "std_error": result.bse.to_numpy(),
            "z": result.tvalues.to_numpy(),
            "p_value": result.pvalues.to_numpy(),
            "odds_ratio": np.exp(result.params.to_numpy()),
            "ci_low": np.exp(ci[0].to_numpy()),
            "ci_high": np.exp(ci[1].to_numpy()),
            "ci_low_log": ci[0].to_numpy(),
            "ci_high_log": ci[1].to_numpy(),
        }
    )


def fit_row(fit: M1Fit) -> dict:
    result = fit.result
    return {
        "model": fit.model,
        "n": int(result.nobs),
        "n_groups": None,
        "log_likelihood": float(result.llf),
        "aic": float(result.aic),
        "pseudo_r2": float(result.prsquared),  # McFadden
        "converged": fit.converged,
        "iterations": int(result.mle_retvals["iterations"]),
        "method": "logit",
        "nodes": None,
        "reference_region": fit.reference_region,
        "dropped_terms": ";".join(fit.dropped_terms) or None,
    }


def m1_vif(fit: M1Fit) -> pd.DataFrame:
    X = design_matrix(fit.sample, fit.terms)
    region_columns = [t for t in fit.terms if t.startswith("region_")]
    return vif_table(fit.model, X, {"region": region_columns})


def lr_tests(fit: M1Fit) -> pd.DataFrame:
    """Likelihood-ratio tests of M1's blocks on the same sample.

    ``drop_block``: the full model against the full model without the block (individual traits
    with region, the 15 measures, ordning, and the two school-subject measures the report
    discusses for their VIF of ≈ 27).
    ``sequential``: the blocks added one at a time (individual traits, then measures, then
    ordning), each step against the one before; the report's stepwise comparison.
    """
    terms = fit.terms
    blocks = {
        "individual": [t for t in terms if t in M1_INDIVIDUAL_TERMS or t.startswith("region_")],
        "measures": [t for t in terms if t in TILTAK],
        "ordning": [t for t in terms if t == "ordning"],
        "school_subjects": [t for t in terms if t in ("tiltak_grunnskolefag", "tiltak_fag_vgo")],
    }
    y = fit.sample[OUTCOME].to_numpy(dtype=float)
    loglik_cache: dict[tuple[str, ...], float] = {tuple(terms): float(fit.result.llf)}

    def loglik(kept: list[str]) -> float:
        # Only the maximised log-likelihood of each restricted model is needed: plain IRLS gives
        # it without statsmodels' per-model set-up (a rank check and Hessians on the full design).
        # It starts from the full model's coefficients of the kept terms, which are close.
        key = tuple(kept)
        if key not in loglik_cache:
            design = design_array(fit.sample, kept)
            loglik_cache[key] = logistic_loglik(design, y, start=fit.params[kept].to_numpy())
        return loglik_cache[key]

    def row(comparison, block, restricted, full):
        df = len(full) - len(restricted)
        statistic = 2.0 * (loglik(full) - loglik(restricted))
        return {
            "model": fit.model,
            "comparison": comparison,
            "block": block,
            "df": df,
            "lr_statistic": statistic,
            "p_value": float(stats.chi2.sf(statistic, df)),
            "loglik_restricted": loglik(restricted),
            "loglik_full": loglik(full),
        }

    rows = []
    for block, block_terms in blocks.items():
        if block_terms:
            rows.append(row("drop_block", block, [t for t in terms if t not in block_terms], terms))
    included = [CONSTANT]
    for block in ("individual", "measures", "ordning"):
        if blocks[block]:
            extended = [t for t in terms if t in included or t in blocks[block]]
            rows.append(row("sequential", block, included, extended))
            included = extended
    return pd.DataFrame(rows)


def _resolve_archetype_values(archetypes: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """Replace the word ``mean`` in a variable column by that variable's fit-sample mean."""
    resolved = archetypes.copy()
    for column in M1_NUMERIC + TILTAK:
        if column not in resolved.columns:
            raise ValueError(f"archetypes file lacks column {column!r}")
        text = resolved[column].astype(str).str.strip()
        is_mean = text.str.lower() == "mean"
        values = pd.to_numeric(text.where(~is_mean), errors="raise").astype(float)
        resolved[column] = values.mask(is_mean, float(sample[column].mean()))
    return resolved


def archetype_predictions(fit: M1Fit, archetypes: pd.DataFrame | None = None) -> pd.DataFrame:
    """M1's predicted probability for each archetype row, with a delta-method 95 % interval
    (on the logit scale; sample means used for ``mean`` cells are treated as fixed)."""
    if archetypes is None:
        archetypes = pd.read_csv(ARCHETYPES_PATH, dtype=str, keep_default_na=False)
    resolved = _resolve_archetype_values(archetypes, fit.sample)
    missing_terms = [
        label
        for label in resolved["region"]
        if label != fit.reference_region and REGION_TERMS.get(label) not in fit.terms
    ]
    if missing_terms:
        raise ValueError(f"archetype regions not estimable in {fit.model}: {sorted(set(missing_terms))}")
    X = design_matrix(resolved, fit.terms).to_numpy()
    eta = X @ fit.params.to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, fit.result.cov_params().to_numpy(), X))
    return pd.DataFrame(
        {
            "model": fit.model,
            "archetype": resolved["archetype"].to_numpy(),
            "description": resolved["description"].to_numpy(),
            "ordning": resolved["ordning"].astype(int).to_numpy(),
            "predicted_probability": special.expit(eta),
            "ci_low": special.expit(eta - Z_95 * se),
            "ci_high": special.expit(eta + Z_95 * se),
            "report_probability": pd.to_numeric(resolved["report_probability"], errors="coerce").to_numpy(),
            "norsk_score_used": resolved["norsk_score"].to_numpy(dtype=float),
        }
    )


def _quartiles(values: pd.Series) -> pd.Series:
    bins = pd.qcut(values, 4, duplicates="drop")
    labels = [f"Q{i + 1} ({interval.left:g}, {interval.right:g}]" for i, interval in enumerate(bins.cat.categories)]
    return bins.cat.rename_categories(labels)


def _age_bands(alder: pd.Series) -> pd.Series:
    edges = [low for low, _ in AGE_BANDS] + [AGE_BANDS[-1][1] + 1]
    labels = [f"{low}+" if high >= 120 else f"{low}–{high}" for low, high in AGE_BANDS]
    return pd.cut(alder, edges, right=False, labels=labels)


def _ordered(values: pd.Series, order: list) -> pd.Series:
    return pd.Categorical(values, categories=order, ordered=True)


def predicted_vs_actual(fit: M1Fit) -> pd.DataFrame:
    """Mean predicted probability and actual share by programme within subgroups (figures 22–28).

    Quartiles of botid and varighet are taken over the pooled fit sample, so the two programmes
    are compared on the same cut points. Cells with fewer than 5 persons are suppressed.
    """
    sample = fit.sample
    groupings = {
        "spor": _ordered(sample["spor"].astype(int).astype(str), ["1", "2", "3"]),
        "norsk_tier": _ordered(sample["norsk_tier"], list(NORSK_TIERS)),
        "fravaer_hoy": _ordered(sample["fravaer_hoy"].astype(int).astype(str), ["0", "1"]),
        "botid_quartile": _quartiles(sample["botid"]),
        "varighet_quartile": _quartiles(sample["varighet_mnd"]),
        "age_band": _age_bands(sample["alder"]),
    }
    tables = []
    for characteristic, level in groupings.items():
        grouped = (
            pd.DataFrame(
                {
                    "programme": sample["programme"],
                    "level": level,
                    "predicted": sample["predicted"],
                    "actual": sample[OUTCOME],
                }
            )
            .groupby(["programme", "level"], sort=True, observed=True)
            .agg(n=("actual", "size"), predicted=("predicted", "mean"), actual=("actual", "mean"))
            .reset_index()
        )
        grouped["level_order"] = grouped["level"].cat.codes + 1
        grouped["level"] = grouped["level"].astype(str)
        grouped.insert(0, "characteristic", characteristic)
        tables.append(grouped)
    table = pd.concat(tables, ignore_index=True)
    table.insert(0, "model", fit.model)
    table["suppressed"] = table["n"] < MIN_PUBLISHED_CELL
    table.loc[table["suppressed"], ["predicted", "actual"]] = np.nan
    table["n"] = table["n"].astype("Int64").mask(table["suppressed"])
    return table
