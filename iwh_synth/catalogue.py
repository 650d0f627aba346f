"""Code lists of the two sources: countries, measures, end reasons, education codes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

from iwh_synth.truth import REGIONS, TILTAK_GROUPS


@dataclass(frozen=True)
class Countries:
    nir_names: np.ndarray
    jobbsjansen_names: np.ndarray
    region_index: np.ndarray  # index into truth.REGIONS
    intro_weight: np.ndarray
    jobbsjansen_weight: np.ndarray


def load_countries() -> Countries:
    with resources.files("iwh_synth.data").joinpath("land.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return Countries(
        nir_names=np.array([row["landnavn_nir"] for row in rows], dtype=object),
        jobbsjansen_names=np.array([row["landnavn_jobbsjansen"] for row in rows], dtype=object),
        region_index=np.array([REGIONS.index(row["region"]) for row in rows]),
        intro_weight=np.array([float(row["vekt_intro"]) for row in rows]),
        jobbsjansen_weight=np.array([float(row["vekt_jobbsjansen"]) for row in rows]),
    )


# Measures: the model group each source code belongs to ("annet" = outside the model).
JOBBSJANSEN_MEASURES = {
    "norskopplaering": ("v3_1_1", "v3_1_2", "v3_1_6", "v3_1_7", "v3_1_10", "v3_3_9"),
    "samfunnskunnskap": ("v3_5_1",),
    "sprakpraksis": ("v3_1_3", "v3_1_4"),
    "yrkesrettet_kurs": ("v3_2_6", "v3_2_11"),
    "ordinaert_arbeid": ("v3_2_10",),
    "arbeidspraksis_skjermet": ("v3_2_4",),
    "arbeidspraksis_ordinaer": ("v3_2_3",),
    "amo_kurs": ("v3_2_1",),
    "sosialt_nettverk": ("v3_5_4",),
    "helsefremmende": ("v3_4_1", "v3_4_2", "v3_4_3", "v3_4_4", "v3_4_5", "v3_4_6"),
    "barn_familie": ("v3_5_5", "v3_5_6"),
    "kultur_fritid": ("v3_5_8",),
    "realkompetanse": ("v3_3_1",),
    "grunnskolefag": ("v3_3_2",),
    "fag_vgo": ("v3_3_3", "v3_3_4", "v3_3_8"),
    "annet": (
        "v3_1_5",
        "v3_1_11",
        "v3_2_2",
        "v3_2_5",
        "v3_2_7",
        "v3_2_8",
        "v3_3_5",
        "v3_3_6",
        "v3_3_10",
        "v3_5_2",
        "v3_5_3",
        "v3_5_7",
        "v3_5_9",
    ),
}
# Digital courses were added to the questionnaire in 2020.
JOBBSJANSEN_DIGITAL_MEASURES = ("v3_2_11", "v3_3_10")
JOBBSJANSEN_DIGITAL_FROM = 2020

NIR_MEASURES = {
    "norskopplaering": ("Norskopplæring", "Norskopplæring høyere nivå"),
    "samfunnskunnskap": ("Samfunnskunnskap",),
    "sprakpraksis": ("Språkpraksis",),
    "yrkesrettet_kurs": ("Yrkesrettet kurs i regi av andre",),
    "ordinaert_arbeid": ("Ordinært arbeid som del av programmet",),
    "arbeidspraksis_skjermet": (
        "Tiltak i arbeidsmarkedsbedrift i kommunal regi",
        "Tiltak i arbeidsmarkedsbedrift i NAVs regi",
    ),
    "arbeidspraksis_ordinaer": (
        "Hospitering på arbeidsplass i kommunal regi",
        "Hospitering på arbeidsplass i regi av andre",
        "Arbeidspraksis i NAVs regi",
    ),
    "amo_kurs": ("Arbeidsmarkedsopplæring (AMO-kurs)",),
    "sosialt_nettverk": ("Tiltak som fremmer sosialt nettverk",),
    "helsefremmende": ("Helsefremmende tiltak/fysisk fostring",),
    "barn_familie": ("Tiltak knyttet til barn og familie",),
    "kultur_fritid": ("Frivillig virksomhet/ord. kultur- og fritidstilbud",),
    "realkompetanse": (
        "Realkompetansevurdering, herunder yrkesprøving",
        "Godkjenning/vurdering av formal kompetanse",
    ),
    "grunnskolefag": ("Fag i grunnskole for voksne",),
    "fag_vgo": ("Fag i videregående skole",),
    "annet": ("Selvstudium", "Sertifiseringskurs i regi av andre", "Annet"),
}

MEASURE_GROUPS = (*TILTAK_GROUPS, "annet")


def jobbsjansen_measure_columns(year: int) -> list[str]:
    columns = [column for group in MEASURE_GROUPS for column in JOBBSJANSEN_MEASURES[group]]
    if year < JOBBSJANSEN_DIGITAL_FROM:
        columns = [column for column in columns if column not in JOBBSJANSEN_DIGITAL_MEASURES]

    def order(column: str) -> tuple[int, int]:
        _, group, item = column.split("_")
        return int(group), int(item)

    return sorted(columns, key=order)


# NIR end reasons: (label, report_text code, table8_literal code); None = excluded.
NIR_END_REASONS = (
    ("Arbeid", 1, 1),
    ("Ordinær utdanning - videregående skole", 1, 1),
    ("Ordinær utdanning - høyere utdanning", 1, 1),
    ("Arbeidssøker på lønnstilskudd (NAV)", 1, 0),
    ("Arbeidssøker på andre tiltak i regi av NAV", 0, 1),
    ("Arbeidssøker på KVP (NAV)", 0, 0),
    ("Arbeidssøker på tiltak i regi av andre enn NAV", 0, 0),
    ("Adferd i/utenfor programmet", 0, 0),
    ("Annet", 0, 0),
    ("Helsemessige årsaker", 0, 0),
    ("Ikke arbeidssøker", 0, 0),
    ("Ikke arbeidssøker - forsørget", 0, 0),
    ("Ikke arbeidssøker - sosialkontoret/trygd", 0, 0),
    ("Ingen aktivitet", 0, 0),
    ("Mistet rett til intro", 0, 0),
    ("Ordinær opplæring - grunnskole", 0, 0),
    ("På andre trygdeytelser", 0, 0),
    ("På sosial stønad", 0, 0),
    ("Død", None, None),
    ("Flyttet", None, None),
    ("Hjemmeværende med omsorg for barn 0-1 år", None, None),
    ("Hjemmeværende med omsorg for barn 1-3 år", None, None),
    ("Ikke registrert sluttårsak", None, None),
    ("Ukjent", None, None),
)
# Kind of achievement (report table 1) of the reasons that count as achieved in either variant.
NIR_OVERGANG = {
    "Arbeid": "arbeid",
    "Ordinær utdanning - videregående skole": "utdanning",
    "Ordinær utdanning - høyere utdanning": "utdanning",
    "Arbeidssøker på lønnstilskudd (NAV)": "arbeid",
    "Arbeidssøker på andre tiltak i regi av NAV": "arbeid",
}
# How often each reason is given, within achieved / not achieved / excluded exits.
NIR_END_REASON_WEIGHTS = np.array(
    [
        45,
        35,
        8,
        12,  # achieved
        22,
        8,
        5,
        1,
        6,
        10,
        5,
        4,
        3,
        6,
        2,
        20,
        4,
        4,  # not achieved
        5,
        33,
        25,
        17,
        12,
        8,
    ],  # excluded
    dtype=float,
)

# Jobbsjansen v4_1 codes and their outcome: 1 achieved, 0 not, None excluded (9 utfaset).
JOBBSJANSEN_ACHIEVED_CODES = np.array([1, 2, 3])
JOBBSJANSEN_OVERGANG = {1: "arbeid", 2: "utdanning", 3: "utdanning"}
JOBBSJANSEN_ACHIEVED_WEIGHTS = np.array([80.0, 14.0, 6.0])
JOBBSJANSEN_NOT_ACHIEVED_CODES = np.array([4, 5, 6, 7, 8])
JOBBSJANSEN_NOT_ACHIEVED_WEIGHTS = np.array([15.0, 30.0, 20.0, 20.0, 15.0])
JOBBSJANSEN_UTFASET = 9
JOBBSJANSEN_WORK_TYPE_WEIGHTS = np.array([14.0, 10.0, 22.0, 12.0, 18.0, 9.0, 15.0])

# v2_9 education codes implying each spor (harmonisation.md), with how common each is.
EDUCATION_CODES_BY_SPOR = {
    1: (np.array([1, 2, 3]), np.array([0.3, 0.2, 0.5])),
    2: (np.array([4, 5, 6, 7]), np.array([0.2, 0.15, 0.35, 0.3])),
    3: (np.array([8, 9, 10]), np.array([0.45, 0.15, 0.4])),
}
EDUCATION_UNSURE = 11

ABSENCE_TEXT = ("Under 10 %", "10-19 %", "20-29 %", "30-49 %", "50 % eller mer", "Vet ikke")
ABSENCE_UNKNOWN = 6
