"""The landing-zone contract as data: every source, its columns and the checks a row must pass.

The column lists and fixed code lists come from ../shared/spec/landing-zone.md and the
Jobbsjansen questionnaire. Labels that map through a dbt seed (end reasons, countries,
measures) name that seed as their code list: the seed stays the one list an analyst
extends, and ingestion reads its CSV file (docs/architecture.md). A later source plugs in
by declaring its columns the same way: a CODE column with its fixed codes, a LABEL column
with its seed, ``one_row_per_person`` for the duplicate-person rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    TEXT = "text"
    IDENTIFIER = "identifier"  # fnr / DUF digits: validated, pseudonymised, never stored
    INTEGER = "integer"
    DECIMAL = "decimal"  # decimal comma or point; normalised to a point
    DATE = "date"  # dd.mm.yyyy or yyyy-mm-dd; normalised to ISO
    CODE = "code"  # a fixed list from the questionnaire or the register
    LABEL = "label"  # a label whose code list is a dbt seed (Column.code_list)
    MUNICIPALITY_CODE = "municipality_code"  # KLASS 131 code valid in the cohort year
    MUNICIPALITY_NAME = "municipality_name"  # KLASS 131 name valid in the cohort year


@dataclass(frozen=True)
class CodeList:
    """A code list kept as a dbt seed: column ``column`` of dbt_project/seeds/<seed>.csv."""

    seed: str
    column: str


@dataclass(frozen=True)
class Column:
    name: str  # as the contract spells it; files may use any letter case
    kind: Kind = Kind.TEXT
    required: bool = True  # the column must be in the file (its cells may still be empty)
    codes: frozenset[str] = frozenset()  # for CODE: allowed values, lower case; compared case-insensitively
    code_label: str = ""  # how the allowed list is shown in a quarantine detail
    code_list: CodeList | None = None  # for LABEL: the seed holding the known labels
    width: int | None = None  # fixed digit width; numeric .xlsx cells are zero-padded to it
    value_required: bool = False  # an empty cell is a row-level problem

    @property
    def raw_name(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Source:
    name: str  # also the raw table name: raw.<name>
    directory: str  # sub-directory of the landing zone
    file_pattern: re.Pattern[str]  # matched against the file name; group "year" for cohort files
    columns: tuple[Column, ...]
    partitioned: bool = True
    # Columns naming the person; at least one must be present. Jobbsjansen has two (fnr or DUF).
    identifier_columns: tuple[str, ...] = ()
    one_row_per_person: bool = False
    cohort_date_column: str | None = None  # must fall within the cohort year
    multi_file: bool = False  # several files make one unpartitioned table (SSB statbank)

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Contract columns that reach the raw table (identifiers are replaced by person_key)."""
        return tuple(c for c in self.columns if c.kind is not Kind.IDENTIFIER)

    @property
    def code_lists(self) -> tuple[CodeList, ...]:
        return tuple(c.code_list for c in self.columns if c.code_list is not None)

    @property
    def needs_klass(self) -> bool:
        return any(c.kind in (Kind.MUNICIPALITY_CODE, Kind.MUNICIPALITY_NAME) for c in self.columns)


def _numeric_codes(low: int, high: int, *extra: str) -> frozenset[str]:
    return frozenset({*(str(v) for v in range(low, high + 1)), *(e.lower() for e in extra)})


def _code(name: str, low: int, high: int, *text_codes: str, required: bool = True) -> Column:
    label = f"{low}–{high}" + (f" or {', '.join(text_codes)}" if text_codes else "")
    return Column(name, Kind.CODE, required=required, codes=_numeric_codes(low, high, *text_codes), code_label=label)


def _labels(name: str, *labels: str, required: bool = True) -> Column:
    return Column(
        name,
        Kind.CODE,
        required=required,
        codes=frozenset(label.lower() for label in labels),
        code_label=", ".join(labels),
    )


def _seed_label(name: str, seed: str, seed_column: str) -> Column:
    return Column(name, Kind.LABEL, code_list=CodeList(seed, seed_column))


COUNTRIES = ("land_regioner", "landnavn")

CEFR_RESULTS = ("Under A1", "A1", "A2", "B1", "B2")

# Measures received (checkboxes), in questionnaire order. v3_2_11 and v3_3_10 (digital courses)
# exist only from 2020, so no file is required to have them.
MEASURE_COLUMNS = (
    "v3_1_1", "v3_1_2", "v3_1_3", "v3_1_4", "v3_1_5", "v3_1_6", "v3_1_7", "v3_1_10", "v3_1_11",
    "v3_2_1", "v3_2_2", "v3_2_3", "v3_2_4", "v3_2_5", "v3_2_6", "v3_2_7", "v3_2_8", "v3_2_10", "v3_2_11",
    "v3_3_1", "v3_3_2", "v3_3_3", "v3_3_4", "v3_3_5", "v3_3_6", "v3_3_8", "v3_3_9", "v3_3_10",
    "v3_4_1", "v3_4_2", "v3_4_3", "v3_4_4", "v3_4_5", "v3_4_6",
    "v3_5_1", "v3_5_2", "v3_5_3", "v3_5_4", "v3_5_5", "v3_5_6", "v3_5_7", "v3_5_8", "v3_5_9",
)  # fmt: skip
MEASURES_FROM_2020 = frozenset({"v3_2_11", "v3_3_10"})

JOBBSJANSEN = Source(
    name="jobbsjansen_individrapportering",
    directory="jobbsjansen",
    file_pattern=re.compile(r"individrapportering_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    identifier_columns=("fnr", "duf"),
    one_row_per_person=True,
    columns=(
        Column("fnr", Kind.IDENTIFIER, required=False, width=11),
        Column("duf", Kind.IDENTIFIER, required=False, width=12),
        Column("v1_1", Kind.MUNICIPALITY_NAME),
        Column("v1_2"),
        # 2017–2018 files name the schemes Del A / Del C.
        _labels("v1_3", "Ordning A", "Område 1", "Del A", "Del C"),
        Column("v1_4", Kind.INTEGER),
        _code("v1_5", 1, 12),
        _code("v1_7", 1, 3),
        _code("v1_8", 1, 12),
        # 2017–2018 files write the sex as text.
        _code("v2_1", 0, 1, "Kvinne", "Mann"),
        Column("v2_2", Kind.INTEGER),
        Column("v2_3", Kind.INTEGER),
        _seed_label("v2_5", *COUNTRIES),
        _code("v2_9", 1, 11),
        *(_code(m, 0, 1, required=m not in MEASURES_FROM_2020) for m in MEASURE_COLUMNS),
        _code("v4_1", 1, 9),
        _code("v4_3", 1, 7),
        # 2017–2018 files use the text labels of the absence shares.
        _code("v5_1", 1, 6, "Under 10 %", "10-19 %", "20-29 %", "30-49 %", "50 % eller mer", "Vet ikke"),
        _code("v5_2", 1, 3),
        _code("v5_3", 0, 7),
        *(_labels(f"v5_4_{i}", *CEFR_RESULTS, "Usikker") for i in range(1, 5)),
    ),
)

NIR_DELTAKERE = Source(
    name="nir_deltakere",
    directory="nir",
    file_pattern=re.compile(r"nir_deltakere_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    identifier_columns=("Fodselsnummer",),
    one_row_per_person=True,
    cohort_date_column="AvsluttetDato",
    columns=(
        Column("Fodselsnummer", Kind.IDENTIFIER, width=11),
        _labels("Kjonn", "K", "M"),
        Column("Fodselsaar", Kind.INTEGER),
        _seed_label("StatsborgerskapForste", *COUNTRIES),
        Column("DatoForForsteVedtakIntro", Kind.DATE),
        Column("GjennomforingsfristBeregnetFra", Kind.DATE),
        Column("AvsluttetDato", Kind.DATE, value_required=True),
        Column("Avsl_Kommunenummer", Kind.MUNICIPALITY_CODE, width=4),
        Column("Avsl_Kommunenavn"),
        _seed_label("Avslutningsaarsak", "nir_avslutningsaarsaker", "avslutningsaarsak"),
        _code("SporForste", 1, 3),
        _code("SporSiste", 1, 3),
        _labels("PROVE_NORSK_MUNTLIG_Resultat", *CEFR_RESULTS),
        _labels("PROVE_NORSK_LYTT_Resultat", *CEFR_RESULTS),
        _labels("PROVE_NORSK_LES_Resultat", *CEFR_RESULTS),
        _labels("PROVE_NORSK_SKRIV_Resultat", *CEFR_RESULTS),
        Column("AntallTimerFravaerIntro", Kind.DECIMAL),
        Column("AntallDagerFravaerIntro", Kind.DECIMAL),
        Column("AntallTimerDeltattNorsk", Kind.DECIMAL),
        Column("AntallTimerDeltattSamf", Kind.DECIMAL),
        Column("AntallTimerDeltattNKNV", Kind.DECIMAL),
    ),
)

NIR_TILTAK = Source(
    name="nir_tiltak",
    directory="nir",
    file_pattern=re.compile(r"nir_tiltak_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    identifier_columns=("Fodselsnummer",),
    columns=(
        Column("Fodselsnummer", Kind.IDENTIFIER, width=11),
        _seed_label("Tiltak", "nir_tiltak", "tiltak"),
        Column("TiltakStartDato", Kind.DATE),
        Column("TiltakSluttDato", Kind.DATE),
    ),
)

JOBBSJANSEN_PROSJEKTER = Source(
    name="jobbsjansen_prosjekter",
    directory="regnskap",
    file_pattern=re.compile(r"jobbsjansen_prosjekter_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    columns=(
        Column("prosjekt"),
        Column("kommunenummer", Kind.MUNICIPALITY_CODE, width=4),
        Column("lonnsutgifter_kr", Kind.DECIMAL),
        Column("antall_deltakere", Kind.INTEGER),
    ),
)

KOSTRA_F275 = Source(
    name="kostra_f275",
    directory="regnskap",
    file_pattern=re.compile(r"kostra_f275_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    columns=(
        Column("kommunenummer", Kind.MUNICIPALITY_CODE, width=4),
        Column("kommunenavn"),
        Column("lonnsutgifter_1000kr", Kind.DECIMAL),
        Column("antall_deltakere_intro", Kind.INTEGER),
    ),
)

# Status one year after exit (Statistics Norway's register linkage). Only persons with a
# fødselsnummer are looked up, so there is no DUF column.
REGISTER_STATUS = Source(
    name="register_status_ett_aar_etter",
    directory="register",
    file_pattern=re.compile(r"status_ett_aar_etter_(?P<year>\d{4})\.(csv|xlsx)", re.IGNORECASE),
    identifier_columns=("fnr",),
    one_row_per_person=True,
    columns=(
        Column("fnr", Kind.IDENTIFIER, width=11),
        _code("status_november", 1, 8),
        Column("yrkesinntekt_kr", Kind.INTEGER),
        _code("sosialhjelp", 0, 1),
    ),
)

# Statbank exports: the value column is named "<table>: <title>" and differs per file, so the
# reader maps it to `value`; `region` ("0301 Oslo") is split into kommunenummer and region_navn.
SSB_STATBANK = Source(
    name="ssb_statbank",
    directory="ssb",
    file_pattern=re.compile(r"(?P<table>\d{5})\.csv", re.IGNORECASE),
    partitioned=False,
    multi_file=True,
    columns=(
        Column("region"),
        Column("statistikkvariabel"),
        Column("år", Kind.INTEGER),
    ),
)

SSB_SENTRALITET = Source(
    name="ssb_sentralitet",
    directory="ssb",
    file_pattern=re.compile(r"sentralitet\.csv", re.IGNORECASE),
    partitioned=False,
    columns=(
        Column("kommunenummer", width=4),
        Column("år", Kind.INTEGER),
        _code("sentralitet", 1, 6),
    ),
)

KLASS_131 = Source(
    name="klass_131_kommuner",
    directory="ssb",
    file_pattern=re.compile(r"klass_131_kommuner\.csv", re.IGNORECASE),
    partitioned=False,
    columns=(
        Column("code", width=4, value_required=True),
        Column("name", value_required=True),
        Column("validFrom", Kind.DATE, value_required=True),
        Column("validTo", Kind.DATE),
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        JOBBSJANSEN,
        NIR_DELTAKERE,
        NIR_TILTAK,
        JOBBSJANSEN_PROSJEKTER,
        KOSTRA_F275,
        REGISTER_STATUS,
        SSB_STATBANK,
        SSB_SENTRALITET,
        KLASS_131,
    )
}
PARTITIONED_SOURCES = tuple(name for name, s in SOURCES.items() if s.partitioned)
REFERENCE_SOURCES = tuple(name for name, s in SOURCES.items() if not s.partitioned)

# SSB statbank symbols for a missing value (landing-zone.md).
SSB_MISSING_SYMBOLS = (".", "..", "...", ":")

# Files the generator writes beside the deliveries; they are not deliveries.
NON_DELIVERY_FILES = frozenset({".iwh_synthetic_sample", "truth.json", "truth_persons.parquet"})

QUARANTINE_REASONS = (
    "invalid_identifier",
    "invalid_date",
    "date_outside_cohort",
    "code_outside_list",
    "unknown_label",
    "unknown_municipality",
    "duplicate_person",
    "invalid_number",
)


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None
