"""Introduction programme exits: latent persons first, then the NIR rows that describe them.

A person's true track, Norwegian level, absence and outcome are drawn first; the NIR
extract is then written consistently with them, hiding some values the way NIR does
(spor is not mandatory, test results are often not registered). The harmonised truth is
computed from the same arrays that are formatted into the files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iwh_synth import calendar
from iwh_synth.catalogue import NIR_END_REASON_WEIGHTS, NIR_END_REASONS, NIR_MEASURES, NIR_OVERGANG, Countries
from iwh_synth.draws import (
    NO_LEVEL,
    categorical,
    exclusion_reasons,
    expit,
    level_labels,
    mean_score,
    test_levels,
    tier_of,
)
from iwh_synth.environment import YearEnvironment, context_terms
from iwh_synth.followup import ExitLatent
from iwh_synth.identifiers import FnrAllocator
from iwh_synth.truth import REFERENCE_REGION, REGIONS, TILTAK_GROUPS, TruthModel
from iwh_synth.writers import DateFormatter, integers_as_text, tenths_as_text

# Ended introduction participations per cohort year at scale 1 (28 214 over 2017-2020).
INTRO_EXITS = {2017: 6600, 2018: 8000, 2019: 8300, 2020: 5314}

NIR_COLUMNS = [
    "Fodselsnummer",
    "Kjonn",
    "Fodselsaar",
    "StatsborgerskapForste",
    "DatoForForsteVedtakIntro",
    "GjennomforingsfristBeregnetFra",
    "AvsluttetDato",
    "Avsl_Kommunenummer",
    "Avsl_Kommunenavn",
    "Avslutningsaarsak",
    "SporForste",
    "SporSiste",
    "PROVE_NORSK_MUNTLIG_Resultat",
    "PROVE_NORSK_LYTT_Resultat",
    "PROVE_NORSK_LES_Resultat",
    "PROVE_NORSK_SKRIV_Resultat",
    "AntallTimerFravaerIntro",
    "AntallDagerFravaerIntro",
    "AntallTimerDeltattNorsk",
    "AntallTimerDeltattSamf",
    "AntallTimerDeltattNKNV",
]
NIR_TILTAK_COLUMNS = ["Fodselsnummer", "Tiltak", "TiltakStartDato", "TiltakSluttDato"]
TEST_COLUMNS = (
    "PROVE_NORSK_MUNTLIG_Resultat",
    "PROVE_NORSK_LYTT_Resultat",
    "PROVE_NORSK_LES_Resultat",
    "PROVE_NORSK_SKRIV_Resultat",
)
SKRIFTLIG = 3

MAN_SHARE = 0.65
# Spor 1/2/3 by sex; together about 33 % / 52 % / 15 % (report figure 11).
SPOR_PROBABILITIES = {False: np.array([0.40, 0.47, 0.13]), True: np.array([0.29, 0.55, 0.16])}
ABILITY_BY_SPOR = np.array([0.0, 1.40, 2.15, 2.85])
TEST_PRESENT = np.array([0.75, 0.80, 0.80, 0.75])
# Logit shifts of leaving spor/tests unregistered by region (report table 15).
MISSING_BY_REGION = {
    "Afrika sør for Sahara": 0.0,
    "Nord-Afrika": -0.15,
    "Europa": -0.6,
    "Latin-Amerika og Karibia": -1.3,
    "Sør-Asia": 0.35,
    "Sørøst-Asia": -1.2,
    "Vest-Asia": 0.25,
    "Asia for øvrig": -0.1,
    "Nord-Amerika": 0.35,
    "Statsløs": 0.15,
}
MEASURE_PROBABILITY = {
    "norskopplaering": 0.964,
    "samfunnskunnskap": 0.90,
    "sprakpraksis": 0.30,
    "yrkesrettet_kurs": 0.15,
    "ordinaert_arbeid": 0.12,
    "arbeidspraksis_skjermet": 0.05,
    "arbeidspraksis_ordinaer": 0.37,
    "amo_kurs": 0.06,
    "sosialt_nettverk": 0.12,
    "helsefremmende": 0.10,
    "kultur_fritid": 0.05,
    "annet": 0.15,
}
SCHOOL_SUBJECTS_PROBABILITY = 0.14
EXCLUDED_SHARE = 0.06
# Rare gaps in otherwise complete NIR fields.
EMPTY_COUNTRY_SHARE = 0.001
EMPTY_DECISION_DATE_SHARE = 0.003
EMPTY_START_DATE_SHARE = 0.002
EMPTY_HOURS_SHARE = 0.004
ZERO_HOURS_SHARE = 0.004
FIRST_OF_JANUARY_SHARE = 0.03


@dataclass
class IntroChunk:
    deltakere: dict[str, np.ndarray]
    tiltak: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    latent: ExitLatent


def _force_edge_cases(rng: np.random.Generator, n: int) -> dict[str, int]:
    """Rows (at random places) that get a hand-set edge case in the first chunk of a year."""
    names = ("zero_hours", "spor_from_siste", "tie_up", "tie_down", "tie_no_written", "same_day", "day_before")
    positions = rng.choice(n, size=min(n, len(names)), replace=False)
    return dict(zip(names, positions.tolist()))


def draw_intro_chunk(
    rng: np.random.Generator,
    year: int,
    unit_index: np.ndarray,
    environment: YearEnvironment,
    model: TruthModel,
    countries: Countries,
    fnr_allocator: FnrAllocator,
    dates: DateFormatter,
    first_row_number: int,
    with_edge_cases: bool,
) -> IntroChunk:
    n = unit_index.size
    edge = _force_edge_cases(rng, n) if with_edge_cases else {}

    is_man = rng.random(n) < MAN_SHARE
    country = categorical(rng, countries.intro_weight, n)
    region = countries.region_index[country]
    region_missing_shift = np.array([MISSING_BY_REGION[name] for name in REGIONS])[region]
    drawn_age = np.clip(np.rint(18 + rng.gamma(3.2, 4.7, n)), 18, 62).astype(np.int64)
    fnr, birth_day = fnr_allocator.allocate(_birth_days(rng, year - drawn_age), is_man)
    birth_year = calendar.split(birth_day)[0]
    alder = year - birth_year

    # Dates: end within the cohort year; start a drawn number of months earlier on day 1-28,
    # so the whole-month rule never meets an ambiguous month end.
    year_start = calendar.first_day_of_year(year)
    days_in_year = calendar.first_day_of_year(year + 1) - year_start
    end_day = year_start + rng.integers(0, days_in_year, n)
    mixture = rng.random(n)
    target_months = np.where(
        mixture < 0.30, rng.normal(24, 1.5, n), np.where(mixture < 0.45, rng.normal(36, 1.5, n), rng.uniform(4, 34, n))
    )
    target_months = np.clip(np.rint(target_months), 3, 40).astype(np.int64)
    end_y, end_m, end_d = calendar.split(end_day)
    start_day_of_month = rng.integers(1, 29, n)
    if "same_day" in edge or "day_before" in edge:
        for name, shift in (("same_day", 0), ("day_before", 1)):
            if name in edge:
                i = edge[name]
                end_d[i] = 15
                end_day[i] = calendar.day_number(end_y[i : i + 1], end_m[i : i + 1], np.array([15]))[0]
                start_day_of_month[i] = 15 + shift
    start_month_index = end_y * 12 + (end_m - 1) - target_months
    start_day = calendar.day_number(start_month_index // 12, start_month_index % 12 + 1, start_day_of_month)
    decision_day = start_day - rng.integers(10, 90, n)
    varighet = calendar.whole_months(start_day, end_day)
    botid = (end_day - decision_day) / 365.25

    spor_latent = np.empty(n, dtype=np.int64)
    for man in (False, True):
        who = np.flatnonzero(is_man == man)
        spor_latent[who] = categorical(rng, SPOR_PROBABILITIES[man], who.size) + 1

    ability = ABILITY_BY_SPOR[spor_latent] + 0.10 * (botid - 2.2) - 0.30 * (~is_man) + rng.normal(0.0, 0.65, n)
    levels = test_levels(rng, ability, 4, 0.45)
    norsk_missing = rng.random(n) < expit(
        -2.0
        + 0.15 * is_man
        + 0.5 * region_missing_shift
        + environment.test_registration[unit_index]
        - 0.5 * (ability - 2.0)
    )
    present = (rng.random((n, 4)) < TEST_PRESENT) & ~norsk_missing[:, None]
    none_present = ~present.any(axis=1) & ~norsk_missing
    present[np.flatnonzero(none_present), rng.integers(0, 4, int(none_present.sum()))] = True
    for name, tests in (
        ("tie_up", (2, None, None, 3)),
        ("tie_down", (3, None, None, 2)),
        ("tie_no_written", (2, 3, None, None)),
    ):
        if name in edge:
            i = edge[name]
            norsk_missing[i] = False
            present[i] = [level is not None for level in tests]
            levels[i] = [level if level is not None else 0 for level in tests]
    norsk_score = mean_score(levels, present)
    skriftlig = np.where(present[:, SKRIFTLIG], levels[:, SKRIFTLIG], NO_LEVEL)
    norsk_tier = tier_of(norsk_score, skriftlig)
    norsk_latent = np.where(norsk_missing, levels.mean(axis=1), norsk_score)

    spor_missing = rng.random(n) < expit(
        -1.95 + 0.2 * is_man + region_missing_shift + environment.spor_registration[unit_index]
    )
    first_empty = ~spor_missing & (rng.random(n) < 0.10)
    if "spor_from_siste" in edge:
        spor_missing[edge["spor_from_siste"]] = False
        first_empty[edge["spor_from_siste"]] = True
    moved_up = ~spor_missing & ~first_empty & (spor_latent < 3) & (rng.random(n) < 0.10)
    spor_forste = np.where(spor_missing | first_empty, 0, spor_latent)
    spor_siste = np.where(spor_missing, 0, spor_latent + moved_up)
    spor = np.where(spor_missing, 0, spor_latent)

    absence_latent = np.clip(np.exp(rng.normal(np.log(0.15), 0.7, n)), 0.0, 0.9)
    norsk_tenths = np.rint(target_months * rng.uniform(45, 80, n) * 10).astype(np.int64)
    samf_tenths = np.rint(norsk_tenths * 0.1875).astype(np.int64)
    nknv_tenths = np.rint(norsk_tenths * 0.0625).astype(np.int64)
    attended = (norsk_tenths + samf_tenths + nknv_tenths) / 10
    absent_hours_total = absence_latent * attended
    absence_days = np.floor(absent_hours_total * rng.uniform(0.0, 0.5, n) / 7.5).astype(np.int64)
    absence_tenths = np.rint((absent_hours_total - 7.5 * absence_days) * 10).astype(np.int64)
    zero_hours = rng.random(n) < ZERO_HOURS_SHARE
    if "zero_hours" in edge:
        zero_hours[edge["zero_hours"]] = True
    for column in (norsk_tenths, samf_tenths, nknv_tenths, absence_tenths, absence_days):
        column[zero_hours] = 0
    empty_hours = ~zero_hours & (rng.random(n) < EMPTY_HOURS_SHARE)
    fravaer_andel = _absence_share(absence_tenths, absence_days, norsk_tenths, samf_tenths, nknv_tenths)
    # Keep every written share clearly away from the 10 % cut-off: a share of exactly 0.1 is
    # 0.0999... in binary floating point, and implementations may rightly differ there.
    near_cut = np.abs(fravaer_andel - 0.10) < 0.005
    step = np.ceil((norsk_tenths + samf_tenths + nknv_tenths) * 0.01).astype(np.int64)
    downward = near_cut & (fravaer_andel < 0.10) & (absence_tenths >= step)
    absence_tenths[downward] -= step[downward]
    absence_tenths[near_cut & ~downward] += step[near_cut & ~downward]
    fravaer_andel = _absence_share(absence_tenths, absence_days, norsk_tenths, samf_tenths, nknv_tenths)
    fravaer_andel[empty_hours] = np.nan
    fravaer_hoy = np.where(np.isnan(fravaer_andel), -1, (fravaer_andel >= 0.10).astype(np.int64))
    fravaer_latent = np.where(fravaer_hoy >= 0, fravaer_hoy, (absence_latent >= 0.10).astype(np.int64))

    measures = _draw_measures(rng, n, is_man, spor_latent)

    country_empty = rng.random(n) < EMPTY_COUNTRY_SHARE
    decision_empty = rng.random(n) < EMPTY_DECISION_DATE_SHARE
    start_empty = rng.random(n) < EMPTY_START_DATE_SHARE

    covariates = {
        "ordning": np.zeros(n),
        "spor": spor_latent.astype(float),
        "spor_2": (spor_latent == 2).astype(float),
        "spor_3": (spor_latent == 3).astype(float),
        "kjonn_mann": is_man.astype(float),
        "alder": alder.astype(float),
        "botid": botid,
        "norsk_score": norsk_latent,
        "varighet_mnd": varighet.astype(float),
        "fravaer_hoy": fravaer_latent.astype(float),
        **{
            f"region[{name}]": (region == index).astype(float)
            for index, name in enumerate(REGIONS)
            if name != REFERENCE_REGION
        },
        **{f"tiltak_{group}": measures[group].astype(float) for group in TILTAK_GROUPS},
        **context_terms(model, environment, unit_index, environment.intro_salary_per_participant[unit_index]),
    }
    eta = (
        model.linear_predictor(covariates, n)
        + environment.municipality_effect[unit_index]
        + environment.intro_programme_effect[unit_index]
        + environment.intro_programme_year_effect[unit_index]
    )
    probability = expit(eta)
    achieved = rng.random(n) < probability
    excluded = rng.random(n) < EXCLUDED_SHARE
    reason = _end_reasons(rng, achieved, excluded)
    report_text = np.array([r[1] for r in NIR_END_REASONS], dtype=object)[reason]
    table8 = np.array([r[2] for r in NIR_END_REASONS], dtype=object)[reason]
    overgang = np.array([NIR_OVERGANG.get(r[0]) for r in NIR_END_REASONS], dtype=object)[reason]

    iso = year >= 2020
    decimal_comma = year == 2018
    units = environment.units
    deltakere = {
        "Fodselsnummer": fnr.astype(object),
        "Kjonn": np.where(is_man, "M", "K").astype(object),
        "Fodselsaar": integers_as_text(birth_year),
        "StatsborgerskapForste": np.where(country_empty, "", countries.nir_names[country]),
        "DatoForForsteVedtakIntro": dates.format(decision_day, iso, decision_empty),
        "GjennomforingsfristBeregnetFra": dates.format(start_day, iso, start_empty),
        "AvsluttetDato": dates.format(end_day, iso),
        "Avsl_Kommunenummer": units.codes[unit_index].astype(object),
        "Avsl_Kommunenavn": units.names[unit_index].astype(object),
        "Avslutningsaarsak": np.array([r[0] for r in NIR_END_REASONS], dtype=object)[reason],
        "SporForste": integers_as_text(spor_forste, spor_forste == 0),
        "SporSiste": integers_as_text(spor_siste, spor_siste == 0),
        "AntallTimerFravaerIntro": tenths_as_text(absence_tenths, decimal_comma, empty_hours),
        "AntallDagerFravaerIntro": tenths_as_text(absence_days * 10, decimal_comma, empty_hours),
        "AntallTimerDeltattNorsk": tenths_as_text(norsk_tenths, decimal_comma, empty_hours),
        "AntallTimerDeltattSamf": tenths_as_text(samf_tenths, decimal_comma, empty_hours),
        "AntallTimerDeltattNKNV": tenths_as_text(nknv_tenths, decimal_comma, empty_hours),
    }
    for column_index, column in enumerate(TEST_COLUMNS):
        deltakere[column] = level_labels(np.where(present[:, column_index], levels[:, column_index], NO_LEVEL))

    tiltak = _tiltak_rows(rng, fnr, measures, start_day, end_day, dates, iso)

    missing = {
        "outside_js_scope": np.zeros(n, dtype=bool),
        "outcome_excluded": excluded,
        "missing_outcome": np.zeros(n, dtype=bool),
        "missing_spor": spor_missing,
        "missing_norsk_score": np.isnan(norsk_score),
        "missing_fravaer_hoy": fravaer_hoy < 0,
        "missing_region": country_empty,
        "missing_botid": decision_empty,
        "missing_alder": np.zeros(n, dtype=bool),
        "missing_varighet_mnd": start_empty,
        "missing_kjonn": np.zeros(n, dtype=bool),
    }
    first_reason, all_reasons = exclusion_reasons(missing, n)
    region_names = np.array(REGIONS, dtype=object)
    truth = {
        "identifier": fnr,
        "programme": np.full(n, "intro", dtype=object),
        "cohort_year": np.full(n, year),
        "ordning": np.zeros(n, dtype=np.int64),
        "js_scheme": np.full(n, None, dtype=object),
        "kommunenummer": deltakere["Avsl_Kommunenummer"],
        "kommunenavn": deltakere["Avsl_Kommunenavn"],
        "prosjekt_id": np.char.add("intro-", units.codes[unit_index].astype(str)).astype(object),
        "landnavn": np.where(country_empty, None, countries.nir_names[country]),
        "region": np.where(country_empty, None, region_names[region]),
        "kjonn_mann": is_man.astype(np.int64),
        "alder": alder,
        "botid": np.where(decision_empty, np.nan, botid),
        "varighet_mnd": np.where(start_empty, -1, varighet),
        "fravaer_andel": fravaer_andel,
        "fravaer_hoy": fravaer_hoy,
        "spor": spor,
        "norsk_score": norsk_score,
        "norsk_tier": level_labels(norsk_tier),
        **{f"tiltak_{group}": measures[group].astype(np.int64) for group in TILTAK_GROUPS},
        "tiltak_annet": measures["annet"].astype(np.int64),
        "avslutningsaarsak": deltakere["Avslutningsaarsak"],
        "maloppnaelse_report_text": report_text,
        "maloppnaelse_table8_literal": table8,
        "overgang_report_text": np.where(report_text == 1, overgang, None),
        "overgang_table8_literal": np.where(table8 == 1, overgang, None),
        "maloppnaelse_3": np.full(n, None, dtype=object),
        "excluded_reason": first_reason,
        "excluded_reasons": all_reasons,
        "source_row": first_row_number + np.arange(n),
        "latent_spor": spor_latent,
        "latent_norsk_score": norsk_latent,
        "p_maloppnaelse": probability,
    }
    return IntroChunk(
        deltakere=deltakere,
        tiltak=tiltak,
        truth=truth,
        latent=ExitLatent(covariates=covariates, achieved=achieved, probability=probability, unit_index=unit_index),
    )


def _absence_share(absence_tenths, absence_days, norsk_tenths, samf_tenths, nknv_tenths) -> np.ndarray:
    """harmonisation.md's share, computed on the values as written (tenths parsed to floats)."""
    denominator = norsk_tenths / 10 + samf_tenths / 10 + nknv_tenths / 10
    numerator = absence_tenths / 10 + 7.5 * absence_days
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _birth_days(rng: np.random.Generator, birth_year: np.ndarray) -> np.ndarray:
    """Birth dates in the given years; some on 1 January, the convention for an unknown date."""
    first = calendar.day_number(birth_year, np.ones_like(birth_year), np.ones_like(birth_year))
    length = calendar.day_number(birth_year + 1, np.ones_like(birth_year), np.ones_like(birth_year)) - first
    offset = (rng.random(birth_year.size) * length).astype(np.int64)
    offset[rng.random(birth_year.size) < FIRST_OF_JANUARY_SHARE] = 0
    return first + offset


def _draw_measures(rng: np.random.Generator, n: int, is_man: np.ndarray, spor: np.ndarray) -> dict[str, np.ndarray]:
    measures = {group: rng.random(n) < probability for group, probability in MEASURE_PROBABILITY.items()}
    measures["barn_familie"] = rng.random(n) < np.where(is_man, 0.05, 0.20)
    measures["realkompetanse"] = rng.random(n) < np.where(spor == 3, 0.12, 0.03)
    # Adult primary-school and upper-secondary subjects come together (report: 97 % of those
    # with one have both), more often for the younger and those with some schooling.
    school = rng.random(n) < SCHOOL_SUBJECTS_PROBABILITY * np.where(spor == 3, 0.5, 1.15)
    which = rng.random(n)
    measures["grunnskolefag"] = school & (which < 0.99)
    measures["fag_vgo"] = school & ((which < 0.97) | (which >= 0.99))
    return measures


def _end_reasons(rng: np.random.Generator, achieved: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    outcome_of_reason = np.array([-1 if r[1] is None else r[1] for r in NIR_END_REASONS])
    reason = np.empty(achieved.size, dtype=np.int64)
    for outcome, who in ((1, achieved & ~excluded), (0, ~achieved & ~excluded), (-1, excluded)):
        candidates = np.flatnonzero(outcome_of_reason == outcome)
        index = np.flatnonzero(who)
        reason[index] = candidates[categorical(rng, NIR_END_REASON_WEIGHTS[candidates], index.size)]
    return reason


def _tiltak_rows(rng, fnr, measures, start_day, end_day, dates: DateFormatter, iso: bool) -> dict[str, np.ndarray]:
    person_parts, label_parts = [], []
    for group, labels in NIR_MEASURES.items():
        who = np.flatnonzero(measures[group])
        choice = rng.integers(0, len(labels), who.size)
        person_parts.append(who)
        label_parts.append(np.array(labels, dtype=object)[choice])
        if group == "norskopplaering":
            # Some move on to the higher-level course and have both registered.
            both = who[(choice == 0) & (rng.random(who.size) < 0.12)]
            person_parts.append(both)
            label_parts.append(np.full(both.size, labels[1], dtype=object))
    person = np.concatenate(person_parts)
    label = np.concatenate(label_parts)
    order = np.argsort(person, kind="stable")
    person, label = person[order], label[order]
    length = np.maximum(end_day[person] - start_day[person], 1)
    measure_start = start_day[person] + (rng.random(person.size) * 0.4 * length).astype(np.int64)
    measure_end = np.minimum(measure_start + 30 + (rng.random(person.size) * length).astype(np.int64), end_day[person])
    open_ended = rng.random(person.size) < 0.08
    return {
        "Fodselsnummer": fnr[person].astype(object),
        "Tiltak": label,
        "TiltakStartDato": dates.format(measure_start, iso),
        "TiltakSluttDato": dates.format(measure_end, iso, open_ended),
    }
