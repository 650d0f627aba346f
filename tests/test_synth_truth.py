"""The ground truth: its pieces on known inputs, and truth.json reproducing every drawn probability.

The last tests rebuild each complete case's linear predictor from truth.json, the person's
harmonised values and the context as published in the landing zone, and get back the exact
probability the outcome was drawn with; so truth.json holds everything a recovery test needs.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from test_synth_calibration import read_delimited

from iwh_synth import calendar, generate
from iwh_synth.draws import NO_LEVEL, exclusion_reasons, tier_of
from iwh_synth.geography import Geography
from iwh_synth.identifiers import FnrAllocator, allocate_duf, duf_is_valid, fnr_is_valid
from iwh_synth.truth import M1_COEFFICIENTS, REGIONS, TILTAK_GROUPS, build_truth_model, variance_for_icc

YEARS = [2017, 2018, 2019, 2020]


def test_norsk_tier_rounds_to_nearest_and_breaks_ties_toward_the_written_test():
    score = np.array([2.5, 2.5, 2.5, 2.75, 2.25, 5 / 3, 4.0, np.nan, 0.5])
    skriftlig = np.array([3, 2, NO_LEVEL, 2, 3, 1, 4, NO_LEVEL, 1])
    assert tier_of(score, skriftlig).tolist() == [3, 2, 2, 3, 2, 2, 4, NO_LEVEL, 1]


def test_whole_months_count_a_month_once_its_day_is_reached():
    start = calendar.day_number(np.array([2017, 2017, 2019, 2018]), np.array([1, 1, 5, 11]), np.array([15, 16, 28, 3]))
    end = calendar.day_number(np.array([2017, 2017, 2021, 2018]), np.array([3, 3, 5, 11]), np.array([15, 15, 27, 20]))
    assert calendar.whole_months(start, end).tolist() == [2, 1, 23, 0]
    year, month, day = calendar.split(end)
    assert (year.tolist(), month.tolist(), day.tolist()) == ([2017, 2017, 2021, 2018], [3, 3, 5, 11], [15, 15, 27, 20])


def test_exclusion_reasons_follow_the_priority_order():
    missing = {
        reason: np.zeros(3, dtype=bool)
        for reason in (
            "outside_js_scope",
            "outcome_excluded",
            "missing_outcome",
            "missing_spor",
            "missing_norsk_score",
            "missing_fravaer_hoy",
            "missing_region",
            "missing_botid",
            "missing_alder",
            "missing_varighet_mnd",
            "missing_kjonn",
        )
    }
    missing["missing_kjonn"][0] = missing["missing_spor"][0] = True
    missing["outcome_excluded"][1] = missing["missing_norsk_score"][1] = missing["outside_js_scope"][1] = True
    first, every = exclusion_reasons(missing, 3)
    assert first.tolist() == ["missing_spor", "outside_js_scope", None]
    assert every.tolist() == [
        "missing_spor;missing_kjonn",
        "outside_js_scope;outcome_excluded;missing_norsk_score",
        None,
    ]


def test_fodselsnummer_carry_birth_date_and_sex_and_never_repeat():
    allocator = FnrAllocator(np.random.default_rng(0), 1950, 2003)
    birth_day = calendar.day_number(np.full(3000, 1985), np.full(3000, 1), np.full(3000, 1))
    birth_day[:1000] = calendar.day_number(np.array([2001]), np.array([6]), np.array([30]))[0]
    is_man = np.arange(3000) % 2 == 0
    fnr, used_day = allocator.allocate(birth_day, is_man)
    assert len(set(fnr)) == 3000 and all(fnr_is_valid(value) for value in fnr)
    year, month, day = calendar.split(used_day)
    assert [value[:6] for value in fnr] == [f"{d:02d}{m:02d}{y % 100:02d}" for d, m, y in zip(day, month, year)]
    assert set(year[:1000]) == {2001} and set(year[1000:]) == {1985}
    assert all(int(value[8]) % 2 == man for value, man in zip(fnr, is_man))
    # Individual numbers follow the century: 500-999 for 2000s births, below 500 or 900+ for 1985.
    assert all(500 <= int(value[6:9]) for value in fnr[:1000])
    assert all(int(value[6:9]) < 500 or int(value[6:9]) >= 900 for value in fnr[1000:])
    duf = allocate_duf(np.random.default_rng(0), np.array([2012, 2012, 2015]))
    assert all(duf_is_valid(value) for value in duf) and [value[:4] for value in duf] == ["2012", "2012", "2015"]
    assert not fnr_is_valid(fnr[0][:10] + str((int(fnr[0][10]) + 1) % 10))


def test_municipal_reforms_map_each_year_to_its_own_structure():
    geography = Geography()
    skedsmo = next(m for m in geography.base if m.code_2017 == "0231")
    assert [(skedsmo.code(year), skedsmo.name(year)) for year in YEARS] == [("0231", "Skedsmo")] * 3 + [
        ("3030", "Lillestrøm")
    ]
    units_2020 = geography.units[2020]
    lillestrom = int(np.flatnonzero(units_2020.codes == "3030")[0])
    members = {geography.base[i].name_2017 for i in units_2020.members[lillestrom]}
    assert members == {"Skedsmo", "Fet", "Sørum"}
    assert geography.base[units_2020.carrier[lillestrom]].name_2017 == "Skedsmo"
    population_2020 = geography.base_population(2020)
    assert units_2020.population[lillestrom] == int(population_2020[units_2020.members[lillestrom]].sum())
    trondheim = [(m.code(year), m.name(year)) for m in geography.base if m.code_2017 == "1662" for year in YEARS]
    assert trondheim == [("1662", "Klæbu"), ("5030", "Klæbu"), ("5030", "Klæbu"), ("5001", "Trondheim")]


def test_truth_models_carry_the_report_coefficients_on_the_raw_scale():
    default, m1, m2, m3 = (build_truth_model(name) for name in ("default", "m1", "m2", "m3"))
    assert {term: m1.coefficients[term] for term in M1_COEFFICIENTS} == M1_COEFFICIENTS
    assert {f"tiltak_{group}" for group in TILTAK_GROUPS} <= set(m1.coefficients)
    assert {f"region[{region}]" for region in REGIONS if region != "Europa"} <= set(m1.coefficients)
    assert "region[Europa]" not in m1.coefficients and m1.municipality_year_variance == 0
    assert default.coefficients["andel_innvandrere"] == pytest.approx(0.18 / 2.6)
    assert math.isclose(
        default.municipality_year_variance / (default.municipality_year_variance + math.pi**2 / 3), 0.09
    )
    assert m2.coefficients["alder"] == pytest.approx(-0.51 / 9.0) and m2.coefficients["spor_3"] == 1.79
    assert m2.municipality_year_variance == pytest.approx(variance_for_icc(0.097))
    assert m3.coefficients["lonn_per_deltaker_1000kr"] == pytest.approx(0.19 / 13.0)
    assert m3.project_year_variance == pytest.approx(variance_for_icc(0.089)) and m3.municipality_year_variance == 0
    with pytest.raises(ValueError):
        build_truth_model("m4")


def published_context(landing) -> tuple[pd.DataFrame, dict, dict]:
    """Context per (kommunenummer, year) from the statbank files, and salary per participant per unit."""
    frames = []
    for table, name in (
        ("09817", "andel_innvandrere"),
        ("09588", "nettoinnflytting"),
        ("07984", "andel_utvalgte_naeringer"),
    ):
        frame = read_delimited(landing / "ssb" / f"{table}.csv")
        frame = frame[~frame.iloc[:, 3].isin([".", "..", "...", ":"])]
        frames.append(
            pd.Series(
                frame.iloc[:, 3].str.replace(",", ".").astype(float).values,
                index=pd.MultiIndex.from_arrays([frame["region"].str[:4], frame["år"].astype(int)]),
                name=name,
            )
        )
    context = pd.concat(frames, axis=1)
    intro_salary, project_salary = {}, {}
    for year in YEARS:
        kostra = read_delimited(landing / "regnskap" / f"kostra_f275_{year}.csv")
        for code, salary, count in zip(
            kostra["kommunenummer"], kostra["lonnsutgifter_1000kr"], kostra["antall_deltakere_intro"]
        ):
            intro_salary[(code, year)] = float(salary) / int(count)
        projects = read_delimited(landing / "regnskap" / f"jobbsjansen_prosjekter_{year}.csv")
        for prosjekt, salary, count in zip(
            projects["prosjekt"], projects["lonnsutgifter_kr"], projects["antall_deltakere"]
        ):
            project_salary[(prosjekt, year)] = int(salary) / int(count) / 1000
    return context, intro_salary, project_salary


def rebuilt_probability(landing) -> tuple[np.ndarray, np.ndarray]:
    truth = json.loads((landing / "truth.json").read_text(encoding="utf-8"))
    persons = pd.read_parquet(landing / "truth_persons.parquet")
    persons = persons[persons["excluded_reason"].isna()].reset_index(drop=True)
    context, intro_salary, project_salary = published_context(landing)
    years = persons["cohort_year"].astype(int)
    covariates = {
        "ordning": persons["ordning"],
        "spor": persons["spor"],
        "spor_2": persons["spor"] == 2,
        "spor_3": persons["spor"] == 3,
        "kjonn_mann": persons["kjonn_mann"],
        "alder": persons["alder"],
        "botid": persons["botid"],
        "norsk_score": persons["norsk_score"],
        "varighet_mnd": persons["varighet_mnd"],
        "fravaer_hoy": persons["fravaer_hoy"],
        **{f"region[{region}]": persons["region"] == region for region in REGIONS},
        **{column: persons[column] for column in persons if column.startswith("tiltak_")},
    }
    unit_context = context.reindex(pd.MultiIndex.from_arrays([persons["kommunenummer"], years]))
    for column in unit_context:
        covariates[column] = unit_context[column].to_numpy()
    covariates["lonn_per_deltaker_1000kr"] = np.where(
        persons["programme"] == "intro",
        [intro_salary.get((code, year), np.nan) for code, year in zip(persons["kommunenummer"], years)],
        [project_salary.get((prosjekt, year), np.nan) for prosjekt, year in zip(persons["prosjekt_id"], years)],
    )
    eta = np.full(len(persons), truth["coefficients"]["Intercept"])
    for term, value in truth["coefficients"].items():
        if term != "Intercept":
            eta += value * np.asarray(covariates[term], dtype=float)
    effects = truth["unit_effects"]
    eta += np.array(
        [effects["kommune_aar"].get(f"{code}-{year}", 0.0) for code, year in zip(persons["kommunenummer"], years)]
    )
    eta += np.array([effects["prosjekt"].get(prosjekt, 0.0) for prosjekt in persons["prosjekt_id"]])
    eta += np.array(
        [
            effects["prosjekt_aar"].get(f"{prosjekt}-{year}", 0.0)
            for prosjekt, year in zip(persons["prosjekt_id"], years)
        ]
    )
    return 1 / (1 + np.exp(-eta)), persons["p_maloppnaelse"].to_numpy()


@pytest.mark.parametrize("model", ["default", "m3"])
def test_truth_json_reproduces_every_drawn_probability(tmp_path, model):
    landing = tmp_path / model
    generate(landing, scale=0.1, seed=9, truth=model)
    truth = json.loads((landing / "truth.json").read_text(encoding="utf-8"))
    assert truth["model"] == model and truth["seed"] == 9 and truth["years"] == YEARS
    rebuilt, drawn = rebuilt_probability(landing)
    assert len(drawn) > 1500 and np.allclose(rebuilt, drawn, rtol=0, atol=1e-9)
    persons = pd.read_parquet(landing / "truth_persons.parquet")
    if model == "default":
        assert set(persons["prosjekt_id"]) <= set(truth["unit_effects"]["prosjekt"])
        kommune_aar = {f"{code}-{year}" for code, year in zip(persons["kommunenummer"], persons["cohort_year"])}
        assert kommune_aar <= set(truth["unit_effects"]["kommune_aar"])
        assert truth["random_effects"]["kommune_aar"]["icc"] == pytest.approx(0.09)
        assert truth["random_effects"]["prosjekt"]["variance"] == pytest.approx(0.16)
    else:
        project_years = {f"{prosjekt}-{year}" for prosjekt, year in zip(persons["prosjekt_id"], persons["cohort_year"])}
        assert project_years <= set(truth["unit_effects"]["prosjekt_aar"])
        assert truth["unit_effects"]["kommune_aar"] == {} and truth["random_effects"]["prosjekt_aar"][
            "icc"
        ] == pytest.approx(0.089)
