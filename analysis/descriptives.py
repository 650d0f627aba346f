"""The report's descriptive chapter (models.md "Descriptive chapter"): table 1, figures 2–19 and
tables 3–4, per cohort year and pooled, by programme and for both together, as analysis.descriptives.

The population is every ended participation in the Jobbsjansen scope (marts.analysis_dataset's
``outside_js_scope``) whose outcome is known; a missing characteristic is its own category,
``Mangler``. Cells of 1–4 persons (or units) are suppressed, and further cells where a published
total would reveal a suppressed one (``suppressed`` true, numbers NULL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from iwh.vocabulary import NORSK_TIERS, REGIONS, TILTAK_COLUMNS

OUTCOME = "maloppnaelse"
PROGRAMMES = ("jobbsjansen", "intro")
ALL_PROGRAMMES = "alle"
MISSING = "Mangler"
# A cell describing 1–4 persons is not published (as quality.missingness and the contribution indicators).
MIN_CELL = 5
# Tables 3 and 4 count a municipality or project in a year when it had more than 10 ended participants.
MIN_UNIT_PARTICIPANTS_EXCLUSIVE = 10

COLUMNS = [
    "table_id",
    "programme",
    "cohort_year",
    "characteristic",
    "category",
    "category_order",
    "n",
    "share_pct",
    "outcome_pct",
    "median",
    "outcome",
    "suppressed",
]

# Columns of marts.analysis_dataset this module reads.
INPUT_COLUMNS = [
    "programme",
    "cohort_year",
    "excluded_reason",
    OUTCOME,
    "overgang",
    "kjonn_mann",
    "botid",
    "alder",
    "norsk_tier",
    "spor",
    "region",
    "varighet_mnd",
    "fravaer_hoy",
    *TILTAK_COLUMNS,
    "kommunenummer",
    "prosjekt_id",
    "folkemengde",
    "andel_innvandrere",
    "andel_utvalgte_naeringer",
    "nettoinnflytting",
    "andel_sysselsatte",
    "andel_uforetrygdede",
    "sentralitet",
    "lonn_per_deltaker_1000kr",
]
# Columns of marts.project_year (table 4).
PROJECT_YEAR_COLUMNS = ["programme", "prosjekt_id", "cohort_year", "antall_deltakere", "lonnsutgifter_1000kr"]

KJONN = {0: "Kvinne", 1: "Mann"}
SPOR = {1: "Liten eller ingen skolegang", 2: "En del skolegang", 3: "God allmennutdanning"}
FRAVAER = {0: "Under 10 % fravær", 1: "10 % fravær eller mer"}
# Figure 8's age groups as the report's text names them.
AGE_GROUPS = [(0, 19, "Under 20 år"), (20, 29, "20–29 år"), (30, 39, "30–39 år"), (40, 59, "40–59 år")]
AGE_OLDEST = (60, "60 år og over")
# Figure 19: the measure groups as the report's tables 10–13 name them.
TILTAK_LABELS = {
    "tiltak_norskopplaering": "Norskopplæring",
    "tiltak_samfunnskunnskap": "Samfunnskunnskap",
    "tiltak_sprakpraksis": "Språkpraksis",
    "tiltak_yrkesrettet_kurs": "Yrkesrettede kurs",
    "tiltak_ordinaert_arbeid": "Ordinært arbeid/Deltidsarbeid gjennom deltakelsen",
    "tiltak_arbeidspraksis_skjermet": "Arbeidspraksis i skjermet virksomhet",
    "tiltak_arbeidspraksis_ordinaer": "Arbeidspraksis i ordinær virksomhet",
    "tiltak_amo_kurs": "Arbeidsmarkedsopplæring (AMO-kurs)",
    "tiltak_sosialt_nettverk": "Tiltak som fremmer sosialt nettverk",
    "tiltak_helsefremmende": "Helsefremmende tiltak/ fysisk fostring",
    "tiltak_barn_familie": "Tiltak knyttet til barn og familie",
    "tiltak_kultur_fritid": "Kultur- og fritidstiltak",
    "tiltak_realkompetanse": "Godkjenning/ Realkompetansevurdering av tidligere utdanning",
    "tiltak_grunnskolefag": "Grunnskole for voksne",
    "tiltak_fag_vgo": "Videregående opplæring inkl. enkeltfag",
}
OVERGANG = ("arbeid", "utdanning", "totalt")

# Tables 3 and 4: (column, the row label the report prints).
MUNICIPALITY_ROWS = [
    ("folkemengde", "Befolkning"),
    ("andel_innvandrere", "Innvandrerandel"),
    ("andel_utvalgte_naeringer", "Andel næringer i utvalgte bransjer"),
    ("nettoinnflytting", "Nettoinnflytting per 1000"),
    ("andel_sysselsatte", "Andel sysselsatte"),
    ("andel_uforetrygdede", "Andel uføretrygdet"),
    ("sentralitet", "Sentralitet"),
]
PROJECT_ROWS = [
    ("antall_deltakere", "Antall deltakere"),
    ("lonnsutgifter_1000kr", "Lønnsutgifter pr. prosjekt (1000 kr)"),
    ("lonn_per_deltaker_1000kr", "Lønnsutgifter pr. deltaker (1000 kr)"),
]
UNITS_ROW = ("enheter", "N")


def descriptive_sample(dataset: pd.DataFrame) -> pd.DataFrame:
    """The ended participations the chapter describes: in the Jobbsjansen scope, outcome known."""
    keep = dataset["excluded_reason"].ne("outside_js_scope").to_numpy() & dataset[OUTCOME].notna().to_numpy()
    # Only the chapter's columns are copied: the dataset the models read has twice as many.
    columns = [column for column in INPUT_COLUMNS if column in dataset.columns]
    return dataset.loc[keep, columns].reset_index(drop=True)


def _labelled(values: pd.Series, labels: dict) -> pd.Series:
    return values.map(labels).fillna(MISSING)


def age_groups(alder: pd.Series) -> pd.Series:
    edges = [low for low, _, _ in AGE_GROUPS] + [AGE_OLDEST[0], np.inf]
    labels = [label for _, _, label in AGE_GROUPS] + [AGE_OLDEST[1]]
    return pd.cut(alder, edges, right=False, labels=labels).astype(object).fillna(MISSING)


def _number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def quantile_groups(values: pd.Series, groups: int, name: str, unit: str, decimals: int) -> pd.Series:
    """Figures 6 and 16 group botid into quartiles and duration into fifths. The cut points are those
    of every person described (all years, both programmes), so a group means the same in every
    column; a label names its range, e.g. ``1. kvartil (til 1,8 år)``."""
    known = values.dropna()
    if known.empty:
        return pd.Series(MISSING, index=values.index, dtype=object)
    edges = np.unique(np.quantile(known, np.linspace(0, 1, groups + 1)))
    if edges.size < 2:
        edges = np.array([edges[0], edges[0]])
    inner = edges[1:-1]
    codes = np.searchsorted(inner, values.to_numpy(dtype=float), side="left")
    labels = []
    for index in range(inner.size + 1):
        if inner.size == 0:
            span = f"{_number(edges[0], decimals)}–{_number(edges[-1], decimals)} {unit}"
        elif index == 0:
            span = f"til {_number(inner[0], decimals)} {unit}"
        elif index == inner.size:
            span = f"over {_number(inner[-1], decimals)} {unit}"
        else:
            span = f"{_number(inner[index - 1], decimals)}–{_number(inner[index], decimals)} {unit}"
        labels.append(f"{index + 1}. {name} ({span})")
    labelled = np.array(labels, dtype=object)[np.minimum(codes, inner.size)]
    return pd.Series(np.where(values.isna(), MISSING, labelled), index=values.index, dtype=object)


def _groups_in_order(groups: pd.Series) -> list[str]:
    """Quantile group labels start with their number, so they sort in order (up to nine groups)."""
    return sorted(set(groups) - {MISSING})


def _characteristics(sample: pd.DataFrame) -> list[tuple[tuple[str, ...], str, pd.Series, list[str]]]:
    """(table ids, characteristic, category per person, category order) of figures 3–18. Each
    characteristic is one distribution figure and one goal-achievement figure over the same cells."""
    botid = quantile_groups(sample["botid"], 4, "kvartil", "år", 1)
    varighet = quantile_groups(sample["varighet_mnd"], 5, "femdel", "mnd.", 0)
    return [
        (("figur_3", "figur_4"), "kjonn", _labelled(sample["kjonn_mann"], KJONN), list(KJONN.values())),
        (("figur_5", "figur_6"), "botid", botid, _groups_in_order(botid)),
        (
            ("figur_7", "figur_8"),
            "alder",
            age_groups(sample["alder"]),
            [label for _, _, label in AGE_GROUPS] + [AGE_OLDEST[1]],
        ),
        (("figur_9", "figur_10"), "norsk_tier", sample["norsk_tier"].fillna(MISSING), list(NORSK_TIERS)),
        (("figur_11", "figur_12"), "spor", _labelled(sample["spor"], SPOR), list(SPOR.values())),
        (("figur_13", "figur_14"), "region", sample["region"].fillna(MISSING), list(REGIONS)),
        (("figur_15", "figur_16"), "varighet", varighet, _groups_in_order(varighet)),
        (("figur_17", "figur_18"), "fravaer", _labelled(sample["fravaer_hoy"], FRAVAER), list(FRAVAER.values())),
    ]


def _with_totals(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Counts by programme and cohort year, plus both programmes together (`alle`) and every year
    pooled (cohort_year NULL). ``counts`` has programme, cohort_year, ``keys``, n, achieved."""
    values = ["n", "achieved"]
    both = counts.groupby(["cohort_year", *keys], as_index=False, dropna=False)[values].sum()
    both.insert(0, "programme", ALL_PROGRAMMES)
    by_year = pd.concat([counts, both], ignore_index=True)
    pooled = by_year.groupby(["programme", *keys], as_index=False, dropna=False)[values].sum()
    pooled["cohort_year"] = pd.NA
    out = pd.concat([by_year, pooled], ignore_index=True)
    out["cohort_year"] = out["cohort_year"].astype("Int64")
    return out


@dataclass(frozen=True)
class _Keys:
    """Each person's programme and cohort year as integer codes, and the outcome: computed once,
    since every cell of the chapter is counted from them."""

    programme: np.ndarray
    programmes: np.ndarray
    year: np.ndarray
    years: np.ndarray
    achieved: np.ndarray

    @classmethod
    def of(cls, sample: pd.DataFrame) -> _Keys:
        programme, programmes = pd.factorize(sample["programme"])
        year, years = pd.factorize(sample["cohort_year"])
        achieved = sample[OUTCOME].to_numpy(dtype=float)
        return cls(programme, np.asarray(programmes, dtype=object), year, np.asarray(years), achieved)


def _count(keys: _Keys, category: pd.Series | str, received: pd.Series | None = None) -> pd.DataFrame:
    """Persons and achievers per programme, cohort year and category (one category for everyone when
    ``category`` is a label; only ``received`` = 1 rows when given), with the totals of
    ``_with_totals``. Counted with bincount on integer codes: at scale 100 this runs over about two
    million rows some thirty times."""
    if isinstance(category, str):
        code, categories = np.zeros(keys.programme.size, dtype=np.intp), np.array([category], dtype=object)
    else:
        code, categories = pd.factorize(category)
    keep = np.ones(keys.programme.size, dtype=bool) if received is None else received.to_numpy() == 1
    shape = (keys.programmes.size, keys.years.size, len(categories))
    key = np.ravel_multi_index((keys.programme[keep], keys.year[keep], code[keep]), shape)
    size = int(np.prod(shape))
    n = np.bincount(key, minlength=size)
    achieved = np.bincount(key, weights=keys.achieved[keep], minlength=size)
    present = np.flatnonzero(n)
    p, y, c = np.unravel_index(present, shape)
    counts = pd.DataFrame(
        {
            "programme": keys.programmes[p],
            "cohort_year": keys.years[y],
            "category": np.asarray(categories, dtype=object)[c],
            "n": n[present],
            "achieved": achieved[present],
        }
    )
    return _with_totals(counts, ["category"])


def _persons(keys: _Keys) -> pd.DataFrame:
    persons = _count(keys, "Totalt")
    return persons.drop(columns="category").rename(columns={"n": "persons", "achieved": "persons_achieved"})


def _cells(
    table_ids: tuple[str, ...], characteristic: str, counts: pd.DataFrame, persons: pd.DataFrame, order: list[str]
) -> pd.DataFrame:
    cells = counts.merge(persons, on=["programme", "cohort_year"], how="left")
    cells["share_pct"] = 100.0 * cells["n"] / cells["persons"]
    cells["outcome_pct"] = 100.0 * cells["achieved"] / cells["n"]
    rank = {label: index for index, label in enumerate([*order, MISSING])}
    cells["category_order"] = cells["category"].map(rank).fillna(len(rank)).astype(int) + 1
    cells["characteristic"] = characteristic
    cells["relation"] = characteristic
    return pd.concat([cells.assign(table_id=table_id) for table_id in table_ids], ignore_index=True)


def _table_1(sample: pd.DataFrame, keys: _Keys, persons: pd.DataFrame) -> pd.DataFrame:
    kind = sample["overgang"].where(keys.achieved == 1)
    parts = [_count(keys, kind.fillna("-")), _count(keys, "totalt")]
    counts = pd.concat(parts, ignore_index=True)
    # Every person of the "totalt" cell achieved the goal, so its count is the achievers.
    totalt = counts["category"] == "totalt"
    counts.loc[totalt, "n"] = counts.loc[totalt, "achieved"]
    # Every programme-year has all three rows, zero when nobody made that transition.
    grid = persons[["programme", "cohort_year"]].merge(pd.DataFrame({"category": OVERGANG}), how="cross")
    cells = grid.merge(counts, on=["programme", "cohort_year", "category"], how="left")
    cells[["n", "achieved"]] = cells[["n", "achieved"]].fillna(0)
    cells = cells.merge(persons, on=["programme", "cohort_year"], how="left")
    cells["share_pct"] = 100.0 * cells["n"] / cells["persons"]
    cells["outcome_pct"] = cells["share_pct"]
    cells["category_order"] = cells["category"].map({c: i + 1 for i, c in enumerate(OVERGANG)})
    cells["characteristic"] = "overgang"
    cells["relation"] = "overgang"
    cells["table_id"] = "tabell_1"
    return cells


def _figure_2(persons: pd.DataFrame) -> pd.DataFrame:
    cells = persons.rename(columns={"persons": "n", "persons_achieved": "achieved"})
    cells["share_pct"] = 100.0
    cells["outcome_pct"] = 100.0 * cells["achieved"] / cells["n"]
    return cells.assign(
        table_id="figur_2", characteristic=OUTCOME, category="Totalt", category_order=1, relation="persons"
    )


def _figure_19(sample: pd.DataFrame, keys: _Keys, persons: pd.DataFrame) -> pd.DataFrame:
    frames = [_count(keys, TILTAK_LABELS[column], sample[column]) for column in TILTAK_COLUMNS]
    counts = pd.concat(frames, ignore_index=True)
    cells = _cells(("figur_19",), "tiltak", counts, persons, list(TILTAK_LABELS.values()))
    cells["relation"] = None  # measures overlap: their counts add up to nothing published
    return cells


def suppress(cells: pd.DataFrame) -> pd.Series:
    """Which cells to suppress: those of 1–4 persons, then, until nothing changes, one more cell of
    every relation "parts add up to a published total" in which exactly one cell is hidden (it could
    be recovered by subtraction). Relations: the categories of a characteristic and the
    programme-year's persons (figure 2), work + education and total (table 1), the cohort years and
    the pooled cell, the two programmes and `alle`. The cell added is the smallest non-empty part,
    except between programmes, where `alle` goes first: the report shows the programmes side by
    side, and hiding a large programme's cell to protect a few Jobbsjansen men would empty its
    figure. The total goes when no part can.

    ``cells`` has table_id, programme, cohort_year, category, n and ``relation`` (the name of the
    set of categories that add up to the persons, ``persons`` for figure 2, NULL when the categories
    overlap)."""
    frame = cells.reset_index(drop=True)
    hidden = ((frame["n"] > 0) & (frame["n"] < MIN_CELL)).to_numpy().copy()
    year = frame["cohort_year"].astype("Int64").fillna(-1)
    pooled = (year == -1).to_numpy()
    is_total_programme = (frame["programme"] == ALL_PROGRAMMES).to_numpy()
    relation = frame["relation"]
    persons = frame.index[relation == "persons"]
    persons_cell = dict(zip(zip(frame.loc[persons, "programme"], year[persons]), persons))
    # (parts, total, whether to hide the total before a part)
    groups: list[tuple[np.ndarray, int, bool]] = []
    within = relation.notna() & (relation != "persons")
    for (_, programme, cohort_year), members in (
        frame[within].groupby(["table_id", "programme", year[within]], sort=False).groups.items()
    ):
        members = np.asarray(members)
        if (relation[members] == "overgang").all():
            is_total = (frame.loc[members, "category"] == "totalt").to_numpy()
            if is_total.any():
                groups.append((members[~is_total], members[is_total][0], False))
        elif (programme, cohort_year) in persons_cell:
            groups.append((members, persons_cell[(programme, cohort_year)], False))
    for _, members in frame.groupby(["table_id", "programme", "category"], sort=False).groups.items():
        members = np.asarray(members)
        totals = members[pooled[members]]
        if totals.size:
            groups.append((members[~pooled[members]], totals[0], False))
    for _, members in frame.groupby(["table_id", year, "category"], sort=False).groups.items():
        members = np.asarray(members)
        totals = members[is_total_programme[members]]
        if totals.size:
            groups.append((members[~is_total_programme[members]], totals[0], True))

    n = frame["n"].to_numpy()
    changed = True
    while changed:
        changed = False
        for parts, total, total_first in groups:
            if hidden[parts].sum() + hidden[total] != 1:
                continue
            candidates = parts[~hidden[parts] & (n[parts] > 0)]
            if not hidden[total] and (total_first or candidates.size == 0):
                hidden[total] = True
            elif candidates.size:
                hidden[candidates[np.argmin(n[candidates])]] = True
            else:
                continue
            changed = True
    return pd.Series(hidden, index=cells.index)


def _unit_medians(
    table_id: str, units: pd.DataFrame, rows: list[tuple[str, str]], programme_column: str
) -> pd.DataFrame:
    """Medians of unit-years per programme and cohort year and pooled; ``programme_column`` names
    the column holding each unit-year's programme (a municipality has one row per programme it ran)."""
    out = []
    scopes = [(programme, units[units[programme_column] == programme]) for programme in PROGRAMMES]
    scopes.append((ALL_PROGRAMMES, units.drop_duplicates(["unit", "cohort_year"])))
    for programme, frame in scopes:
        for cohort_year, part in [(None, frame), *frame.groupby("cohort_year")]:
            out.append(
                {
                    "programme": programme,
                    "cohort_year": cohort_year,
                    "characteristic": UNITS_ROW[0],
                    "category": UNITS_ROW[1],
                    "n": len(part),
                    "median": np.nan,
                }
            )
            for column, label in rows:
                values = part[column].dropna()
                out.append(
                    {
                        "programme": programme,
                        "cohort_year": cohort_year,
                        "characteristic": column,
                        "category": label,
                        "n": len(values),
                        "median": float(values.median()) if len(values) else np.nan,
                    }
                )
    table = pd.DataFrame(out)
    table["table_id"] = table_id
    order = {label: index + 1 for index, (_, label) in enumerate([UNITS_ROW, *rows])}
    table["category_order"] = table["category"].map(order)
    table["cohort_year"] = table["cohort_year"].astype("Int64")
    table["suppressed"] = (table["n"] > 0) & (table["n"] < MIN_CELL)
    return table


def _table_3(sample: pd.DataFrame) -> pd.DataFrame:
    """Municipality-years with more than 10 described participants (both programmes), once for each
    programme the municipality ran that year."""
    context = [column for column, _ in MUNICIPALITY_ROWS]
    sizes = sample.groupby(["kommunenummer", "cohort_year"])["programme"].transform("size")
    eligible = sample[sizes > MIN_UNIT_PARTICIPANTS_EXCLUSIVE]
    units = eligible.groupby(["kommunenummer", "cohort_year", "programme"], as_index=False)[context].first()
    return _unit_medians("tabell_3", units.rename(columns={"kommunenummer": "unit"}), MUNICIPALITY_ROWS, "programme")


def _table_4(sample: pd.DataFrame, project_year: pd.DataFrame | None) -> pd.DataFrame:
    """Project-years with more than 10 described participants."""
    keys = ["programme", "prosjekt_id", "cohort_year"]
    sizes = sample.groupby(keys)["programme"].transform("size")
    eligible = sample[sizes > MIN_UNIT_PARTICIPANTS_EXCLUSIVE]
    units = eligible.groupby(keys, as_index=False)["lonn_per_deltaker_1000kr"].first()
    accounts = (
        project_year[PROJECT_YEAR_COLUMNS] if project_year is not None else pd.DataFrame(columns=PROJECT_YEAR_COLUMNS)
    )
    units = units.merge(accounts, on=keys, how="left")
    units["unit"] = units["programme"] + ":" + units["prosjekt_id"]
    return _unit_medians("tabell_4", units, PROJECT_ROWS, "programme")


def descriptives_table(
    dataset: pd.DataFrame,
    project_year: pd.DataFrame | None = None,
    run_id: str | None = None,
    outcome_variant: str | None = None,
    js_scope: str | None = None,
) -> pd.DataFrame:
    """analysis.descriptives from marts.analysis_dataset (``INPUT_COLUMNS``) and marts.project_year
    (``PROJECT_YEAR_COLUMNS``, table 4)."""
    sample = descriptive_sample(dataset)
    keys = _Keys.of(sample)
    persons = _persons(keys)
    person_cells = [_figure_2(persons), _table_1(sample, keys, persons)]
    for table_ids, characteristic, categories, order in _characteristics(sample):
        person_cells.append(_cells(table_ids, characteristic, _count(keys, categories), persons, order))
    person_cells.append(_figure_19(sample, keys, persons))
    cells = pd.concat(person_cells, ignore_index=True)
    cells["n"] = cells["n"].astype(int)
    cells["suppressed"] = suppress(cells)
    cells["median"] = np.nan

    units = pd.concat([_table_3(sample), _table_4(sample, project_year)], ignore_index=True)
    table = pd.concat([cells, units], ignore_index=True)
    hidden = table["suppressed"].astype(bool)
    table.loc[hidden, ["n", "share_pct", "outcome_pct", "median"]] = np.nan
    table["n"] = table["n"].astype("Int64")
    table["outcome"] = OUTCOME
    table_order = {table_id: index for index, table_id in enumerate(TABLE_IDS)}
    programme_order = {programme: index for index, programme in enumerate([*PROGRAMMES, ALL_PROGRAMMES])}
    table = table.assign(
        _table=table["table_id"].map(table_order),
        _programme=table["programme"].map(programme_order),
        _year=table["cohort_year"].fillna(9999),  # pooled after the years
    ).sort_values(["_table", "_programme", "_year", "category_order", "category"], kind="stable")
    table = table[COLUMNS].reset_index(drop=True)
    table["category_order"] = table["category_order"].astype(int)
    table["suppressed"] = table["suppressed"].astype(bool)
    table["js_scope"] = js_scope
    table["run_id"] = run_id
    table["outcome_variant"] = outcome_variant
    return table


TABLE_IDS = ["tabell_1", *(f"figur_{number}" for number in range(2, 20)), "tabell_3", "tabell_4"]
