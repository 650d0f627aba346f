"""The expectation suites, versioned as code, with their thresholds.

A suite belongs to one dataset and is validated once per partition (a cohort year, or a
cohort year and programme); the frames it sees are built in ``expectations.batches``.
Severity follows the warehouse rule: a failed *critical* expectation blocks the models and
publication, a failed *warning* is reported and does not block.

Thresholds and why:

- Completeness per cohort year and programme. Register fields that every exit has (sex,
  age, municipality, region) warn above 2 % missing (one person in a small Jobbsjansen
  cohort is over 1 %) and fail above 5 %: more than that means a broken delivery, not
  sloppy registration. Derived durations (botid, varighet)
  need two dates: warn above 2 %, fail above 10 %. The outcome is missing by design for
  the excluded end reasons (death, moved, ...): warn above 10 %, fail above 25 %.
  spor and the Norwegian level are the report's known gaps (36 % missing in the
  introduction programme, 9 % in Jobbsjansen, models.md): the introduction programme warns
  above 40 % and fails above 60 %; Jobbsjansen, whose form asks for both, warns above 20 %
  and fails above 40 %. Absence: warn above 20 %, fail above 50 %.
- Completeness per municipality-year (introduction programme, units with at least 20
  exits, where a share is stable enough to judge a municipality's registration
  practice): spor and Norwegian level warn above 40 % and fail above 60 % missing. Both
  levels have warning severity: registration practice differs between municipalities
  (the report found that, and the synthetic sample has municipality-years at 70–90 %),
  and one municipality's gap must reach the auditors by name, not stop the national
  figures. The programme-level limits above are the blocking ones.
- Validity: codes inside their lists (the dbt seeds are the lists, so an analyst who
  extends a seed extends the check), end dates inside the cohort year, and ranges that
  no real exit can fall outside (critical) next to the programmes' usual ranges (warning).
- Uniqueness: a person appears once per cohort file of a source (warning). Every row of a
  person delivered twice is quarantined at the door, so the rest of the delivery loads; a
  delivery blocks only when its quarantined rows pass the quarantine threshold
  (landing-zone.md, Bad input; the ``quarantine_threshold`` check).
- Labels: a label outside its seed is quarantined at the door too; the critical
  expectations on the accepted rows hold ingestion and the seeds in the warehouse together.
- Volume: a cohort's delivered rows below 55 % of the previous year's fail (a lost file
  part or a wrong extract). The steepest real drop, 2020 against 2019 when fewer refugees
  were settled, kept about two thirds of the exits; outside 80–150 % warns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from expectations import batches
from iwh.vocabulary import NORSK_TIERS, REGIONS, TILTAK_GROUPS

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class MissingLimits:
    """Largest shares of missing values before a warning and before a failure."""

    warn_above: float
    fail_above: float


PROGRAMME_COMPLETENESS: dict[str, dict[str, MissingLimits]] = {
    "intro": {
        "kjonn_mann": MissingLimits(0.02, 0.05),
        "alder": MissingLimits(0.02, 0.05),
        "kommunenummer": MissingLimits(0.02, 0.05),
        "region": MissingLimits(0.02, 0.05),
        "botid": MissingLimits(0.02, 0.10),
        "varighet_mnd": MissingLimits(0.02, 0.10),
        "maloppnaelse": MissingLimits(0.10, 0.25),
        "spor": MissingLimits(0.40, 0.60),
        "norsk_score": MissingLimits(0.40, 0.60),
        "fravaer_hoy": MissingLimits(0.20, 0.50),
    },
    "jobbsjansen": {
        "kjonn_mann": MissingLimits(0.02, 0.05),
        "alder": MissingLimits(0.02, 0.05),
        "kommunenummer": MissingLimits(0.02, 0.05),
        "region": MissingLimits(0.02, 0.05),
        "botid": MissingLimits(0.02, 0.10),
        "varighet_mnd": MissingLimits(0.02, 0.10),
        "maloppnaelse": MissingLimits(0.10, 0.25),
        "spor": MissingLimits(0.20, 0.40),
        "norsk_score": MissingLimits(0.20, 0.40),
        "fravaer_hoy": MissingLimits(0.20, 0.50),
    },
}

MUNICIPALITY_MIN_EXITS = 20
MUNICIPALITY_COMPLETENESS = {
    "spor": MissingLimits(0.40, 0.60),
    "norsk_score": MissingLimits(0.40, 0.60),
}

# The register follow-up (status one year after exit). Statistics Norway fills the status for
# every person it delivers; income and social assistance may be unknown for some (emigrated
# persons, a register not yet complete).
FOLLOWUP_COMPLETENESS = {
    "status_november": MissingLimits(0.01, 0.05),
    "yrkesinntekt_kr": MissingLimits(0.10, 0.30),
    "sosialhjelp": MissingLimits(0.10, 0.30),
}
# A cohort whose follow-up links markedly fewer of its fødselsnummer-identified exits than the
# cohorts before it points to a wrong or partial extract: a warning, since the models run on what
# was linked and the coverage is in the auditors' report.
LINKAGE_WARN_BELOW = 0.90

VOLUME_FAIL_BELOW = 0.55
VOLUME_WARN_OUTSIDE = (0.80, 1.50)


@dataclass(frozen=True)
class BatchSource:
    """Where a dataset's frames come from: one frame per partition, validated by one checkpoint.

    ``index_columns`` name what a row of the frame is (a file row, a municipality-year, a
    source's cohort), so a failure can say where; ``carries_identifier`` marks frames that hold person keys, whose
    results keep counts only, in the warehouse and in Data Docs alike. ``counts_only`` keeps
    counts only where listing rows says nothing (a missing value) and would cost much: GX
    builds its row lists over every unexpected row, a quarter of a cohort for spor.
    """

    name: str
    dataset: str
    build: Callable[[duckdb.DuckDBPyConnection], Iterator[batches.Batch]]
    index_columns: Sequence[str] = ()
    carries_identifier: bool = False
    counts_only: bool = False
    delivered_columns: dict[str, str] = field(default_factory=dict)

    @property
    def describes_units(self) -> bool:
        """Each row is a unit (a municipality-year, a source's cohort), not a delivered row:
        the failing units themselves are the observed value."""
        return bool(self.index_columns) and self.index_columns[0] in ("kommunenummer", "source")


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    source: BatchSource
    build_expectations: Callable[[], list[Expectation]]

    @property
    def dataset(self) -> str:
        return self.source.dataset

    @property
    def check_name(self) -> str:
        return self.name.replace(".", "__")


def _gx_expectations():
    """GX's expectation classes, imported when a suite's expectations are built for a validation,
    not when the suites are defined: the Dagster definitions list the suites as asset checks, and
    importing GX takes about 2 s."""
    import great_expectations.expectations as gxe

    return gxe


def _share(value: float) -> str:
    return f"{value:.0%}"


def _completeness(limits_by_column: dict[str, MissingLimits], scope: str) -> list[Expectation]:
    gxe = _gx_expectations()
    expectations: list[Expectation] = []
    for column, limits in limits_by_column.items():
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                mostly=round(1 - limits.warn_above, 4),
                severity=WARNING,
                notes=f"Warning: more than {_share(limits.warn_above)} of {scope} lack {column}.",
            )
        )
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                mostly=round(1 - limits.fail_above, 4),
                severity=CRITICAL,
                notes=f"Critical: more than {_share(limits.fail_above)} of {scope} lack {column}.",
            )
        )
    return expectations


def _municipality_completeness() -> list[Expectation]:
    gxe = _gx_expectations()
    expectations: list[Expectation] = []
    for variable, limits in MUNICIPALITY_COMPLETENESS.items():
        column = f"{variable}_missing_share"
        for level, limit in (("warning level", limits.warn_above), ("failure level", limits.fail_above)):
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=0,
                    max_value=limit,
                    severity=WARNING,
                    meta={"level": level},
                    notes=(
                        f"{level.capitalize()} (does not block): a municipality-year with at least "
                        f"{MUNICIPALITY_MIN_EXITS} exits from the introduction programme lacks {variable} for more "
                        f"than {_share(limit)}."
                    ),
                )
            )
    return expectations


def _participant_exit_validity() -> list[Expectation]:
    gxe = _gx_expectations()
    in_set = gxe.ExpectColumnValuesToBeInSet
    between = gxe.ExpectColumnValuesToBeBetween
    return [
        gxe.ExpectColumnValuesToMatchRegex(column="kommunenummer", regex=r"^\d{4}$", severity=CRITICAL),
        in_set(column="kjonn_mann", value_set=[0, 1], severity=CRITICAL),
        between(
            column="alder",
            min_value=16,
            max_value=80,
            severity=CRITICAL,
            notes="Critical: no participant can be younger than 16 or older than 80 at exit.",
        ),
        between(
            column="alder",
            min_value=18,
            max_value=67,
            severity=WARNING,
            notes="Warning: both programmes are for adults of working age (18–67).",
        ),
        between(
            column="botid",
            min_value=0,
            max_value=60,
            severity=CRITICAL,
            notes="Critical: years since settlement cannot be negative or exceed a working life.",
        ),
        between(
            column="varighet_mnd",
            min_value=0,
            max_value=120,
            severity=CRITICAL,
            notes="Critical: a participation cannot end before it starts or last ten years.",
        ),
        between(
            column="varighet_mnd",
            min_value=0,
            max_value=60,
            severity=WARNING,
            notes="Warning: participations longer than five years are unusual in both programmes.",
        ),
        between(column="fravaer_andel", min_value=0, severity=CRITICAL),
        in_set(column="fravaer_hoy", value_set=[0, 1], severity=CRITICAL),
        in_set(column="spor", value_set=[1, 2, 3], severity=CRITICAL),
        between(column="norsk_score", min_value=0, max_value=4, severity=CRITICAL),
        in_set(column="norsk_tier", value_set=list(NORSK_TIERS), severity=CRITICAL),
        in_set(column="region", value_set=list(REGIONS), severity=CRITICAL),
        in_set(column="maloppnaelse", value_set=[0, 1], severity=CRITICAL),
        in_set(column="maloppnaelse_3", value_set=[1, 2, 3], severity=CRITICAL),
        *(in_set(column=f"tiltak_{group}", value_set=[0, 1], severity=CRITICAL) for group in TILTAK_GROUPS),
    ]


def _unique_person() -> list[Expectation]:
    gxe = _gx_expectations()
    return [
        gxe.ExpectColumnValuesToBeUnique(
            column="person_key",
            severity=WARNING,
            notes="Warning: the same person twice in one cohort file of one source (landing-zone.md, Bad input); "
            "those rows are quarantined, and the delivery blocks only above the quarantine threshold.",
        )
    ]


def _volume() -> list[Expectation]:
    gxe = _gx_expectations()
    low, high = VOLUME_WARN_OUTSIDE
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="ratio_to_previous_year",
            min_value=VOLUME_FAIL_BELOW,
            severity=CRITICAL,
            notes=f"Critical: a cohort delivers fewer than {_share(VOLUME_FAIL_BELOW)} of the previous year's rows.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="ratio_to_previous_year",
            min_value=low,
            max_value=high,
            severity=WARNING,
            notes=f"Warning: a cohort delivers less than {_share(low)} or more than {_share(high)} of the "
            "previous year's rows.",
        ),
    ]


def _followup_validity() -> list[Expectation]:
    gxe = _gx_expectations()
    return [
        gxe.ExpectColumnValuesToBeInSet(column="status_november", value_set=list(range(1, 9)), severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="sosialhjelp", value_set=[0, 1], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(
            column="yrkesinntekt_kr",
            min_value=0,
            severity=CRITICAL,
            notes="Critical: earned income is whole kroner, never negative.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="yrkesinntekt_kr",
            min_value=0,
            max_value=3_000_000,
            severity=WARNING,
            notes="Warning: an earned income above 3 million kroner a year after an integration programme "
            "is implausible (a unit or shifted-column error?).",
        ),
    ]


def _linkage() -> list[Expectation]:
    gxe = _gx_expectations()
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="ratio_to_earlier_cohorts",
            min_value=LINKAGE_WARN_BELOW,
            severity=WARNING,
            notes=f"Warning: the follow-up links less than {_share(LINKAGE_WARN_BELOW)} of the share of "
            "fødselsnummer-identified exits it linked in the earlier cohorts.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="linkage_rate",
            min_value=0,
            max_value=1,
            severity=CRITICAL,
            notes="Critical: a cohort cannot link more exits than it identified.",
        ),
    ]


def _end_in_cohort_year(column: str) -> Expectation:
    gxe = _gx_expectations()
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value={"$PARAMETER": "cohort_year"},
        max_value={"$PARAMETER": "cohort_year"},
        severity=CRITICAL,
        notes="Critical: a cohort file holds the participations that ended in its year.",
    )


def _known_label(column: str, code_list: str) -> Expectation:
    gxe = _gx_expectations()
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set={"$PARAMETER": code_list},
        severity=CRITICAL,
        meta={"code_list": code_list},
        notes=f"Critical: every label must map through the dbt seed {code_list}; an unknown label would "
        "silently become a missing value.",
    )


def _nir_row_validity() -> list[Expectation]:
    gxe = _gx_expectations()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="avsluttet_aar", severity=CRITICAL),
        _end_in_cohort_year("avsluttet_aar"),
        _known_label("avslutningsaarsak", "nir_avslutningsaarsaker"),
        _known_label("statsborgerskapforste", "land_regioner"),
    ]


def _jobbsjansen_leaver_validity() -> list[Expectation]:
    gxe = _gx_expectations()
    return [
        _known_label("v4_1", "jobbsjansen_avslutningsaarsaker"),
        gxe.ExpectColumnValuesToBeInSet(
            column="v1_8", value_set=[str(month) for month in range(1, 13)], severity=CRITICAL
        ),
        _known_label("v2_5", "land_regioner"),
    ]


LINEAGE = ("source_file", "source_row")

NIR_PERSONS = BatchSource(
    name="raw.nir_deltakere persons",
    dataset="raw.nir_deltakere",
    build=batches.raw_persons("raw.nir_deltakere"),
    carries_identifier=True,
    delivered_columns={"person_key": "Fodselsnummer"},
)
JOBBSJANSEN_PERSONS = BatchSource(
    name="raw.jobbsjansen_individrapportering persons",
    dataset="raw.jobbsjansen_individrapportering",
    build=batches.raw_persons("raw.jobbsjansen_individrapportering"),
    carries_identifier=True,
    delivered_columns={"person_key": "fnr/duf"},
)
NIR_ROWS = BatchSource(
    name="raw.nir_deltakere accepted rows",
    dataset="raw.nir_deltakere",
    build=batches.nir_deltakere,
    index_columns=LINEAGE,
    delivered_columns={
        "avsluttet_aar": "AvsluttetDato",
        "avslutningsaarsak": "Avslutningsaarsak",
        "statsborgerskapforste": "StatsborgerskapForste",
    },
)
NIR_MEASURES = BatchSource(
    name="raw.nir_tiltak accepted rows",
    dataset="raw.nir_tiltak",
    build=batches.nir_tiltak,
    index_columns=LINEAGE,
    delivered_columns={"tiltak": "Tiltak"},
)
JOBBSJANSEN_LEAVERS = BatchSource(
    name="raw.jobbsjansen_individrapportering accepted leavers",
    dataset="raw.jobbsjansen_individrapportering",
    build=batches.jobbsjansen_leavers,
    index_columns=LINEAGE,
    delivered_columns={"v4_1": "v4_1", "v1_8": "v1_8", "v2_5": "v2_5"},
)
PARTICIPANT_EXITS = {
    programme: BatchSource(
        name="marts.participant_exits rows",
        dataset="marts.participant_exits",
        build=batches.participant_exits(programme),
        index_columns=LINEAGE,
    )
    for programme in PROGRAMME_COMPLETENESS
}
PARTICIPANT_EXIT_COMPLETENESS = {
    programme: BatchSource(
        name="marts.participant_exits completeness",
        dataset="marts.participant_exits",
        build=batches.participant_exits(programme, columns=tuple(limits)),
        counts_only=True,
    )
    for programme, limits in PROGRAMME_COMPLETENESS.items()
}
MUNICIPALITY_YEARS = BatchSource(
    name="marts.participant_exits intro by municipality",
    dataset="marts.participant_exits",
    build=batches.municipality_completeness(MUNICIPALITY_MIN_EXITS),
    index_columns=("kommunenummer", "kommunenavn", "exits"),
)
FOLLOWUP_PERSONS = BatchSource(
    name="raw.register_status_ett_aar_etter persons",
    dataset="raw.register_status_ett_aar_etter",
    build=batches.raw_persons(batches.FOLLOWUP_TABLE),
    carries_identifier=True,
    delivered_columns={"person_key": "fnr"},
)
FOLLOWUP_ROWS = BatchSource(
    name="raw.register_status_ett_aar_etter accepted rows",
    dataset="raw.register_status_ett_aar_etter",
    build=batches.register_status,
    index_columns=LINEAGE,
)
FOLLOWUP_COMPLETENESS_ROWS = BatchSource(
    name="raw.register_status_ett_aar_etter completeness",
    dataset="raw.register_status_ett_aar_etter",
    build=batches.register_status,
    counts_only=True,
)
FOLLOWUP_LINKAGE = BatchSource(
    name="marts.followup_coverage linkage",
    dataset="marts.followup_coverage",
    build=batches.followup_linkage,
    index_columns=("cohort_year", "linkage_rate", "earlier_linkage_rate"),
)
VOLUMES = BatchSource(
    name="raw cohort sources volume",
    dataset="raw (cohort sources)",
    build=batches.volume,
    index_columns=("source", "rows_delivered", "rows_previous_year"),
)

SUITES: tuple[Suite, ...] = (
    Suite(
        name="raw_nir_deltakere.uniqueness",
        description="Each person once per NIR cohort file (all delivered rows, quarantined ones included).",
        source=NIR_PERSONS,
        build_expectations=_unique_person,
    ),
    Suite(
        name="raw_jobbsjansen_individrapportering.uniqueness",
        description="Each person once per Jobbsjansen reporting file (all delivered rows, quarantined ones included).",
        source=JOBBSJANSEN_PERSONS,
        build_expectations=_unique_person,
    ),
    Suite(
        name="raw_nir_deltakere.validity",
        description="Accepted NIR rows: end date inside the cohort year; end reason and citizenship in the code lists.",
        source=NIR_ROWS,
        build_expectations=_nir_row_validity,
    ),
    Suite(
        name="raw_nir_tiltak.validity",
        description="Accepted NIR measure rows: every measure label in the code list.",
        source=NIR_MEASURES,
        build_expectations=lambda: [_known_label("tiltak", "nir_tiltak")],
    ),
    Suite(
        name="raw_jobbsjansen_individrapportering.validity",
        description="Accepted Jobbsjansen leavers: exit reason, exit month and country of origin in their lists.",
        source=JOBBSJANSEN_LEAVERS,
        build_expectations=_jobbsjansen_leaver_validity,
    ),
    *(
        Suite(
            name=f"participant_exits_{programme}.completeness",
            description=f"Share of missing values per variable among the {programme} exits of a cohort year.",
            source=PARTICIPANT_EXIT_COMPLETENESS[programme],
            build_expectations=functools.partial(_completeness, limits, f"the {programme} exits of the cohort"),
        )
        for programme, limits in PROGRAMME_COMPLETENESS.items()
    ),
    *(
        Suite(
            name=f"participant_exits_{programme}.validity",
            description=f"Codes and ranges of the harmonised variables among the {programme} exits of a cohort year.",
            source=PARTICIPANT_EXITS[programme],
            build_expectations=_participant_exit_validity,
        )
        for programme in PROGRAMME_COMPLETENESS
    ),
    Suite(
        name="municipality_year_intro.completeness",
        description=(
            "Introduction programme: share missing spor and Norwegian level per municipality-year with at least "
            f"{MUNICIPALITY_MIN_EXITS} exits."
        ),
        source=MUNICIPALITY_YEARS,
        build_expectations=_municipality_completeness,
    ),
    Suite(
        name="raw_register_status_ett_aar_etter.uniqueness",
        description="Each person once per follow-up file (all delivered rows, quarantined ones included).",
        source=FOLLOWUP_PERSONS,
        build_expectations=_unique_person,
    ),
    Suite(
        name="raw_register_status_ett_aar_etter.validity",
        description="Accepted follow-up rows: status code 1–8, social assistance 0/1, income whole kroner.",
        source=FOLLOWUP_ROWS,
        build_expectations=_followup_validity,
    ),
    Suite(
        name="raw_register_status_ett_aar_etter.completeness",
        description="Share of missing status, income and social assistance among a cohort's follow-up rows.",
        source=FOLLOWUP_COMPLETENESS_ROWS,
        build_expectations=functools.partial(_completeness, FOLLOWUP_COMPLETENESS, "the cohort's follow-up rows"),
    ),
    Suite(
        name="followup_linkage.earlier_cohorts",
        description="Share of a cohort's fødselsnummer-identified exits the follow-up linked, against the earlier "
        "delivered cohorts'.",
        source=FOLLOWUP_LINKAGE,
        build_expectations=_linkage,
    ),
    Suite(
        name="raw_volume.previous_year",
        description="Delivered rows per person-level source against the previous cohort year.",
        source=VOLUMES,
        build_expectations=_volume,
    ),
)


def resolve_parameter(value, parameters: dict):
    """An expectation argument given as ``{"$PARAMETER": name}`` takes its value from the batch."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def batch_sources(suites: Sequence[Suite] = SUITES) -> list[BatchSource]:
    seen: dict[int, BatchSource] = {}
    for suite in suites:
        seen.setdefault(id(suite.source), suite.source)
    return list(seen.values())
