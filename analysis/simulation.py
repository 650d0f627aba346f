"""Analysis-dataset-shaped frames drawn from a known model, for estimator tests and benchmarks.

This is not the delivery generator (``iwh_synth`` writes landing-zone files); it draws the
columns of ``marts.analysis_dataset`` that the models read, directly, with marginal distributions
roughly like the report's calibration table, so that parameter recovery and timing can be checked
without building the warehouse. Scale 1 is the report's gross sample (≈ 29 800 ended
participations, ≈ 19 000 complete cases, ≈ 800 municipality-years with more than 10 of them).

The outcome follows one of three structural models, with coefficients on the raw scale of the
variables (as the generator's truth.json states them):

- ``m1``: M1's linear predictor with the report's table-17 coefficients, no random effects;
- ``m2``: M2's fixed effects plus a municipality-year random intercept;
- ``m3``: M3's fixed effects plus a project-year random intercept.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from analysis.specification import REGION_TERMS
from iwh.vocabulary import NORSK_TIERS

GROSS_ROWS_AT_SCALE_1 = 29_774
N_MUNICIPALITIES = 260
N_JOBBSJANSEN_MUNICIPALITIES = 20
YEARS = (2017, 2018, 2019, 2020)
ICC_TARGET = 0.09

# Report table 17, log-odds; Nord-Amerika is not in the report's model and gets no effect.
M1_TRUTH: dict[str, float] = {
    "const": -1.45,
    "ordning": 0.46,
    "spor": 0.44,
    "kjonn_mann": 0.68,
    "alder": -0.05,
    "botid": -0.02,
    "norsk_score": 0.84,
    "varighet_mnd": 0.002,
    "fravaer_hoy": -0.11,
    "region_asia_for_ovrig": 0.06,
    "region_afrika_sor_for_sahara": -0.13,
    "region_sorost_asia": 0.59,
    "region_vest_asia": 0.01,
    "region_latin_amerika_og_karibia": 0.37,
    "region_sor_asia": 0.13,
    "region_nord_afrika": -0.39,
    "region_statslos": -0.20,
    "region_nord_amerika": 0.0,
    "tiltak_norskopplaering": -0.38,
    "tiltak_samfunnskunnskap": 0.15,
    "tiltak_sprakpraksis": -0.08,
    "tiltak_yrkesrettet_kurs": 0.09,
    "tiltak_ordinaert_arbeid": 1.18,
    "tiltak_arbeidspraksis_skjermet": -0.19,
    "tiltak_arbeidspraksis_ordinaer": 0.23,
    "tiltak_amo_kurs": -0.07,
    "tiltak_sosialt_nettverk": -0.09,
    "tiltak_helsefremmende": -0.10,
    "tiltak_barn_familie": -0.21,
    "tiltak_kultur_fritid": -0.10,
    "tiltak_realkompetanse": 0.36,
    "tiltak_grunnskolefag": -0.70,
    "tiltak_fag_vgo": 0.41,
}

# Report table 17's M2/M3 values moved to the raw scale with typical SDs (alder ≈ 8.5 years,
# immigrant share ≈ 4 pp, net in-migration ≈ 6 per 1 000, industry share ≈ 5 pp, salary ≈ 12').
M2_TRUTH: dict[str, float] = {
    "const": 0.60,
    "ordning": 0.73,
    "alder": -0.06,
    "kjonn_mann": 0.81,
    "spor_2": 1.13,
    "spor_3": 1.79,
    "fravaer_hoy": -0.28,
    "andel_innvandrere": 0.045,
    "nettoinnflytting": 0.025,
    "andel_utvalgte_naeringer": -0.0006,
}
M3_TRUTH: dict[str, float] = {
    "const": 0.15,
    "ordning": 0.99,
    "alder": -0.062,
    "kjonn_mann": 0.89,
    "spor_2": 1.10,
    "spor_3": 1.77,
    "fravaer_hoy": -0.29,
    "lonn_per_deltaker_1000kr": 0.016,
}

REGION_SHARES = {
    # label: (introduction programme, Jobbsjansen)
    "Vest-Asia": (0.45, 0.11),
    "Afrika sør for Sahara": (0.37, 0.16),
    "Europa": (0.04, 0.10),
    "Sør-Asia": (0.04, 0.26),
    "Sørøst-Asia": (0.008, 0.17),
    "Nord-Afrika": (0.03, 0.05),
    "Asia for øvrig": (0.02, 0.06),
    "Latin-Amerika og Karibia": (0.007, 0.04),
    "Statsløs": (0.03, 0.04),
    "Nord-Amerika": (0.005, 0.01),
}
# (introduction programme, Jobbsjansen) probability of each measure; school subjects are drawn jointly.
TILTAK_RATES = {
    "tiltak_norskopplaering": (0.964, 0.60),
    "tiltak_samfunnskunnskap": (0.70, 0.30),
    "tiltak_sprakpraksis": (0.40, 0.35),
    "tiltak_yrkesrettet_kurs": (0.15, 0.20),
    "tiltak_ordinaert_arbeid": (0.12, 0.10),
    "tiltak_arbeidspraksis_skjermet": (0.05, 0.03),
    "tiltak_arbeidspraksis_ordinaer": (0.37, 0.72),
    "tiltak_amo_kurs": (0.08, 0.06),
    "tiltak_sosialt_nettverk": (0.30, 0.25),
    "tiltak_helsefremmende": (0.30, 0.25),
    "tiltak_barn_familie": (0.20, 0.15),
    "tiltak_kultur_fritid": (0.10, 0.10),
    "tiltak_realkompetanse": (0.05, 0.08),
}
SCHOOL_SUBJECT_RATE = (0.30, 0.20)


def sigma_u_for_icc(icc: float) -> float:
    return math.sqrt(icc / (1 - icc) * math.pi**2 / 3)


def simulate_analysis_dataset(scale: float = 1.0, seed: int = 0, truth: str = "m1", icc: float = ICC_TARGET):
    """A frame with the model columns of marts.analysis_dataset, and the truth it was drawn from.

    Returns ``(frame, truth)`` where truth = {"model", "coefficients" (raw scale), "sigma_u"}.
    """
    if truth not in ("m1", "m2", "m3"):
        raise ValueError(f"unknown truth {truth!r}")
    rng = np.random.default_rng(seed)
    n = int(round(GROSS_ROWS_AT_SCALE_1 * scale))

    municipality_weight = rng.lognormal(0.0, 0.5, N_MUNICIPALITIES)
    kommunenummer = np.array([f"{1000 + 7 * j:04d}" for j in range(N_MUNICIPALITIES)])
    js_municipalities = np.argsort(-municipality_weight)[:N_JOBBSJANSEN_MUNICIPALITIES]

    ordning = (rng.random(n) < 0.05).astype(int)
    js = ordning == 1
    municipality = rng.choice(N_MUNICIPALITIES, size=n, p=municipality_weight / municipality_weight.sum())
    municipality[js] = rng.choice(js_municipalities, size=js.sum())
    cohort_year = rng.choice(YEARS, size=n)

    def by_programme(pair):
        return np.where(js, pair[1], pair[0])

    kjonn_mann = (rng.random(n) < by_programme((0.65, 0.01))).astype(int)
    alder = np.clip(np.round(rng.normal(by_programme((33.0, 37.0)), 8.0)), 18, 62)
    botid = np.round(rng.gamma(2.0, by_programme((1.0, 4.5))), 2)
    spor_u = rng.random(n)
    spor = np.where(spor_u < by_programme((0.33, 0.10)), 1, np.where(spor_u < by_programme((0.85, 0.41)), 2, 3))
    norsk_score = np.clip(np.round(4 * rng.normal(by_programme((1.9, 2.7)) + 0.25 * (spor - 2), 0.9)) / 4, 0, 4)
    varighet_mnd = np.clip(np.round(rng.normal(by_programme((27.0, 16.0)), 8.0)), 1, 48).astype(int)
    fravaer_hoy = (rng.random(n) < by_programme((0.70, 0.30))).astype(int)

    region_labels = list(REGION_SHARES)
    intro_p = np.array([REGION_SHARES[r][0] for r in region_labels])
    js_p = np.array([REGION_SHARES[r][1] for r in region_labels])
    region = np.where(
        js,
        rng.choice(region_labels, size=n, p=js_p / js_p.sum()),
        rng.choice(region_labels, size=n, p=intro_p / intro_p.sum()),
    )

    frame = pd.DataFrame(
        {
            "person_key": [f"{i:032x}" for i in rng.permutation(n)],
            "programme": np.where(js, "jobbsjansen", "intro"),
            "cohort_year": cohort_year,
            "ordning": ordning,
            "kommunenummer": kommunenummer[municipality],
            "prosjekt_id": np.where(
                js, "Jobbsjansen " + kommunenummer[municipality], "intro-" + kommunenummer[municipality]
            ),
            "region": region,
            "kjonn_mann": kjonn_mann,
            "alder": alder,
            "botid": botid,
            "varighet_mnd": varighet_mnd,
            "fravaer_hoy": fravaer_hoy,
            "spor": spor,
            "norsk_score": norsk_score,
            "norsk_tier": np.array(NORSK_TIERS)[np.round(norsk_score).astype(int)],
        }
    )
    for column, rates in TILTAK_RATES.items():
        frame[column] = (rng.random(n) < by_programme(rates)).astype(int)
    # 97 % of those with one school-subject measure have both (report, appendix).
    school = rng.random(n) < by_programme(SCHOOL_SUBJECT_RATE)
    which = rng.random(n)
    frame["tiltak_grunnskolefag"] = (school & (which < 0.985)).astype(int)
    frame["tiltak_fag_vgo"] = (school & (which >= 0.015)).astype(int)

    context = _municipality_year_context(rng, kommunenummer, YEARS)
    frame = frame.join(context, on=["kommunenummer", "cohort_year"])
    project_salary = _project_year_salary(rng, frame["prosjekt_id"].unique(), YEARS)
    frame = frame.join(project_salary, on=["prosjekt_id", "cohort_year"])

    sigma_u = 0.0 if truth == "m1" else sigma_u_for_icc(icc)
    coefficients = {"m1": M1_TRUTH, "m2": M2_TRUTH, "m3": M3_TRUTH}[truth]
    linear = np.full(n, coefficients["const"])
    for term, value in coefficients.items():
        if term != "const":
            linear += value * _raw_term(frame, term)
    if truth != "m1":
        unit_id = "kommunenummer" if truth == "m2" else "prosjekt_id"
        codes = pd.MultiIndex.from_arrays([frame[unit_id], frame["cohort_year"]]).factorize()[0]
        linear += sigma_u * rng.standard_normal(codes.max() + 1)[codes]
    frame["maloppnaelse"] = rng.binomial(1, special.expit(linear)).astype(float)
    frame["outcome_variant"] = "report_text"

    _add_missingness(rng, frame)
    _add_followup(rng, frame, linear)
    frame["n_kommune_aar"] = frame.groupby(["kommunenummer", "cohort_year"])["person_key"].transform("size")
    frame["n_prosjekt_aar"] = frame.groupby(["prosjekt_id", "cohort_year"])["person_key"].transform("size")
    return frame, {"model": truth, "coefficients": dict(coefficients), "sigma_u": sigma_u}


def _raw_term(frame: pd.DataFrame, term: str) -> np.ndarray:
    region_of_term = {v: k for k, v in REGION_TERMS.items()}
    if term in region_of_term:
        return (frame["region"] == region_of_term[term]).to_numpy(dtype=float)
    if term in ("spor_2", "spor_3"):
        return (frame["spor"] == int(term[-1])).to_numpy(dtype=float)
    return frame[term].to_numpy(dtype=float)


def _municipality_year_context(rng, kommunenummer, years) -> pd.DataFrame:
    n_mun = len(kommunenummer)
    immigrant = np.clip(rng.normal(9.0, 4.0, n_mun), 1.0, None)
    migration = rng.normal(2.0, 5.0, n_mun)
    industry = rng.normal(30.0, 5.0, n_mun)
    rows = []
    for year in years:
        rows.append(
            pd.DataFrame(
                {
                    "kommunenummer": kommunenummer,
                    "cohort_year": year,
                    "andel_innvandrere": np.round(immigrant + rng.normal(0, 0.3, n_mun), 2),
                    "nettoinnflytting": np.round(migration + rng.normal(0, 3.0, n_mun), 2),
                    "andel_utvalgte_naeringer": np.round(industry + rng.normal(0, 1.0, n_mun), 2),
                }
            )
        )
    return pd.concat(rows).set_index(["kommunenummer", "cohort_year"])


def _project_year_salary(rng, project_ids, years) -> pd.DataFrame:
    project_ids = np.sort(project_ids)
    level = rng.normal(40.0, 11.0, len(project_ids))
    rows = [
        pd.DataFrame(
            {
                "prosjekt_id": project_ids,
                "cohort_year": year,
                "lonn_per_deltaker_1000kr": np.round(np.clip(level + rng.normal(0, 4.0, len(project_ids)), 5, None), 1),
            }
        )
        for year in years
    ]
    return pd.concat(rows).set_index(["prosjekt_id", "cohort_year"])


def _add_followup(rng, frame: pd.DataFrame, linear: np.ndarray) -> None:
    """The status one year after exit, delivered for every cohort but the latest: work or education
    from a weaker version of the outcome's own predictor, and the columns marts.analysis_dataset
    gives it (oppfolging_status, complete_case_1aar)."""
    delivered = (frame["cohort_year"] < max(YEARS)).to_numpy()
    outcome = rng.binomial(1, special.expit(0.7 * linear)).astype(float)
    frame["kommunenavn"] = "Kommune " + frame["kommunenummer"]
    frame["arbeid_utdanning_1aar"] = np.where(delivered, outcome, np.nan)
    frame["oppfolging_status"] = np.where(delivered, "koblet", "ikke_levert_ennaa")
    covariates_present = frame[["spor", "norsk_score", "fravaer_hoy"]].notna().all(axis=1).to_numpy()
    frame["complete_case_1aar"] = delivered & covariates_present


def _add_missingness(rng, frame: pd.DataFrame) -> None:
    """Missing values as the report describes: concentrated in the introduction programme."""
    n = len(frame)
    intro = (frame["programme"] == "intro").to_numpy()
    outcome_excluded = rng.random(n) < 0.03
    missing_spor = rng.random(n) < np.where(intro, 0.22, 0.05)
    missing_norsk = rng.random(n) < np.where(intro, 0.18, 0.05)
    missing_fravaer = rng.random(n) < 0.02
    frame.loc[outcome_excluded, "maloppnaelse"] = np.nan
    frame.loc[missing_spor, "spor"] = np.nan
    frame.loc[missing_norsk, ["norsk_score", "norsk_tier"]] = np.nan
    frame.loc[missing_fravaer, "fravaer_hoy"] = np.nan
    reasons = pd.DataFrame(
        {
            "outcome_excluded": outcome_excluded,
            "missing_spor": missing_spor,
            "missing_norsk_score": missing_norsk,
            "missing_fravaer_hoy": missing_fravaer,
        }
    )
    all_reasons = np.full(n, "", dtype=object)
    first_reason = np.full(n, None, dtype=object)
    for reason, flagged in reasons.items():
        flagged = flagged.to_numpy()
        first_reason = np.where(flagged & (first_reason == None), reason, first_reason)  # noqa: E711
        all_reasons = np.where(flagged, np.where(all_reasons == "", reason, all_reasons + ";" + reason), all_reasons)
    frame["excluded_reason"] = first_reason
    frame["excluded_reasons"] = np.where(all_reasons == "", None, all_reasons)
    frame["complete_case"] = first_reason == None  # noqa: E711
