"""Municipalities as they were in each cohort year, their SSB context and their KLASS history.

The data file holds one row per municipality of the 2017 structure with its code and name
after the 2018 reform (Trøndelag, Vestfold) and after the 2020 reform. A cohort year uses
the structure valid in that year, so a 2019 Skedsmo participant belongs to 0231, a 2020
one to 3030 Lillestrøm. A municipality formed by a merger is one unit whose population is
the sum of its parts and whose practices (how it fills in NIR, how good its programme is)
are those of its largest part, the programme that carried on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

# Fixed so a municipality's context (its SSB figures) is the same whatever the person seed:
# the persons vary between samples, the country they live in does not.
CONTEXT_SEED = 131

FIRST_YEAR = 2017
LAST_YEAR = 2020


@dataclass(frozen=True)
class BaseMunicipality:
    code_2017: str
    name_2017: str
    code_2018: str
    name_2018: str
    code_2020: str
    name_2020: str
    population_2019: int

    def code(self, year: int) -> str:
        if year <= 2017:
            return self.code_2017
        if year <= 2019:
            return self.code_2018
        return self.code_2020

    def name(self, year: int) -> str:
        if year <= 2017:
            return self.name_2017
        if year <= 2019:
            return self.name_2018
        return self.name_2020


def _read_data_csv(filename: str) -> list[dict[str, str]]:
    with resources.files("iwh_synth.data").joinpath(filename).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def load_base_municipalities() -> list[BaseMunicipality]:
    return [
        BaseMunicipality(
            code_2017=row["kommunenummer_2017"],
            name_2017=row["kommunenavn_2017"],
            code_2018=row["kommunenummer_2018"],
            name_2018=row["kommunenavn_2018"],
            code_2020=row["kommunenummer_2020"],
            name_2020=row["kommunenavn_2020"],
            population_2019=int(row["folkemengde_2019"]),
        )
        for row in _read_data_csv("kommuner.csv")
    ]


@dataclass
class YearUnits:
    """The municipalities valid in one year (the units persons are placed in)."""

    year: int
    codes: np.ndarray  # str, 4 digits
    names: np.ndarray  # str
    population: np.ndarray  # int
    carrier: np.ndarray  # index of the base municipality whose practices the unit carries on
    members: list[list[int]]  # base municipalities that make up the unit
    unit_of_base: np.ndarray  # for each base municipality, the unit it belongs to this year

    def weighted_mean(self, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per unit, the weighted mean of a per-base-municipality value over its members."""
        size = self.codes.size
        return np.bincount(self.unit_of_base, values * weights, size) / np.bincount(self.unit_of_base, weights, size)


class Geography:
    """Base municipalities, the units of each year, and their fixed traits."""

    def __init__(self) -> None:
        self.base = load_base_municipalities()
        n = len(self.base)
        rng = np.random.default_rng(CONTEXT_SEED)
        population_2019 = np.array([m.population_2019 for m in self.base], dtype=float)
        log_size = np.log10(population_2019)
        # Larger towns grow, small places shrink slightly; a per-municipality jitter on top.
        self.growth_per_year = 0.002 + 0.004 * (log_size - 4.0) + rng.normal(0.0, 0.003, n)
        self.traits = _draw_base_traits(rng, population_2019)
        self.units = {year: self._units_for(year, population_2019) for year in range(FIRST_YEAR, LAST_YEAR + 1)}
        self._last_valid_year = {code: year for year, units in self.units.items() for code in units.codes}

    def base_population(self, year: int) -> np.ndarray:
        population_2019 = np.array([m.population_2019 for m in self.base], dtype=float)
        return np.round(population_2019 * (1.0 + self.growth_per_year) ** (year - 2019))

    def _units_for(self, year: int, population_2019: np.ndarray) -> YearUnits:
        population = self.base_population(year)
        by_code: dict[str, list[int]] = {}
        for index, municipality in enumerate(self.base):
            by_code.setdefault(municipality.code(year), []).append(index)
        codes = sorted(by_code)
        members = [by_code[code] for code in codes]
        carrier = np.array([max(group, key=lambda i: population_2019[i]) for group in members])
        unit_of_base = np.empty(len(self.base), dtype=np.int64)
        for unit, group in enumerate(members):
            unit_of_base[group] = unit
        return YearUnits(
            year=year,
            codes=np.array(codes),
            names=np.array([self.base[carrier_index].name(year) for carrier_index in carrier]),
            population=np.array([int(population[group].sum()) for group in members]),
            carrier=carrier,
            members=members,
            unit_of_base=unit_of_base,
        )

    def last_valid_year(self, code: str) -> int:
        return self._last_valid_year[code]

    def klass_rows(self, appearing: set[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
        """KLASS 131 rows (code, name, validFrom, validTo) for every code/name that appears."""
        spans: dict[tuple[str, str], list[int]] = {}
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            for municipality in self.base:
                key = (municipality.code(year), municipality.name(year))
                spans.setdefault(key, []).append(year)
        rows = []
        for (code, name), valid_years in sorted(spans.items()):
            if (code, name) not in appearing:
                continue
            first, last = min(valid_years), max(valid_years)
            valid_from = f"{first}-01-01"
            valid_to = "" if last == LAST_YEAR else f"{last}-12-31"
            rows.append((code, name, valid_from, valid_to))
        return rows


@dataclass
class BaseTraits:
    immigrant_share: np.ndarray  # percent of population, 2019 level
    net_migration: np.ndarray  # per 1 000, mean level
    selected_industries: np.ndarray  # percent of employed
    employed_share: np.ndarray  # percent of population 25-66
    disability_share: np.ndarray  # percent of population 18-67
    unemployment: np.ndarray  # percent of labour force
    centrality: np.ndarray  # SSB class 1 (most central) .. 6
    intro_volume: np.ndarray  # relative number of refugees settled
    spor_registration: np.ndarray  # logit shift: how often the municipality leaves spor empty in NIR
    test_registration: np.ndarray  # logit shift: how often Norwegian test results are missing in NIR
    intro_salary_per_participant: np.ndarray  # 1 000 NOK, the municipality's level


def _draw_base_traits(rng: np.random.Generator, population: np.ndarray) -> BaseTraits:
    n = population.size
    centred = np.log10(population) - 3.9
    return BaseTraits(
        immigrant_share=np.clip(6.1 + 2.6 * centred + rng.normal(0.0, 1.6, n), 1.5, 34.0),
        net_migration=np.clip(1.6 + 2.4 * centred + rng.normal(0.0, 5.0, n), -25.0, 25.0),
        selected_industries=np.clip(45.8 + 0.9 * centred + rng.normal(0.0, 3.8, n), 32.0, 60.0),
        employed_share=np.clip(77.0 + 0.8 * centred + rng.normal(0.0, 2.6, n), 65.0, 86.0),
        disability_share=np.clip(11.8 - 1.4 * centred + rng.normal(0.0, 2.0, n), 4.0, 22.0),
        unemployment=np.clip(2.3 + 0.2 * centred + rng.normal(0.0, 0.6, n), 0.6, 6.0),
        centrality=np.clip(np.round(4.2 - 1.6 * centred + rng.normal(0.0, 0.6, n)), 1, 6).astype(int),
        # Refugees are settled all over the country, but the cities take more than their share.
        intro_volume=np.exp(rng.normal(0.0, 0.3, n)) * ((population / 8000) ** 0.5 + (population / 100000) ** 1.2),
        spor_registration=rng.normal(0.0, 1.5, n),
        test_registration=rng.normal(0.0, 0.5, n),
        intro_salary_per_participant=np.exp(np.log(38.5) + rng.normal(0.0, 0.3, n)),
    )
