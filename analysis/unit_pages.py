"""Unit pages (warehouse.md "Unit pages"): what each municipality and project gets back.

A page per unit whose pooled contribution indicator is published (at least 5 participants, not
suppressed), and an index. The pages are views of the warehouse's tables — the indicators of
``analysis.contribution_indicators``, the status one year after exit of
``analysis.outcome_transitions`` and counts of ``marts.analysis_dataset``'s modelled rows — never
a second computation of a statistic. Small cells are withheld as in the tables (``<5``).

The pages carry the reports' Content-Security-Policy, which allows no script: the index is
therefore static, one page per sort order (name, programme, indicator, n), and a unit is found by
name or number with the browser's own search in a list that shows both. The charts are SVG drawn
from a template (hundreds of pages in seconds; matplotlib takes ~50 ms a figure), each with a
text alternative.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
from markupsafe import Markup

from analysis.specification import OUTCOME, SECOND_OUTCOME
from analysis.transitions import GROUP_ORDER
from iwh.reporting import N_, Column, Language, RunFacts, render, table
from iwh.reporting.language import MIN_CELL

TEMPLATE_DIR = Path(__file__).with_name("templates")
INDEX_PAGES = {
    "name": ("index.html", N_("name")),
    "programme": ("etter-program.html", N_("programme")),
    "indicator": ("etter-indikator.html", N_("indicator")),
    "n": ("etter-antall.html", N_("participants")),
}
UNIT_TYPE_NAMES = {"municipality": N_("Municipality"), "project": N_("Project")}
PROGRAMME_NAMES = {"jobbsjansen": "Jobbsjansen", "intro": N_("Introduction programme"), "all": N_("Both programmes")}
EXIT_STATUS_NAMES = {1: N_("reached work or education at exit"), 0: N_("did not reach it at exit")}
STATUS_GROUP_NAMES = {
    "arbeid_eller_utdanning": N_("in work or education"),
    "ikke_arbeid_eller_utdanning": N_("not in work or education"),
    "utvandret_eller_dod": N_("emigrated or dead"),
}
CLASSIFICATION_NAMES = {
    "above": N_("above expectation"),
    "in_line": N_("in line with expectation"),
    "below": N_("below expectation"),
}
# The composition shown beside the national one: the model's own variables in the report's labels,
# each as (label, category, order of the categories).
COMPOSITION_SQL = {
    N_("Gender"): ("case when kjonn_mann = 1 then 'Mann' when kjonn_mann = 0 then 'Kvinne' end", "kjonn_mann"),
    N_("Age"): (
        "case when alder < 25 then 'Under 25 år' when alder < 35 then '25–34 år' "
        "when alder < 45 then '35–44 år' else '45 år og over' end",
        "alder",
    ),
    N_("Region of origin"): ("region", "region"),
    N_("Track (education proxy)"): ("'Spor ' || spor", "spor"),
    N_("Norwegian level"): ("norsk_tier", "norsk_score"),
}
FUNNEL_Z = 1.645  # the indicators' own 90 % level
# Batches of unit pages for the report workers: several per worker, so one done early takes another.
PAGE_BATCHES = 8
# Chart geometry (SVG user units).
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 360, 56, 16, 16, 44
SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")

Record = dict[str, object]
UnitKey = tuple[str, str, str]
UNIT_KEY = ("unit_type", "unit_id", "programme")


@dataclass(frozen=True)
class Unit:
    unit_type: str
    unit_id: str
    programme: str
    name: str
    kommunenummer: str | None
    n: int
    contribution_pp: float
    classification: str
    file: str


@dataclass(frozen=True)
class FunnelScale:
    """The funnel plot of one unit type and programme: every published unit's pooled contribution
    against its n (log scale), and the range chance alone gives around 0 (binomial, 90 %). Drawn
    once; each unit's page adds its own point."""

    n_min: float
    n_max: float
    y_extent: float
    peers: Markup
    upper: str
    lower: str
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    zero_y: float
    count: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT

    @classmethod
    def of(cls, peers: pd.DataFrame, national_mean_pct: float, lang: Language) -> FunnelScale:
        p = min(max(national_mean_pct / 100, 0.01), 0.99)
        n_max = float(peers["n"].max()) * 1.05
        n_min = max(float(peers["n"].min()) * 0.9, 1.0)
        limit = [(n, FUNNEL_Z * 100 * math.sqrt(p * (1 - p) / n)) for n in _geometric(n_min, n_max, 40)]
        y_extent = min(max(float(peers["contribution_pp"].abs().max()), limit[-1][1]) * 1.1, 100.0)
        scale = cls(n_min, n_max, y_extent, Markup(""), "", "", [], [], 0.0, len(peers))
        points = "".join(
            f'<circle class="peer" cx="{scale.x(n):.1f}" cy="{scale.y(c):.1f}" r="3"/>'
            for n, c in zip(peers["n"], peers["contribution_pp"])
        )
        ticks = [n for n in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000) if n_min <= n <= n_max]
        return dataclasses.replace(
            scale,
            # Numbers only: the one piece of the page inserted as markup.
            peers=Markup(points),
            upper=" ".join(f"{scale.x(n):.1f},{scale.y(v):.1f}" for n, v in limit),
            lower=" ".join(f"{scale.x(n):.1f},{scale.y(-v):.1f}" for n, v in limit),
            x_ticks=[(round(scale.x(n), 1), lang.integer(n)) for n in ticks],
            y_ticks=[(round(scale.y(v), 1), lang.number(round(v, 6))) for v in _ticks(-y_extent, y_extent)],
            zero_y=round(scale.y(0.0), 1),
        )

    def x(self, n: float) -> float:
        span = math.log(self.n_max) - math.log(self.n_min)
        return LEFT + (math.log(max(n, self.n_min)) - math.log(self.n_min)) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        clipped = max(-self.y_extent, min(self.y_extent, value))
        return TOP + (self.y_extent - clipped) / (2 * self.y_extent) * (HEIGHT - TOP - BOTTOM)


@dataclass(frozen=True)
class FunnelChart:
    scale: FunnelScale
    highlight: tuple[float, float]
    title: str
    description: str


@dataclass
class UnitPages:
    directory: Path
    units: list[Unit] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return sorted([page for page, _ in INDEX_PAGES.values()] + [unit.file for unit in self.units])


def page_file(unit_type: str, unit_id: str) -> str:
    """A file name from a unit's id, which is delivered text: only letters, digits, - and _ survive."""
    prefix = "kommune" if unit_type == "municipality" else "prosjekt"
    return f"{prefix}-{SAFE_NAME.sub('_', unit_id)}.html"


def published_units(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Units with a published pooled indicator: n ≥ 5 and not suppressed (also not complementarily)."""
    return con.execute(
        f"""
        with names as (
            select kommunenummer, arg_max(kommunenavn, cohort_year) as kommunenavn
            from marts.municipality_year group by kommunenummer
        ),
        project_municipality as (
            select programme, prosjekt_id, arg_max(kommunenummer, cohort_year) as kommunenummer
            from marts.project_year group by programme, prosjekt_id
        )
        select
            indicators.unit_type,
            indicators.unit_id,
            indicators.programme,
            coalesce(names.kommunenavn, indicators.unit_id) as kommunenavn,
            coalesce(project_municipality.kommunenummer, indicators.unit_id) as kommunenummer,
            indicators.n,
            indicators.contribution_pp,
            indicators.classification
        from analysis.contribution_indicators as indicators
        left join project_municipality
            on indicators.unit_type = 'project'
            and indicators.programme = project_municipality.programme
            and indicators.unit_id = project_municipality.prosjekt_id
        left join names
            on names.kommunenummer = case when indicators.unit_type = 'project'
                then project_municipality.kommunenummer else indicators.unit_id end
        where indicators.period_type = 'pooled' and not indicators.suppressed and indicators.n >= {MIN_CELL}
            and indicators.outcome = '{OUTCOME}'
        order by indicators.unit_type, indicators.unit_id, indicators.programme
        """
    ).df()


def _units(frame: pd.DataFrame, lang: Language) -> list[Unit]:
    units = []
    for row in frame.to_dict("records"):
        municipality = row["unit_type"] == "municipality"
        name = (
            row["kommunenavn"]
            if municipality
            else lang._("%(project)s (%(municipality)s)", project=row["unit_id"], municipality=row["kommunenavn"])
        )
        units.append(
            Unit(
                unit_type=row["unit_type"],
                unit_id=row["unit_id"],
                programme=row["programme"],
                name=name,
                kommunenummer=row["kommunenummer"],
                n=int(row["n"]),
                contribution_pp=float(row["contribution_pp"]),
                classification=row["classification"],
                file=page_file(row["unit_type"], row["unit_id"]),
            )
        )
    return units


def _index_frame(units: Sequence[Unit], lang: Language, order: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "name": unit.name,
                "number": unit.unit_id,
                "unit_type": lang._(UNIT_TYPE_NAMES[unit.unit_type]),
                "programme": lang._(PROGRAMME_NAMES[unit.programme]),
                "n": unit.n,
                "contribution_pp": unit.contribution_pp,
                "classification": lang._(CLASSIFICATION_NAMES.get(unit.classification, "")),
                "href": unit.file,
            }
            for unit in units
        ]
    )
    if frame.empty:
        return frame
    keys = {
        "name": (["name", "number"], [True, True]),
        "programme": (["programme", "name"], [True, True]),
        "indicator": (["contribution_pp", "name"], [False, True]),
        "n": (["n", "name"], [False, True]),
    }[order]
    return frame.sort_values(keys[0], ascending=keys[1], kind="stable")


def _grouped(frame: pd.DataFrame, keys: Sequence[str]) -> dict[tuple, list[Record]]:
    """The frame's records by their values of ``keys``, each group in the frame's order."""
    groups: dict[tuple, list[Record]] = {}
    for record in frame.to_dict("records"):
        groups.setdefault(tuple(record[key] for key in keys), []).append(record)
    return groups


@dataclass(frozen=True)
class _Tables:
    """What the pages show, read once for all units and grouped by unit: the indicator rows, the
    composition beside the national one, and the follow-up transitions (when that table has
    municipality rows). Records rather than a DataFrame per unit: hundreds of pages of small
    tables spent most of their time in pandas' overhead."""

    indicators: dict[UnitKey, list[Record]]
    # The contribution to the status one year after exit (the follow-up's outcome), once delivered.
    later_indicators: dict[UnitKey, list[Record]]
    composition: dict[UnitKey, list[Record]]
    follow_up: dict[str, list[Record]]
    pooled: pd.DataFrame

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> _Tables:
        indicators = con.execute(
            """
            select outcome, unit_type, unit_id, programme,
                case when period_type = 'pooled' then null else cohort_year end as cohort_year,
                period_type, n, actual_pct, expected_pct, contribution_pp, ci_low_pp, ci_high_pp,
                shrunken_pp, classification, national_mean_pct, suppressed
            from analysis.contribution_indicators
            order by unit_type, unit_id, programme, period_type = 'year', cohort_year
            """
        ).df()
        later = indicators[indicators["outcome"] == SECOND_OUTCOME]
        indicators = indicators[indicators["outcome"] == OUTCOME]
        pooled = indicators[
            (indicators["period_type"] == "pooled") & ~indicators["suppressed"] & (indicators["n"] >= MIN_CELL)
        ]
        composition = con.execute(_composition_query()).df()
        return cls(
            indicators=_grouped(indicators, UNIT_KEY),
            later_indicators=_grouped(later, UNIT_KEY),
            composition=_grouped(composition, UNIT_KEY),
            follow_up=_follow_up_by_municipality(con),
            pooled=pooled,
        )

    def of(self, units: Sequence[Unit]) -> _Tables:
        """The rows of ``units`` only (what their pages show; not the peers of the funnels)."""
        keys = {(unit.unit_type, unit.unit_id, unit.programme) for unit in units}
        municipalities = {unit.unit_id for unit in units if unit.unit_type == "municipality"}
        return _Tables(
            indicators={key: rows for key, rows in self.indicators.items() if key in keys},
            later_indicators={key: rows for key, rows in self.later_indicators.items() if key in keys},
            composition={key: rows for key, rows in self.composition.items() if key in keys},
            follow_up={key: rows for key, rows in self.follow_up.items() if key in municipalities},
            pooled=self.pooled.iloc[:0],
        )


def _composition_query() -> str:
    """Per unit (a municipality with both programmes, as its indicator; a project) and category of
    each characteristic: the unit's modelled participants and the national ones of the same
    programme(s), with their shares; the unit's cells of 1–4 persons withheld."""
    long = " union all ".join(
        f"select kommunenummer, prosjekt_id, programme, {order} as characteristic_order, "
        f"'{characteristic}' as characteristic, {expression} as category, {sort} as category_order "
        "from marts.analysis_dataset where complete_case"
        for order, (characteristic, (expression, sort)) in enumerate(COMPOSITION_SQL.items())
    )
    return f"""
        with long as ({long}),
        unit_counts as (
            select 'municipality' as unit_type, kommunenummer as unit_id, 'all' as programme,
                characteristic, category, count(*) as n
            from long where kommunenummer is not null group by all
            union all
            select 'project', prosjekt_id, programme, characteristic, category, count(*)
            from long where prosjekt_id is not null group by all
        ),
        national as (
            select programme, characteristic_order, characteristic, category, count(*) as n,
                min(category_order) as category_order
            from long group by programme, characteristic_order, characteristic, category
            union all
            select 'all', characteristic_order, characteristic, category, count(*), min(category_order)
            from long group by characteristic_order, characteristic, category
        ),
        units as (select distinct unit_type, unit_id, programme from unit_counts),
        cells as (
            select units.unit_type, units.unit_id, units.programme, national.characteristic_order,
                national.category_order, national.characteristic, national.category, coalesce(unit_counts.n, 0) as unit_n,
                national.n as national_n
            from units
            inner join national on units.programme = national.programme
            left join unit_counts
                on units.unit_type = unit_counts.unit_type and units.unit_id = unit_counts.unit_id
                and units.programme = unit_counts.programme and national.characteristic = unit_counts.characteristic
                and national.category = unit_counts.category
            where national.category is not null
        )
        select unit_type, unit_id, programme, characteristic, category,
            unit_n between 1 and {MIN_CELL - 1} as suppressed,
            case when unit_n between 1 and {MIN_CELL - 1} then null else unit_n end as unit_n,
            case when unit_n between 1 and {MIN_CELL - 1} then null
                else unit_n / sum(unit_n) over (partition by unit_type, unit_id, programme, characteristic) end
                as unit_share,
            national_n / sum(national_n) over (partition by unit_type, unit_id, programme, characteristic)
                as national_share
        from cells
        order by unit_type, unit_id, programme, characteristic_order, category_order, category
    """


def _follow_up_by_municipality(con: duckdb.DuckDBPyConnection) -> dict[str, list[Record]]:
    """Each municipality's pooled rows of analysis.outcome_transitions (both programmes): status at
    exit × status one year after, once the follow-up has arrived."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'analysis' "
        "and table_name = 'outcome_transitions'"
    ).fetchone()[0]
    if not exists:
        return {}
    frame = con.execute(
        """
        select kommunenummer, maloppnaelse, status_1aar_gruppe, n, share_pct, suppressed
        from analysis.outcome_transitions
        where level = 'municipality' and programme = 'alle' and period_type = 'pooled'
        order by kommunenummer, maloppnaelse desc
        """
    ).df()
    order = {group: i for i, group in enumerate(GROUP_ORDER)}
    frame = frame.sort_values(
        ["kommunenummer", "maloppnaelse", "status_1aar_gruppe"],
        ascending=[True, False, True],
        key=lambda column: column.map(order) if column.name == "status_1aar_gruppe" else column,
        kind="stable",
    )
    return {str(municipality): rows for (municipality,), rows in _grouped(frame, ["kommunenummer"]).items()}


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low or 1.0
    step = 10 ** math.floor(math.log10(span / count))
    for multiple in (1, 2, 5, 10):
        if span / (step * multiple) <= count:
            step *= multiple
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def funnel_chart(scale: FunnelScale, unit: Unit, lang: Language) -> FunnelChart:
    return FunnelChart(
        scale=scale,
        highlight=(round(scale.x(unit.n), 1), round(scale.y(unit.contribution_pp), 1)),
        title=lang._("The unit among all units (funnel plot)"),
        description=lang._(
            "%(name)s: contribution %(contribution)s percentage points with %(n)s participants, among "
            "%(units)s units. The funnel marks the range expected from chance alone (90 %%).",
            name=unit.name,
            contribution=lang.decimal(unit.contribution_pp, 1),
            n=lang.integer(unit.n),
            units=lang.integer(scale.count),
        ),
    )


def _geometric(low: float, high: float, steps: int) -> list[float]:
    ratio = (high / low) ** (1 / (steps - 1))
    return [low * ratio**i for i in range(steps)]


def write_unit_pages(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    lang: Language,
    run: RunFacts,
    pool: concurrent.futures.Executor | None = None,
) -> UnitPages:
    """Write every published unit's page and the index pages into ``directory``; with ``pool``
    (analysis.report_workers), the units' pages are written by its processes."""
    units = _units(published_units(con), lang)
    tables = _Tables.read(con)
    funnels = {
        key: FunnelScale.of(peers, float(peers["national_mean_pct"].iloc[0]), lang)
        for key, peers in tables.pooled.groupby(["unit_type", "programme"])
    }
    pending = []
    if pool is None:
        _write_unit_page_batch(tables, funnels, directory, units, lang, run)
    else:
        # Interleaved, so each batch has a share of the large units; each takes only its units' rows.
        batches = [units[start::PAGE_BATCHES] for start in range(min(PAGE_BATCHES, len(units)))]
        pending = [
            pool.submit(_write_unit_page_batch, tables.of(batch), funnels, directory, batch, lang, run)
            for batch in batches
        ]
    try:
        for order in INDEX_PAGES:
            _write_index(directory, units, lang, run, order)
    finally:
        # Whatever failed, no page is still being written once this returns.
        concurrent.futures.wait(pending)
    for future in pending:
        future.result()
    return UnitPages(directory, units)


def _write_unit_page_batch(
    tables: _Tables,
    funnels: dict[tuple[str, str], FunnelScale],
    directory: Path,
    units: Sequence[Unit],
    lang: Language,
    run: RunFacts,
) -> None:
    for unit in units:
        _write_unit_page(tables, funnels, directory, unit, lang, run)


def _write_index(directory: Path, units: list[Unit], lang: Language, run: RunFacts, order: str) -> None:
    columns = [
        Column("name", lang._("Name"), href="href"),
        Column("number", lang._("Number")),
        Column("unit_type", lang._("Unit")),
        Column("programme", lang._("Programme")),
        Column("n", lang._("Participants"), "integer"),
        Column("contribution_pp", lang._("Contribution (pp)"), "decimal", digits=1),
        Column("classification", lang._("Classification")),
    ]
    sorts = [(file, lang._(label), key == order) for key, (file, label) in INDEX_PAGES.items()]
    html = render(
        TEMPLATE_DIR,
        "unit_index.html",
        lang,
        title=lang._("Results per municipality and project"),
        run=run,
        sorts=sorts,
        units=table(lang, _index_frame(units, lang, order), columns, table_id="enheter"),
        count=len(units),
    )
    (directory / INDEX_PAGES[order][0]).write_text(html, encoding="utf-8")


def _indicator_table(rows: list[Record], lang: Language, table_id: str):
    rows = [
        {
            **row,
            "period": lang._("All years") if row["period_type"] == "pooled" else str(int(row["cohort_year"])),
            "interval": ""
            if pd.isna(row["ci_low_pp"])
            else lang._(
                "%(low)s to %(high)s", low=lang.decimal(row["ci_low_pp"], 1), high=lang.decimal(row["ci_high_pp"], 1)
            ),
            "classification_text": lang._(CLASSIFICATION_NAMES[row["classification"]])
            if isinstance(row["classification"], str) and row["classification"] in CLASSIFICATION_NAMES
            else "",
        }
        for row in rows
    ]
    return table(
        lang,
        rows,
        [
            Column("period", lang._("Period")),
            Column("n", lang._("Participants"), "count"),
            Column("actual_pct", lang._("Actual (%)"), "percent_of_100", digits=1),
            Column("expected_pct", lang._("Expected (%)"), "percent_of_100", digits=1),
            Column("contribution_pp", lang._("Contribution (pp)"), "decimal", digits=1),
            Column("interval", lang._("90 % interval (pp)")),
            Column("shrunken_pp", lang._("Shrunken (pp)"), "decimal", digits=1),
            Column("classification_text", lang._("Classification")),
        ],
        table_id=table_id,
        suppressed="suppressed",
    )


def _transition_table(rows: list[Record], lang: Language):
    rows = [
        {
            **row,
            "at_exit": lang._(EXIT_STATUS_NAMES[int(row["maloppnaelse"])]),
            "a_year_later": lang._(STATUS_GROUP_NAMES[row["status_1aar_gruppe"]]),
        }
        for row in rows
    ]
    return table(
        lang,
        rows,
        [
            Column("at_exit", lang._("At exit")),
            Column("a_year_later", lang._("One year later")),
            Column("n", lang._("Participants"), "count"),
            Column("share_pct", lang._("Share of those with that status at exit"), "percent_of_100", digits=1),
        ],
        table_id="ett-aar-etter",
        suppressed="suppressed",
    )


def _write_unit_page(
    tables: _Tables,
    funnels: dict[tuple[str, str], FunnelScale],
    directory: Path,
    unit: Unit,
    lang: Language,
    run: RunFacts,
) -> None:
    key = (unit.unit_type, unit.unit_id, unit.programme)
    chart = funnel_chart(funnels[(unit.unit_type, unit.programme)], unit, lang)
    composition = [
        {**row, "characteristic_text": lang._(row["characteristic"])} for row in tables.composition.get(key, [])
    ]
    transitions = tables.follow_up.get(unit.unit_id) if unit.unit_type == "municipality" else None
    later = tables.later_indicators.get(key)
    html = render(
        TEMPLATE_DIR,
        "unit_page.html",
        lang,
        title=f"{unit.name} — {lang._(PROGRAMME_NAMES[unit.programme])}",
        run=run,
        unit=unit,
        unit_type=lang._(UNIT_TYPE_NAMES[unit.unit_type]),
        indicators=_indicator_table(tables.indicators[key], lang, "indikatorer"),
        chart=chart,
        composition=table(
            lang,
            composition,
            [
                Column("characteristic_text", lang._("Characteristic")),
                Column("category", lang._("Category")),
                Column("unit_n", lang._("Participants here"), "count"),
                Column("unit_share", lang._("Share here"), "percent", digits=1),
                Column("national_share", lang._("Share nationally"), "percent", digits=1),
            ],
            table_id="sammensetning",
            suppressed="suppressed",
        ),
        later_indicators=None if later is None else _indicator_table(later, lang, "indikatorer-ett-aar-etter"),
        transitions=None if transitions is None else _transition_table(transitions, lang),
    )
    (directory / unit.file).write_text(html, encoding="utf-8")
