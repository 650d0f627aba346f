"""Jobbsjansen participations and the yearly individual reports that describe them.

A participation runs from a start month to an exit month in one project. It is reported
in every year it is active: as continuing (v1_7 = 1, or 3 when frozen) until its exit
year, then as a leaver (v1_7 = 2) with parts 3-5 filled in. Projects that close send their
remaining participants out as utfaset (v4_1 = 9) in December of their last year.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

from iwh_synth.catalogue import (
    ABSENCE_TEXT,
    ABSENCE_UNKNOWN,
    EDUCATION_CODES_BY_SPOR,
    EDUCATION_UNSURE,
    JOBBSJANSEN_ACHIEVED_CODES,
    JOBBSJANSEN_ACHIEVED_WEIGHTS,
    JOBBSJANSEN_MEASURES,
    JOBBSJANSEN_NOT_ACHIEVED_CODES,
    JOBBSJANSEN_NOT_ACHIEVED_WEIGHTS,
    JOBBSJANSEN_OVERGANG,
    JOBBSJANSEN_UTFASET,
    JOBBSJANSEN_WORK_TYPE_WEIGHTS,
    MEASURE_GROUPS,
    Countries,
    jobbsjansen_measure_columns,
)
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
from iwh_synth.geography import Geography
from iwh_synth.truth import REFERENCE_REGION, REGIONS, TILTAK_GROUPS, TruthModel
from iwh_synth.writers import integers_as_text

# Leavers per exit year at scale 1 (1 560 over 2017-2020); later years only feed the
# continuing participants of the last reported year.
EXITS_PER_YEAR = {2017: 380, 2018: 390, 2019: 400, 2020: 390}
EXITS_LATER_YEARS = 390
OSLO = "0301"

BASE_COLUMNS = [
    "fnr",
    "duf",
    "v1_1",
    "v1_2",
    "v1_3",
    "v1_4",
    "v1_5",
    "v1_7",
    "v1_8",
    "v2_1",
    "v2_2",
    "v2_3",
    "v2_5",
    "v2_9",
]
EXIT_COLUMNS = ["v4_1", "v4_3", "v5_1", "v5_2", "v5_3", "v5_4_1", "v5_4_2", "v5_4_3", "v5_4_4"]
# A free-text column some projects added in 2020; unknown to the contract, kept as extra.
COMMENT_COLUMN = "kommentar"
COMMENT_FROM = 2020
COMMENTS = (
    "Startet i lønnet arbeid etter praksis",
    "Permisjon deler av året",
    "Flyttet til annen kommune",
    "Ny kontaktperson fra høsten",
)

# Text codes used before the 2019 questionnaire.
TEXT_CODES_UNTIL = 2018
SCHEME_LABELS = {True: ("Del C", "Område 1"), False: ("Del A", "Ordning A")}

WOMAN_SHARE = 0.99
SPOR_PROBABILITIES = np.array([0.11, 0.30, 0.59])
ABILITY_BY_SPOR = np.array([0.0, 1.85, 2.45, 3.00])
# Education is left unsure/empty and the Norwegian level unassessed more often for those
# with the least schooling (about 5 % and 4 % overall).
SPOR_MISSING_BY_SPOR = np.array([0.0, 0.13, 0.06, 0.03])
NORSK_MISSING_LOGIT = -3.4
TEST_TAKEN = np.array([0.55, 0.35, 0.10])  # v5_2: Ja, Nei, Vet ikke
HIGH_ABSENCE_SHARE = 0.30
HIGH_ABSENCE_CATEGORY_WEIGHTS = np.array([45.0, 25.0, 20.0, 10.0])  # v5_1 = 2..5
ABSENCE_UNKNOWN_SHARE = 0.04
MEASURE_PROBABILITY = {
    "norskopplaering": 0.70,
    "samfunnskunnskap": 0.35,
    "sprakpraksis": 0.45,
    "yrkesrettet_kurs": 0.30,
    "ordinaert_arbeid": 0.10,
    "arbeidspraksis_skjermet": 0.05,
    "arbeidspraksis_ordinaer": 0.72,
    "amo_kurs": 0.15,
    "sosialt_nettverk": 0.30,
    "helsefremmende": 0.40,
    "barn_familie": 0.20,
    "kultur_fritid": 0.10,
    "realkompetanse": 0.20,
    "annet": 0.50,
}
SCHOOL_SUBJECTS_PROBABILITY = 0.08
DUF_SHARE = 0.05
FROZEN_SHARE = 0.06
UTFASET_SHARE_OF_LAST_YEAR = 0.6
# Rare gaps in the individual reports.
EMPTY_SHARE = {"v2_1": 0.002, "v2_2": 0.002, "v2_3": 0.003, "v2_5": 0.002, "v1_8": 0.001, "v4_1": 0.003}


@dataclass(frozen=True)
class Project:
    base_index: int
    district: str
    first_year: int
    last_year: int
    weight: float
    omrade_share: float

    def municipality_name(self, geography: Geography, year: int) -> str:
        return geography.base[self.base_index].name(year)

    def kommunenummer(self, geography: Geography, year: int) -> str:
        return geography.base[self.base_index].code(year)

    def prosjekt_id(self, geography: Geography, year: int) -> str:
        if self.district:
            return f"{self.municipality_name(geography, year)} - {self.district}"
        return self.municipality_name(geography, year)

    def active(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year


def load_projects(geography: Geography) -> list[Project]:
    index_by_code = {municipality.code_2017: index for index, municipality in enumerate(geography.base)}
    with (
        resources.files("iwh_synth.data")
        .joinpath("jobbsjansen_prosjekter.csv")
        .open(encoding="utf-8", newline="") as handle
    ):
        rows = list(csv.DictReader(handle, delimiter=";"))
    return [
        Project(
            base_index=index_by_code[row["kommunenummer_2017"]],
            district=row["bydel"],
            first_year=int(row["forste_aar"]),
            last_year=int(row["siste_aar"]),
            weight=float(row["vekt"]),
            omrade_share=float(row["andel_omrade_1"]),
        )
        for row in rows
    ]


@dataclass
class Participations:
    """One entry per participation; months are counted as year * 12 + month - 1."""

    project: np.ndarray
    start: np.ndarray
    exit: np.ndarray
    utfaset: np.ndarray
    is_man: np.ndarray
    country: np.ndarray
    alder_at_exit: np.ndarray
    botid_at_exit: np.ndarray
    spor: np.ndarray
    education: np.ndarray  # v2_9, 0 = empty
    ability: np.ndarray
    omrade: np.ndarray
    uses_duf: np.ndarray

    @property
    def size(self) -> int:
        return self.project.size

    @property
    def exit_year(self) -> np.ndarray:
        return self.exit // 12

    @property
    def start_year(self) -> np.ndarray:
        return self.start // 12


def draw_participations(
    rng: np.random.Generator, projects: list[Project], years: list[int], scale: float, countries: Countries
) -> Participations:
    first_year, last_year = min(years), max(years)
    project_parts, exit_parts, utfaset_parts = [], [], []
    # Exits up to two years after the last report still show up in it as continuing.
    for exit_year in range(first_year, last_year + 3):
        active = [i for i, p in enumerate(projects) if p.active(min(exit_year, 2020))]
        if not active:
            continue
        total = round(EXITS_PER_YEAR.get(exit_year, EXITS_LATER_YEARS) * scale)
        weights = np.array([projects[i].weight for i in active])
        counts = rng.multinomial(total, weights / weights.sum())
        who = np.repeat(np.array(active), counts)
        project_parts.append(who)
        exit_parts.append(exit_year * 12 + rng.integers(0, 12, who.size))
        utfaset_parts.append(np.zeros(who.size, dtype=bool))
    for index, project in enumerate(projects):
        if project.last_year < 2020 and first_year <= project.last_year <= last_year:
            expected = (
                EXITS_PER_YEAR[project.last_year]
                * scale
                * project.weight
                / sum(p.weight for p in projects if p.active(project.last_year))
            )
            count = int(rng.poisson(UTFASET_SHARE_OF_LAST_YEAR * expected)) + 1
            project_parts.append(np.full(count, index))
            exit_parts.append(np.full(count, project.last_year * 12 + 11))
            utfaset_parts.append(np.ones(count, dtype=bool))
    project = np.concatenate(project_parts)
    exit_month = np.concatenate(exit_parts)
    utfaset = np.concatenate(utfaset_parts)
    n = project.size

    duration = np.clip(np.rint(1 + rng.gamma(2.0, 5.3, n)), 1, 48).astype(np.int64)
    start = exit_month - duration
    # Projects already running when the period starts took participants from earlier years.
    project_start = np.array(
        [(p.first_year if p.first_year > first_year else first_year - 3) * 12 for p in (projects[i] for i in project)]
    )
    late = start < project_start
    # A participation cannot begin before its project did.
    start[late] = project_start[late] + (rng.random(int(late.sum())) * (exit_month[late] - project_start[late])).astype(
        np.int64
    )

    spor = categorical(rng, SPOR_PROBABILITIES, n) + 1
    education = np.zeros(n, dtype=np.int64)
    for level, (codes, weights) in EDUCATION_CODES_BY_SPOR.items():
        who = np.flatnonzero(spor == level)
        education[who] = codes[categorical(rng, weights, who.size)]
    spor_hidden = rng.random(n) < SPOR_MISSING_BY_SPOR[spor]
    education[spor_hidden] = np.where(rng.random(int(spor_hidden.sum())) < 0.7, EDUCATION_UNSURE, 0)

    alder = np.clip(np.rint(22 + rng.gamma(4.0, 3.75, n)), 20, 64).astype(np.int64)
    botid = np.minimum(np.clip(np.rint(2 + rng.gamma(2.5, 2.8, n)), 1, 35), alder - 1).astype(np.int64)
    omrade_share = np.array([projects[i].omrade_share for i in project])
    return Participations(
        project=project,
        start=start,
        exit=exit_month,
        utfaset=utfaset,
        is_man=rng.random(n) >= WOMAN_SHARE,
        country=categorical(rng, countries.jobbsjansen_weight, n),
        alder_at_exit=alder,
        botid_at_exit=botid,
        spor=spor,
        education=education,
        ability=ABILITY_BY_SPOR[spor] + rng.normal(0.0, 0.7, n),
        omrade=rng.random(n) < omrade_share,
        uses_duf=rng.random(n) < DUF_SHARE,
    )


def rows_of_year(participations: Participations, year: int) -> np.ndarray:
    """Participations reported in the year's file, grouped by project as projects report."""
    active = np.flatnonzero((participations.start_year <= year) & (participations.exit_year >= year))
    order = np.lexsort((participations.start[active], participations.project[active]))
    return active[order]


@dataclass
class LeaverDraw:
    """Parts 3-5 of the leavers' reports and their harmonised truth, aligned with `rows`."""

    columns: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    latent: ExitLatent  # of the leavers, as `truth`


def draw_year_report(
    rng: np.random.Generator,
    year: int,
    rows: np.ndarray,
    participations: Participations,
    projects: list[Project],
    geography: Geography,
    environment: YearEnvironment,
    model: TruthModel,
    countries: Countries,
    identifiers: np.ndarray,
    with_edge_cases: bool,
) -> LeaverDraw:
    """The year's report rows (all active participants) and the truth of its leavers."""
    p = participations
    n = rows.size
    leaver = p.exit_year[rows] == year
    text_codes = year <= TEXT_CODES_UNTIL
    project = p.project[rows]
    kommunenummer = np.array([projects[i].kommunenummer(geography, year) for i in project], dtype=object)
    prosjekt_id = np.array([projects[i].prosjekt_id(geography, year) for i in project], dtype=object)
    position = {code: index for index, code in enumerate(environment.units.codes)}
    unit_index = np.array([position[code] for code in kommunenummer], dtype=np.int64)

    exit_year = p.exit_year[rows]
    birth_year = exit_year - p.alder_at_exit[rows]
    arrival_year = exit_year - p.botid_at_exit[rows]
    is_man = p.is_man[rows]
    country = p.country[rows]
    region = countries.region_index[country]

    empty = {column: leaver & (rng.random(n) < share) for column, share in EMPTY_SHARE.items()}
    empty["v4_1"] &= ~p.utfaset[rows]

    # Part 5: absence and Norwegian level.
    absence_unknown = rng.random(n) < ABSENCE_UNKNOWN_SHARE
    high_absence = rng.random(n) < HIGH_ABSENCE_SHARE
    absence = np.where(high_absence, 2 + categorical(rng, HIGH_ABSENCE_CATEGORY_WEIGHTS, n), 1)
    absence = np.where(absence_unknown, ABSENCE_UNKNOWN, absence)

    ability = p.ability[rows]
    norsk_hidden = rng.random(n) < expit(NORSK_MISSING_LOGIT - 0.8 * (ability - 2.6))
    test_taken = np.where(norsk_hidden, 2 + (rng.random(n) < 0.4), categorical(rng, TEST_TAKEN, n) + 1)
    levels = test_levels(rng, ability, 4, 0.45)
    present = (test_taken == 1)[:, None] & (rng.random((n, 4)) < 0.85)
    unsure = present & (rng.random((n, 4)) < 0.06)
    rating = np.clip(np.rint(ability + rng.normal(0.0, 0.35, n)), 0, 6).astype(np.int64)
    rating_hidden = np.where(rng.random(n) < 0.6, 7, -1)  # 7 = ikke vurdert, -1 = left empty
    edge = _edge_case_rows(rng, leaver) if with_edge_cases else {}
    if "unsure" in edge:
        i = edge["unsure"]
        test_taken[i], norsk_hidden[i] = 1, False
        present[i] = True
        unsure[i] = [False, True, False, False]
    for name, value in (("rating_c1", 5), ("rating_c2", 6)):
        if name in edge:
            i = edge[name]
            test_taken[i], norsk_hidden[i], rating[i] = 2, False, value
            present[i] = False
    if "rating_not_assessed" in edge:
        i = edge["rating_not_assessed"]
        test_taken[i], norsk_hidden[i], rating_hidden[i] = 2, True, 7
        present[i] = False
    if "absence_unknown" in edge:
        absence[edge["absence_unknown"]] = ABSENCE_UNKNOWN
    valid_test = present & ~unsure
    test_score = mean_score(levels, valid_test)
    has_test = ~np.isnan(test_score)
    written_rating = np.where(has_test, -1, np.where(norsk_hidden, rating_hidden, rating))
    rating_score = np.where((written_rating >= 0) & (written_rating <= 6), np.minimum(written_rating, 4), np.nan)
    norsk_score = np.where(has_test, test_score, rating_score)
    skriftlig = np.where(valid_test[:, 3], levels[:, 3], NO_LEVEL)
    norsk_tier = tier_of(norsk_score, skriftlig)
    norsk_latent = np.where(np.isnan(norsk_score), levels.mean(axis=1), norsk_score)

    education = p.education[rows].copy()
    if "education_unsure" in edge:
        education[edge["education_unsure"]] = EDUCATION_UNSURE
    spor_written = np.select(
        [np.isin(education, [1, 2, 3]), np.isin(education, [4, 5, 6, 7]), np.isin(education, [8, 9, 10])], [1, 2, 3], 0
    )
    spor_latent = p.spor[rows]

    measures = _draw_measures(rng, n, spor_latent)
    measure_columns = jobbsjansen_measure_columns(year)
    written_measures = _measure_cells(rng, measures, measure_columns)

    varighet = (year - p.start_year[rows]) * 12 + (p.exit[rows] % 12 + 1) - (p.start[rows] % 12 + 1)
    fravaer_hoy = np.where(absence == ABSENCE_UNKNOWN, -1, (absence >= 2).astype(np.int64))
    fravaer_latent = np.where(fravaer_hoy >= 0, fravaer_hoy, high_absence.astype(np.int64))
    alder = year - birth_year
    botid = (year - arrival_year).astype(float)

    salary = np.array([environment.project_salary_per_participant[pid] for pid in prosjekt_id])
    covariates = {
        "ordning": np.ones(n),
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
        **context_terms(model, environment, unit_index, salary),
    }
    eta = (
        model.linear_predictor(covariates, n)
        + environment.municipality_effect[unit_index]
        + np.array([environment.project_effect.get(pid, 0.0) for pid in prosjekt_id])
        + np.array([environment.project_year_effect.get(pid, 0.0) for pid in prosjekt_id])
    )
    probability = expit(eta)
    achieved = rng.random(n) < probability
    outcome_code = np.where(
        achieved,
        JOBBSJANSEN_ACHIEVED_CODES[categorical(rng, JOBBSJANSEN_ACHIEVED_WEIGHTS, n)],
        JOBBSJANSEN_NOT_ACHIEVED_CODES[categorical(rng, JOBBSJANSEN_NOT_ACHIEVED_WEIGHTS, n)],
    )
    outcome_code = np.where(p.utfaset[rows], JOBBSJANSEN_UTFASET, outcome_code)
    work_type = 1 + categorical(rng, JOBBSJANSEN_WORK_TYPE_WEIGHTS, n)

    status = np.where(leaver, 2, np.where(rng.random(n) < FROZEN_SHARE, 3, 1))
    scheme = p.omrade[rows]
    columns = {
        "fnr": np.where(p.uses_duf[rows], "", identifiers[rows]).astype(object),
        "duf": np.where(p.uses_duf[rows], identifiers[rows], "").astype(object),
        "v1_1": np.array([projects[i].municipality_name(geography, year) for i in project], dtype=object),
        "v1_2": np.array([projects[i].district for i in project], dtype=object),
        "v1_3": np.array([SCHEME_LABELS[bool(s)][0 if text_codes else 1] for s in scheme], dtype=object),
        "v1_4": integers_as_text(p.start_year[rows]),
        "v1_5": integers_as_text(p.start[rows] % 12 + 1),
        "v1_7": integers_as_text(status),
        "v1_8": integers_as_text(p.exit[rows] % 12 + 1, ~leaver | empty["v1_8"]),
        "v2_1": _sex_text(is_man, text_codes, empty["v2_1"]),
        "v2_2": integers_as_text(birth_year, empty["v2_2"]),
        "v2_3": integers_as_text(arrival_year, empty["v2_3"]),
        "v2_5": np.where(empty["v2_5"], "", countries.jobbsjansen_names[country]).astype(object),
        "v2_9": integers_as_text(education, education == 0),
        "v4_1": integers_as_text(outcome_code, ~leaver | empty["v4_1"]),
        "v4_3": integers_as_text(work_type, ~leaver | (outcome_code != 1) | empty["v4_1"]),
        "v5_1": _absence_text(absence, text_codes, ~leaver),
        "v5_2": integers_as_text(test_taken, ~leaver),
        "v5_3": integers_as_text(written_rating, ~leaver | (written_rating < 0)),
    }
    for column_index in range(4):
        labels = level_labels(np.where(valid_test[:, column_index], levels[:, column_index], NO_LEVEL))
        labels[unsure[:, column_index]] = "Usikker"
        labels[~leaver] = ""
        columns[f"v5_4_{column_index + 1}"] = labels
    for column, cells in written_measures.items():
        cells[~leaver] = ""
        columns[column] = cells
    if year >= COMMENT_FROM:
        commented = leaver & (rng.random(n) < 0.05)
        columns[COMMENT_COLUMN] = np.where(
            commented, np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), n)], ""
        )

    report_text = np.select(
        [np.isin(outcome_code, JOBBSJANSEN_ACHIEVED_CODES), outcome_code == JOBBSJANSEN_UTFASET], [1, -1], 0
    )
    report_text = np.where(empty["v4_1"], -1, report_text)
    maloppnaelse_3 = np.select(
        [np.isin(outcome_code, JOBBSJANSEN_ACHIEVED_CODES), outcome_code == 6, outcome_code == JOBBSJANSEN_UTFASET],
        [1, 3, -1],
        2,
    )
    maloppnaelse_3 = np.where(empty["v4_1"], -1, maloppnaelse_3)
    missing = {
        "outside_js_scope": scheme.astype(bool),
        "outcome_excluded": outcome_code == JOBBSJANSEN_UTFASET,
        "missing_outcome": empty["v4_1"],
        "missing_spor": spor_written == 0,
        "missing_norsk_score": np.isnan(norsk_score),
        "missing_fravaer_hoy": fravaer_hoy < 0,
        "missing_region": empty["v2_5"],
        "missing_botid": empty["v2_3"],
        "missing_alder": empty["v2_2"],
        "missing_varighet_mnd": empty["v1_8"],
        "missing_kjonn": empty["v2_1"],
    }
    first_reason, all_reasons = exclusion_reasons(missing, n)
    overgang = np.array([JOBBSJANSEN_OVERGANG.get(code) for code in outcome_code], dtype=object)
    overgang[empty["v4_1"]] = None
    region_names = np.array(REGIONS, dtype=object)
    any_measure = {group: np.zeros(n, dtype=bool) for group in MEASURE_GROUPS}
    for group in MEASURE_GROUPS:
        for column in JOBBSJANSEN_MEASURES[group]:
            if column in written_measures:
                any_measure[group] |= written_measures[column] == "1"
    truth = {
        "identifier": identifiers[rows],
        "programme": np.full(n, "jobbsjansen", dtype=object),
        "cohort_year": np.full(n, year),
        "ordning": np.ones(n, dtype=np.int64),
        "js_scheme": np.where(scheme, "omrade_1", "ordning_a").astype(object),
        "kommunenummer": kommunenummer,
        "kommunenavn": environment.units.names[unit_index].astype(object),
        "prosjekt_id": prosjekt_id,
        "landnavn": np.where(empty["v2_5"], None, countries.jobbsjansen_names[country]),
        "region": np.where(empty["v2_5"], None, region_names[region]),
        "kjonn_mann": np.where(empty["v2_1"], -1, is_man.astype(np.int64)),
        "alder": np.where(empty["v2_2"], -1, alder),
        "botid": np.where(empty["v2_3"], np.nan, botid),
        "varighet_mnd": np.where(empty["v1_8"], -1, varighet),
        "fravaer_andel": np.full(n, np.nan),
        "fravaer_hoy": fravaer_hoy,
        "spor": spor_written,
        "norsk_score": norsk_score,
        "norsk_tier": level_labels(norsk_tier),
        **{f"tiltak_{group}": any_measure[group].astype(np.int64) for group in TILTAK_GROUPS},
        "tiltak_annet": any_measure["annet"].astype(np.int64),
        "avslutningsaarsak": np.where(empty["v4_1"], None, outcome_code.astype(str).astype(object)),
        "maloppnaelse_report_text": _nullable(report_text),
        "maloppnaelse_table8_literal": _nullable(report_text),
        "overgang_report_text": overgang,
        "overgang_table8_literal": overgang,
        "maloppnaelse_3": _nullable(maloppnaelse_3),
        "excluded_reason": first_reason,
        "excluded_reasons": all_reasons,
        "source_row": np.arange(n) + 2,
        "latent_spor": spor_latent,
        "latent_norsk_score": norsk_latent,
        "p_maloppnaelse": probability,
    }
    truth = {name: values[leaver] for name, values in truth.items()}
    latent = ExitLatent(
        covariates={name: values[leaver] for name, values in covariates.items()},
        achieved=achieved[leaver],
        probability=probability[leaver],
        unit_index=unit_index[leaver],
    )
    return LeaverDraw(columns=columns, truth=truth, latent=latent)


def report_columns(year: int) -> list[str]:
    columns = BASE_COLUMNS + jobbsjansen_measure_columns(year) + EXIT_COLUMNS
    if year >= COMMENT_FROM:
        columns.append(COMMENT_COLUMN)
    return columns


def _edge_case_rows(rng: np.random.Generator, leaver: np.ndarray) -> dict[str, int]:
    """Leavers (at random places) that get a hand-set edge case in the first reported year."""
    names = ("unsure", "rating_c1", "rating_c2", "rating_not_assessed", "absence_unknown", "education_unsure")
    leavers = np.flatnonzero(leaver)
    positions = rng.choice(leavers, size=min(leavers.size, len(names)), replace=False)
    return dict(zip(names, positions.tolist()))


def _draw_measures(rng: np.random.Generator, n: int, spor: np.ndarray) -> dict[str, np.ndarray]:
    measures = {group: rng.random(n) < probability for group, probability in MEASURE_PROBABILITY.items()}
    school = rng.random(n) < SCHOOL_SUBJECTS_PROBABILITY * np.where(spor == 3, 0.5, 1.5)
    which = rng.random(n)
    measures["grunnskolefag"] = school & (which < 0.99)
    measures["fag_vgo"] = school & ((which < 0.97) | (which >= 0.99))
    return measures


def _measure_cells(
    rng: np.random.Generator, measures: dict[str, np.ndarray], columns: list[str]
) -> dict[str, np.ndarray]:
    """Checkbox cells: a received group ticks one or more of its columns; unticked boxes are 0 or empty."""
    n = next(iter(measures.values())).size
    cells = {column: np.where(rng.random(n) < 0.5, "0", "").astype(object) for column in columns}
    for group in MEASURE_GROUPS:
        available = [column for column in JOBBSJANSEN_MEASURES[group] if column in cells]
        who = np.flatnonzero(measures[group])
        main = np.array(available)[rng.integers(0, len(available), who.size)]
        for column in available:
            ticked = who[(main == column) | (rng.random(who.size) < 0.15)]
            cells[column][ticked] = "1"
    return cells


def _sex_text(is_man: np.ndarray, text_codes: bool, missing: np.ndarray) -> np.ndarray:
    labels = np.where(is_man, "Mann", "Kvinne") if text_codes else np.where(is_man, "1", "0")
    labels = labels.astype(object)
    labels[missing] = ""
    return labels


def _absence_text(absence: np.ndarray, text_codes: bool, missing: np.ndarray) -> np.ndarray:
    text = np.array(ABSENCE_TEXT, dtype=object)[absence - 1] if text_codes else absence.astype(str).astype(object)
    text[missing] = ""
    return text


def _nullable(values: np.ndarray) -> np.ndarray:
    return np.where(values < 0, None, values.astype(object))
