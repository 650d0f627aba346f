"""Status one year after exit: register/status_ett_aar_etter_<Y> and its truth.

`arbeid_utdanning_1aar` is drawn from the follow-up model of iwh_synth.truth (logit-linear in
M1's terms). Its latent variable is correlated with the exit outcome's (Gaussian copula): given
the exit outcome already drawn, the exit's uniform is drawn from where that outcome puts it,
so the pair has exactly the copula's joint law while each margin keeps its own logistic model.
Status codes, income and social assistance then follow from it. Persons known only by a DUF
number are not in the registers (landing-zone.md) and get no row.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import special

from iwh_synth.draws import categorical, expit
from iwh_synth.environment import YearEnvironment
from iwh_synth.truth import FollowupModel, TruthModel
from iwh_synth.writers import DelimitedWriter

# status_november codes (landing-zone.md) within work or education (1-3) and outside it (4-6).
IN_WORK_OR_EDUCATION = (np.array([1, 2, 3]), np.array([0.70, 0.20, 0.10]))
OUTSIDE = (np.array([4, 5, 6]), np.array([0.40, 0.15, 0.45]))
EMIGRATED, DIED = 7, 8
EMIGRATED_SHARE = 0.015
DIED_SHARE = 0.002
STATUS_LABELS = {
    1: "sysselsatt",
    2: "i utdanning",
    3: "sysselsatt og i utdanning",
    4: "registrert arbeidsledig eller på arbeidsmarkedstiltak",
    5: "helserelatert ytelse (AAP eller uføretrygd)",
    6: "annen eller ukjent status",
    7: "utvandret",
    8: "død",
}
# Earned income in the year after exit by status: share with none, then log-normal median and SD.
INCOME_BY_STATUS = {
    1: (0.0, 290_000, 0.5),
    2: (0.1, 50_000, 0.8),
    3: (0.0, 160_000, 0.6),
    4: (0.4, 40_000, 1.0),
    5: (0.7, 20_000, 1.0),
    6: (0.6, 30_000, 1.0),
    7: (0.8, 50_000, 1.0),
    8: (0.9, 30_000, 1.0),
}
INCOME_UNKNOWN_SHARE = 0.02
SOCIAL_ASSISTANCE = {True: 0.08, False: 0.35}
SOCIAL_ASSISTANCE_UNKNOWN_SHARE = 0.02
NO_VALUE = -1
# Gauss-Legendre nodes for the bivariate normal integral over the correlation (Plackett).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
_CLIP = 1e-12

FOLLOWUP_EXCLUSION_REASONS = ("ikke_levert_ennaa", "ikke_i_registeret", "utvandret_eller_dod")
# The exit outcome's own reasons do not exclude a person from the follow-up models.
EXIT_OUTCOME_REASONS = ("outcome_excluded", "missing_outcome")
OUTSIDE_SCOPE = "outside_js_scope"


@dataclass
class ExitLatent:
    """What the exit outcome was drawn from, for the persons of a truth chunk (aligned with it)."""

    covariates: dict[str, np.ndarray]
    achieved: np.ndarray  # the latent outcome at exit, also where the delivery excludes it
    probability: np.ndarray
    unit_index: np.ndarray  # municipality of exit, index into the year's units


@dataclass
class FollowupDraw:
    status: np.ndarray  # status_november 1-8
    income: np.ndarray  # whole kroner; NO_VALUE = not known
    social_assistance: np.ndarray  # 0/1; NO_VALUE = not known
    probability: np.ndarray  # P(work or education) from the follow-up model alone
    probability_given_exit: np.ndarray  # the same given the outcome at exit


def draw_followup(
    rng: np.random.Generator,
    model: FollowupModel,
    latent: ExitLatent,
    municipality_effect: np.ndarray,
    died_at_exit: np.ndarray,
) -> FollowupDraw:
    n = latent.achieved.size
    p_exit = np.clip(latent.probability, _CLIP, 1 - _CLIP)
    probability = np.clip(expit(model.linear_predictor(latent.covariates, n) + municipality_effect), _CLIP, 1 - _CLIP)
    spread = rng.random(n)
    u_exit = np.where(latent.achieved, p_exit * spread, p_exit + (1 - p_exit) * spread)
    rho = model.exit_correlation
    z_exit = special.ndtri(np.clip(u_exit, _CLIP, 1 - _CLIP))
    z_followup = rho * z_exit + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    in_work = z_followup < special.ndtri(probability)

    both = bivariate_normal_cdf(special.ndtri(p_exit), special.ndtri(probability), rho)
    given_exit = np.where(latent.achieved, both / p_exit, (probability - both) / (1 - p_exit))

    status = np.empty(n, dtype=np.int64)
    for who, (codes, weights) in ((in_work, IN_WORK_OR_EDUCATION), (~in_work, OUTSIDE)):
        index = np.flatnonzero(who)
        status[index] = codes[categorical(rng, weights, index.size)]
    gone = rng.random(n)
    status = np.where(gone < EMIGRATED_SHARE, EMIGRATED, status)
    status = np.where((gone >= EMIGRATED_SHARE) & (gone < EMIGRATED_SHARE + DIED_SHARE), DIED, status)
    status = np.where(died_at_exit, DIED, status)

    income = np.zeros(n, dtype=np.int64)
    for code, (none_share, median, sd) in INCOME_BY_STATUS.items():
        index = np.flatnonzero(status == code)
        earned = rng.random(index.size) >= none_share
        amount = np.rint(median * np.exp(rng.normal(0.0, sd, index.size))).astype(np.int64)
        income[index] = np.where(earned, amount, 0)
    income[rng.random(n) < INCOME_UNKNOWN_SHARE] = NO_VALUE

    social = (rng.random(n) < np.where(in_work, SOCIAL_ASSISTANCE[True], SOCIAL_ASSISTANCE[False])).astype(np.int64)
    social[status == DIED] = 0
    social[rng.random(n) < SOCIAL_ASSISTANCE_UNKNOWN_SHARE] = NO_VALUE
    return FollowupDraw(status, income, social, probability, given_exit)


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: float) -> np.ndarray:
    """P(X < h, Y < k) for standard normals with correlation rho, by Plackett's identity
    Φ2 = Φ(h)Φ(k) + ∫₀^ρ φ2(h, k; r) dr (smooth in r for |ρ| well below 1)."""
    r = (_NODES + 1) * rho / 2
    h, k = h[:, None], k[:, None]
    density = np.exp(-(h * h - 2 * r * h * k + k * k) / (2 * (1 - r * r))) / (2 * math.pi * np.sqrt(1 - r * r))
    return special.ndtr(h[:, 0]) * special.ndtr(k[:, 0]) + rho / 2 * density @ _WEIGHTS


def followup_truth(
    draw: FollowupDraw | None, in_register: np.ndarray, excluded_reasons: np.ndarray
) -> dict[str, np.ndarray]:
    """Truth columns as marts.analysis_dataset has them; `draw` is None when the cohort's
    follow-up has not been delivered."""
    n = in_register.size
    if draw is None:
        linked = np.zeros(n, dtype=bool)
        oppfolging = np.full(n, "ikke_levert_ennaa", dtype=object)
        status = np.zeros(n, dtype=np.int64)
    else:
        linked = in_register
        oppfolging = np.where(linked, "koblet", "ikke_i_registeret").astype(object)
        status = np.where(linked, draw.status, 0)
    gone = np.isin(status, [EMIGRATED, DIED])
    outcome = np.where(~linked | gone, NO_VALUE, (status <= 3).astype(np.int64))
    income = np.where(linked, draw.income, NO_VALUE) if draw is not None else np.full(n, NO_VALUE)
    category = np.select(
        [income < 0, income < 100_000, income < 300_000], [None, "under_100k", "100k_300k"], "300k_og_over"
    ).astype(object)
    social = np.where(linked, draw.social_assistance, NO_VALUE) if draw is not None else np.full(n, NO_VALUE)
    followup_reason = np.where(oppfolging == "koblet", np.where(gone, "utvandret_eller_dod", ""), oppfolging).astype(
        str
    )
    first_table, every_table, index = _followup_reasons(followup_reason, excluded_reasons)
    labels = np.array([None, *STATUS_LABELS.values()], dtype=object)
    return {
        "status_1aar": labels[status],
        "arbeid_utdanning_1aar": outcome,
        "yrkesinntekt_1aar_kategori": category,
        "sosialhjelp_1aar": social,
        "oppfolging_status": oppfolging,
        "excluded_reason_1aar": first_table[index],
        "excluded_reasons_1aar": every_table[index],
        "p_arbeid_utdanning_1aar": draw.probability if draw is not None else np.full(n, np.nan),
        "p_arbeid_utdanning_1aar_gitt_exit": np.where(linked, draw.probability_given_exit, np.nan)
        if draw is not None
        else np.full(n, np.nan),
    }


def _followup_reasons(followup_reason: np.ndarray, excluded_reasons: np.ndarray):
    """The follow-up's reason, then the exit's reasons other than its outcome's, spelled
    out once per distinct combination (few occur) and looked up per row."""
    every = pa.array(excluded_reasons, type=pa.string(), from_pandas=True).fill_null("").to_numpy(zero_copy_only=False)
    keys = np.char.add(np.char.add(followup_reason, "|"), every.astype(str))
    combinations, index = np.unique(keys, return_inverse=True)
    first_table = np.empty(combinations.size, dtype=object)
    every_table = np.empty(combinations.size, dtype=object)
    for position, combination in enumerate(combinations):
        first, _, every = str(combination).partition("|")
        exit_reasons = [r for r in every.split(";") if r and r not in EXIT_OUTCOME_REASONS]
        # Being outside the analysed Jobbsjansen schemes comes first, as for the outcome at exit.
        scope = [r for r in exit_reasons if r == OUTSIDE_SCOPE]
        reasons = scope + ([first] if first else []) + [r for r in exit_reasons if r != OUTSIDE_SCOPE]
        first_table[position] = reasons[0] if reasons else None
        every_table[position] = ";".join(reasons) if reasons else None
    return first_table, every_table, index


def register_rows(identifiers: np.ndarray, draw: FollowupDraw, in_register: np.ndarray) -> dict[str, np.ndarray]:
    """The delivered file's columns (text) for the persons the registers could look up."""
    index = np.flatnonzero(in_register)
    income = draw.income[index]
    social = draw.social_assistance[index]
    return {
        "fnr": identifiers[index].astype(object),
        "status_november": draw.status[index].astype(str).astype(object),
        "yrkesinntekt_kr": np.where(income < 0, "", income.astype(str)).astype(object),
        "sosialhjelp": np.where(social < 0, "", social.astype(str)).astype(object),
    }


FOLLOWUP_COLUMNS = ["fnr", "status_november", "yrkesinntekt_kr", "sosialhjelp"]
# Format drift as in the other sources: older deliveries Windows-1252 with CRLF, one year's
# columns in another order (as the contract's 2018 example), later ones UTF-8 with a BOM.
WINDOWS_1252_UNTIL = 2017
SHUFFLED_COLUMNS_YEAR = 2018
SHUFFLED_COLUMNS = ["sosialhjelp", "fnr", "status_november", "yrkesinntekt_kr"]
FNR_LENGTH = 11


class FollowupDeliveries:
    """Draws every exit's follow-up, writes register/status_ett_aar_etter_<Y>.csv for the
    delivered years, completes the truth rows and sums the expected persistence shares."""

    def __init__(self, out_dir: Path, years: list[int], model: TruthModel, rng_for: Callable[..., np.random.Generator]):
        self.model = model.followup
        self.rng_for = rng_for
        self.years = years
        self.writers = {year: _writer(out_dir, year) for year in years}
        # (programme, outcome at exit) -> [sum of P(work or education | exit), persons, persons in work or education]
        self.persistence: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0, 0])

    def add(
        self, year: int, part: int, truth: dict[str, np.ndarray], latent: ExitLatent, environment: YearEnvironment
    ) -> None:
        """Adds the follow-up columns to `truth` (a chunk of exits of cohort `year`)."""
        draw = draw_followup(
            self.rng_for(year, part),
            self.model,
            latent,
            environment.followup_municipality_effect[latent.unit_index],
            died_at_exit=truth["avslutningsaarsak"] == "Død",
        )
        in_register = np.char.str_len(truth["identifier"].astype(str)) == FNR_LENGTH
        delivered = year in self.writers
        if delivered:
            self.writers[year].write(register_rows(truth["identifier"], draw, in_register))
        truth.update(followup_truth(draw if delivered else None, in_register, truth["excluded_reasons"]))
        if delivered:
            self._count_persistence(truth)

    def _count_persistence(self, truth: dict[str, np.ndarray]) -> None:
        outcome_at_exit = (
            pa.array(truth["maloppnaelse_report_text"], type=pa.int8(), from_pandas=True)
            .fill_null(-1)
            .to_numpy(zero_copy_only=False)
        )
        known = truth["arbeid_utdanning_1aar"] >= 0
        for programme in np.unique(truth["programme"]):
            for exit_outcome in (0, 1):
                who = known & (truth["programme"] == programme) & (outcome_at_exit == exit_outcome)
                cell = self.persistence[(str(programme), exit_outcome)]
                cell[0] += float(truth["p_arbeid_utdanning_1aar_gitt_exit"][who].sum())
                cell[1] += int(who.sum())
                cell[2] += int(truth["arbeid_utdanning_1aar"][who].sum())

    def close(self) -> dict[int, int]:
        """Rows written per delivered year."""
        for writer in self.writers.values():
            writer.close()
        return {year: writer.rows for year, writer in self.writers.items()}

    def truth_section(self, environments: dict[int, YearEnvironment]) -> dict:
        model = self.model
        persistence: dict[str, dict] = defaultdict(dict)
        for (programme, exit_outcome), (expected, persons, realised) in sorted(self.persistence.items()):
            persistence[programme]["maloppnaelse_1" if exit_outcome else "maloppnaelse_0"] = {
                "persons": persons,
                "expected_share": expected / persons if persons else None,
                "realised_share": realised / persons if persons else None,
            }
        section = {
            "outcome": "arbeid_utdanning_1aar: status_november 1-3 = 1, 4-6 = 0, 7-8 (emigrated, dead) missing",
            "delivered_cohorts": self.years,
            "not_delivered": "cohorts without a delivery (the latest by default) have oppfolging_status ikke_levert_ennaa",
            "link": "logit",
            "coefficient_scale": "raw units of the harmonised variables, as the exit model",
            "coefficients": dict(model.coefficients),
            "exit_correlation": model.exit_correlation,
            "dependence_on_exit": (
                "Gaussian copula: the follow-up's and the exit outcome's latent normals correlate with "
                "exit_correlation; each margin is its own logistic model"
            ),
            "random_effects": {},
            "unit_effects": {},
            "status_shares": {
                "arbeid_utdanning_1aar_1": dict(zip(map(int, IN_WORK_OR_EDUCATION[0]), IN_WORK_OR_EDUCATION[1])),
                "arbeid_utdanning_1aar_0": dict(zip(map(int, OUTSIDE[0]), OUTSIDE[1])),
                "utvandret": EMIGRATED_SHARE,
                "dod": f"{DIED_SHARE} of all, and every NIR exit with end reason Død",
            },
            "persistence": dict(persistence),
            "persistence_definition": (
                "share in work or education one year after (arbeid_utdanning_1aar = 1) among linked persons "
                "with a known follow-up outcome, by programme and maloppnaelse at exit (report_text variant); "
                "expected_share = mean of each person's probability given the outcome at exit"
            ),
        }
        if model.municipality_year_variance:
            variance = model.municipality_year_variance
            section["random_effects"]["kommune_aar"] = {
                "variance": variance,
                "icc": variance / (variance + math.pi**2 / 3),
            }
            section["unit_effects"]["kommune_aar"] = {
                f"{code}-{year}": float(environment.followup_municipality_effect[index])
                for year, environment in environments.items()
                for index, code in enumerate(environment.units.codes)
            }
        return section


def _writer(out_dir: Path, year: int) -> DelimitedWriter:
    path = out_dir / "register" / f"status_ett_aar_etter_{year}.csv"
    if year <= WINDOWS_1252_UNTIL:
        return DelimitedWriter(path, FOLLOWUP_COLUMNS, encoding="cp1252", line_terminator="\r\n")
    if year == SHUFFLED_COLUMNS_YEAR:
        return DelimitedWriter(path, SHUFFLED_COLUMNS)
    return DelimitedWriter(path, FOLLOWUP_COLUMNS, byte_order_marks=1)
