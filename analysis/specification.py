"""The model definitions of models.md as data: variables, term names, reference categories, units.

Column names are those of ``marts.analysis_dataset`` (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from iwh.vocabulary import REFERENCE_REGION, TILTAK_COLUMNS

OUTCOME = "maloppnaelse"
# The second outcome (models.md): work or education one year after exit, from the register
# follow-up. Each outcome has its own complete-case flag in marts.analysis_dataset.
SECOND_OUTCOME = "arbeid_utdanning_1aar"
COMPLETE_CASE_FLAGS = {OUTCOME: "complete_case", SECOND_OUTCOME: "complete_case_1aar"}
OUTCOMES = tuple(COMPLETE_CASE_FLAGS)
CONSTANT = "const"

# Region label (exact, as in the marts) → model term. Order follows the report's table 17.
REGION_TERMS: dict[str, str] = {
    "Asia for øvrig": "region_asia_for_ovrig",
    "Afrika sør for Sahara": "region_afrika_sor_for_sahara",
    "Sørøst-Asia": "region_sorost_asia",
    "Vest-Asia": "region_vest_asia",
    "Latin-Amerika og Karibia": "region_latin_amerika_og_karibia",
    "Sør-Asia": "region_sor_asia",
    "Nord-Afrika": "region_nord_afrika",
    "Statsløs": "region_statslos",
    "Nord-Amerika": "region_nord_amerika",
    REFERENCE_REGION: "region_europa",
}

TILTAK = list(TILTAK_COLUMNS)

# M1's numeric individual variables, in the report's order; spor enters as a number 1–3.
M1_NUMERIC = ["ordning", "spor", "kjonn_mann", "alder", "botid", "norsk_score", "varighet_mnd", "fravaer_hoy"]
M1_COLUMNS = M1_NUMERIC + ["region"] + TILTAK

# Blocks for the likelihood-ratio tests (report appendix "Tester av forutsetninger").
M1_INDIVIDUAL_TERMS = ["spor", "kjonn_mann", "alder", "botid", "norsk_score", "varighet_mnd", "fravaer_hoy"]


@dataclass(frozen=True)
class MultilevelSpec:
    """M2 or M3: a random-intercept logistic model with level-2 units of one kind."""

    name: str
    unit_type: str
    unit_id_column: str
    context_columns: tuple[str, ...]

    @property
    def unit_columns(self) -> list[str]:
        return [self.unit_id_column, "cohort_year"]


M2 = MultilevelSpec(
    name="m2",
    unit_type="municipality_year",
    unit_id_column="kommunenummer",
    context_columns=("andel_innvandrere", "nettoinnflytting", "andel_utvalgte_naeringer"),
)
M3 = MultilevelSpec(
    name="m3",
    unit_type="project_year",
    unit_id_column="prosjekt_id",
    context_columns=("lonn_per_deltaker_1000kr",),
)

# Individual variables of M2/M3; alder and the context variables are standardised on the fit sample.
MULTILEVEL_INDIVIDUAL = ["ordning", "alder", "kjonn_mann", "spor", "fravaer_hoy"]
STANDARDISED_SUFFIX = "_std"

# "only units with more than 10 ended participants that year"
MIN_UNIT_PARTICIPANTS_EXCLUSIVE = 10

# Adaptive Gauss–Hermite nodes for M2/M3 (1 = Laplace, glmer's default). With clusters of more
# than 10, 10 nodes put the quadrature error far below the estimates' standard errors.
DEFAULT_NODES = 10

MODEL_NAMES = ["m1", "m1_women", "m2", "m2_women", "m3", "m3_women"]

# Every column of marts.analysis_dataset that the models, the contribution indicators and the
# outcome transitions read; the orchestration reads these and the descriptive chapter's
# (the mart has more, and at scale 100 three million rows).
MODEL_INPUT_COLUMNS = list(
    dict.fromkeys(
        [
            "outcome_variant",
            *COMPLETE_CASE_FLAGS.values(),
            *OUTCOMES,
            "programme",
            "cohort_year",
            "norsk_tier",
            *M1_COLUMNS,
            *MULTILEVEL_INDIVIDUAL,
            *(column for spec in (M2, M3) for column in (spec.unit_id_column, *spec.context_columns)),
            # analysis.outcome_transitions (analysis/transitions.py)
            "kommunenavn",
            "oppfolging_status",
            "excluded_reason",
        ]
    )
)
