"""Municipality-year context: the values the SSB statbank files will carry.

Values are rounded as published (one decimal, population whole), and the outcome model
uses exactly the published values, so a model fitted on the warehouse sees the same
numbers the truth was drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iwh_synth.geography import CONTEXT_SEED, Geography, YearUnits

# National level shifts by year (registered unemployment rose with the pandemic in 2020).
UNEMPLOYMENT_SHIFT = {2017: 0.3, 2018: 0.0, 2019: -0.1, 2020: 1.5}
IMMIGRANT_SHARE_TREND_PER_YEAR = 0.25


@dataclass
class UnitContext:
    """Published context of every unit of one year, aligned with YearUnits.codes."""

    folkemengde: np.ndarray
    andel_sysselsatte: np.ndarray
    andel_uforetrygdede: np.ndarray
    nettoinnflytting: np.ndarray
    andel_innvandrere: np.ndarray
    andel_utvalgte_naeringer: np.ndarray
    andel_ledige: np.ndarray
    sentralitet: np.ndarray


def unit_context(geography: Geography, year: int) -> UnitContext:
    units: YearUnits = geography.units[year]
    traits = geography.traits
    weights = geography.base_population(year)
    rng = np.random.default_rng([CONTEXT_SEED, year])
    n = units.codes.size
    # Per-municipality structure plus a small year-to-year wobble, as real series have.
    immigrant = units.weighted_mean(traits.immigrant_share, weights)
    immigrant = immigrant + IMMIGRANT_SHARE_TREND_PER_YEAR * (year - 2019) + rng.normal(0.0, 0.15, n)
    migration = units.weighted_mean(traits.net_migration, weights) + rng.normal(0.0, 2.5, n)
    industries = units.weighted_mean(traits.selected_industries, weights) + rng.normal(0.0, 0.4, n)
    employed = units.weighted_mean(traits.employed_share, weights) + rng.normal(0.0, 0.5, n)
    disability = units.weighted_mean(traits.disability_share, weights) + rng.normal(0.0, 0.2, n)
    unemployment = (
        units.weighted_mean(traits.unemployment, weights) + UNEMPLOYMENT_SHIFT[year] + rng.normal(0.0, 0.2, n)
    )
    centrality = np.array([int(traits.centrality[carrier]) for carrier in units.carrier])
    return UnitContext(
        folkemengde=units.population.astype(np.int64),
        andel_sysselsatte=np.round(np.clip(employed, 55.0, 90.0), 1),
        andel_uforetrygdede=np.round(np.clip(disability, 2.0, 25.0), 1),
        nettoinnflytting=np.round(migration, 1),
        andel_innvandrere=np.round(np.clip(immigrant, 1.0, 40.0), 1),
        andel_utvalgte_naeringer=np.round(np.clip(industries, 30.0, 62.0), 1),
        andel_ledige=np.round(np.clip(unemployment, 0.4, 8.0), 1),
        sentralitet=centrality,
    )
