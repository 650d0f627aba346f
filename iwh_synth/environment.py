"""What a person's outcome depends on beyond themselves: their unit's context and effects.

For each cohort year this holds, per municipality valid that year, the published context,
the introduction programme's salary per participant, and the planted random effects; and
per Jobbsjansen project-year the same for the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from iwh_synth.context import UnitContext
from iwh_synth.geography import YearUnits
from iwh_synth.truth import TruthModel


@dataclass
class YearEnvironment:
    year: int
    units: YearUnits
    context: UnitContext
    intro_salary_per_participant: np.ndarray  # 1 000 NOK, from the KOSTRA file as written
    municipality_effect: np.ndarray  # municipality-year random intercept
    intro_programme_effect: np.ndarray  # project effect of the unit's introduction programme
    intro_programme_year_effect: np.ndarray  # project-year random intercept (M3)
    spor_registration: np.ndarray  # logit shift of leaving spor empty, per unit
    test_registration: np.ndarray  # logit shift of missing test results, per unit
    followup_municipality_effect: np.ndarray  # municipality-year random intercept of the follow-up outcome
    project_salary_per_participant: dict[str, float] = field(default_factory=dict)  # Jobbsjansen, by prosjekt_id
    project_effect: dict[str, float] = field(default_factory=dict)
    project_year_effect: dict[str, float] = field(default_factory=dict)


def context_terms(
    model: TruthModel, environment: YearEnvironment, unit_index: np.ndarray, salary: np.ndarray
) -> dict[str, np.ndarray]:
    """The context covariates of persons in the given units (only those the model uses)."""
    terms = {}
    for variable in model.context_variables:
        if variable == "lonn_per_deltaker_1000kr":
            terms[variable] = salary
        else:
            terms[variable] = getattr(environment.context, variable)[unit_index]
    return terms
