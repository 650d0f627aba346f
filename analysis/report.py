"""The analysis report: one HTML page in the order of report 13/2022, with its tables and figures.

Built from the analysis.* tables as they are written to the warehouse (and quality.missingness),
never from person-level rows, so it shows exactly what analysts can query. Suppressed rows
(fewer than 5 participants) are left out of every figure and printed as ``<5`` in tables.
Figures are written as PNG and SVG beside ``index.html`` and referenced by relative path. The
page is rendered by ``iwh.reporting`` in the report language (bokmål by default); the figures'
labels are in the same language, and term labels are Norwegian in both.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure as MplFigure

from analysis.contribution import INTERVAL_LEVEL, POOLED, YEAR, Z_INTERVAL
from analysis.specification import REGION_TERMS
from iwh.reporting import N_, SUPPRESSED, Column, Language, RunFacts, Table, render, table

TEMPLATES = Path(__file__).with_name("templates")
PROGRAMMES = ("jobbsjansen", "intro")
# Names, not words: the same in both languages, except the two programmes together.
PROGRAMME_NAMES = {"jobbsjansen": "Jobbsjansen", "intro": "Introduksjonsprogrammet"}
BOTH_PROGRAMMES = N_("Both programmes")
# Report figure 21: Jobbsjansen blue, introduction programme yellow.
PROGRAMME_COLOURS = {"jobbsjansen": "#1f5fa8", "intro": "#e0a100"}
PREDICTED_COLOUR, ACTUAL_COLOUR = "#8c8c8c", "#2b2b2b"

# The model's terms as the report names them: Norwegian in both languages.
TERM_LABELS = {
    "ordning": "Jobbsjansen (vs introduksjonsprogrammet)",
    "spor": "Spor (1–3)",
    "kjonn_mann": "Mann",
    "alder": "Alder (år)",
    "alder_std": "Alder (standardisert)",
    "botid": "Botid (år)",
    "norsk_score": "Norsknivå",
    "varighet_mnd": "Varighet (måneder)",
    "fravaer_hoy": "Høyt fravær (≥ 10 %)",
    "spor_2": "Spor 2 (en del skolegang)",
    "spor_3": "Spor 3 (god allmennutdanning)",
    "andel_innvandrere_std": "Innvandrerandel (std.)",
    "nettoinnflytting_std": "Nettoinnflytting (std.)",
    "andel_utvalgte_naeringer_std": "Sysselsatte i utvalgte næringer (std.)",
    "lonn_per_deltaker_1000kr_std": "Lønn per deltaker (std.)",
    "tiltak_norskopplaering": "Norskopplæring",
    "tiltak_samfunnskunnskap": "Samfunnskunnskap",
    "tiltak_sprakpraksis": "Språkpraksis",
    "tiltak_yrkesrettet_kurs": "Yrkesrettet kurs",
    "tiltak_ordinaert_arbeid": "Ordinært arbeid",
    "tiltak_arbeidspraksis_skjermet": "Arbeidspraksis, skjermet",
    "tiltak_arbeidspraksis_ordinaer": "Arbeidspraksis, ordinær",
    "tiltak_amo_kurs": "AMO-kurs",
    "tiltak_sosialt_nettverk": "Sosialt nettverk",
    "tiltak_helsefremmende": "Helsefremmende tiltak",
    "tiltak_barn_familie": "Barn og familie",
    "tiltak_kultur_fritid": "Kultur og fritid",
    "tiltak_realkompetanse": "Realkompetansevurdering",
    "tiltak_grunnskolefag": "Grunnskolefag",
    "tiltak_fag_vgo": "Fag i videregående",
    "const": "Konstant",
    **{term: f"Region: {label}" for label, term in REGION_TERMS.items()},
}
# Predicted vs actual: characteristic, its title and the report's figure.
CHARACTERISTIC_TITLES = {
    "spor": (N_("Education track (spor)"), 22),
    "norsk_tier": (N_("Norwegian level"), 23),
    "fravaer_hoy": (N_("High absence (1 = at least 10 %)"), 25),
    "botid_quartile": (N_("Years of residence, quartiles"), 26),
    "varighet_quartile": (N_("Duration in months, quartiles"), 27),
    "age_band": (N_("Age band"), 28),
}
MODEL_TITLES = {
    "m1": N_("M1 — individual model"),
    "m1_women": N_("M1, women only"),
    "m2": N_("M2 — municipality-year random intercept"),
    "m2_women": N_("M2, women only"),
    "m3": N_("M3 — project-year random intercept"),
    "m3_women": N_("M3, women only"),
}
# The likelihood-ratio tests' comparisons and blocks (analysis/m1.py, multilevel.py).
LR_COMPARISONS = {
    "drop_block": N_("full model against the model without the block"),
    "sequential": N_("the block added to the model before it"),
    "random_intercept": N_("random intercept against none"),
}
LR_BLOCKS = {
    "individual": N_("individual characteristics and region"),
    "measures": N_("the 15 measures"),
    "ordning": "ordning",
    "school_subjects": N_("grunnskolefag and fag i VGO"),
    "municipality_year": N_("municipality-year"),
    "project_year": N_("project-year"),
}
# The report's archetypes (analysis/archetypes.csv) as the page describes them, by archetype and
# ordning; an archetype added to the file without a line here shows the file's description.
ARCHETYPE_TEXTS = {
    ("woman_spor2_africa", 1): N_(
        "Woman, spor 2, 32 years, 6 years' residence, mean Norwegian level, 20 months, low absence, "
        "Afrika sør for Sahara; in Jobbsjansen"
    ),
    ("woman_spor2_africa", 0): N_(
        "Woman, spor 2, 32 years, 6 years' residence, mean Norwegian level, 20 months, low absence, "
        "Afrika sør for Sahara; in the introduction programme"
    ),
    ("typical_intro", 0): N_(
        "Typical introduction participant: man, 32, Vest-Asia, 2 years' residence, spor 2, A2, 27 months, high absence"
    ),
    ("typical_jobbsjansen", 1): N_(
        "Typical Jobbsjansen participant: woman, 36, Sør-Asia, 7 years' residence, spor 3, B1, 13 months, low absence"
    ),
}
# The descriptive chapter's figures as the report numbers them: what each shows, and whether it
# is the characteristic's distribution ("share") or goal achievement within its categories.
DESCRIPTIVE_FIGURES = {
    2: (N_("Goal achievement in Jobbsjansen and the introduction programme"), "outcome"),
    3: (N_("Gender composition"), "share"),
    4: (N_("Goal achievement by gender"), "outcome"),
    5: (N_("Years of residence"), "share"),
    6: (N_("Goal achievement by years of residence"), "outcome"),
    7: (N_("Age composition"), "share"),
    8: (N_("Goal achievement by age"), "outcome"),
    9: (N_("Norwegian skills"), "share"),
    10: (N_("Goal achievement by Norwegian skills"), "outcome"),
    11: (N_("Level of education"), "share"),
    12: (N_("Goal achievement by level of education"), "outcome"),
    13: (N_("Country background"), "share"),
    14: (N_("Goal achievement by country background"), "outcome"),
    15: (N_("Duration"), "share"),
    16: (N_("Goal achievement by duration"), "outcome"),
    17: (N_("Absence"), "share"),
    18: (N_("Goal achievement by absence"), "outcome"),
    19: (N_("Measures received"), "share"),
}
# Table 1's kinds of goal achievement (harmonisation.md, overgang) as the report prints them.
OVERGANG_LABELS = {
    "arbeid": N_("Transition to work"),
    "utdanning": N_("Transition to education"),
    "totalt": N_("Goal achievement in total"),
}
PNG_DPI = 130


@dataclass
class Figure:
    stem: str
    title: str
    caption: str

    def files(self) -> list[str]:
        return [f"{self.stem}.png", f"{self.stem}.svg"]


def write_figure(fig: MplFigure, out_dir: Path, stem: str) -> None:
    """``stem``.svg and ``stem``.png from one layout."""
    # One layout, frozen, serves both files: left to savefig, constrained layout and an extra
    # invisible draw are repeated for each format, which was a third of the report's time. The
    # layout measures text with the figure's canvas, so attach the SVG one: its text metrics are
    # the wider, what fits the SVG fits the PNG, whereas a layout measured by Agg clipped long
    # tick labels at the SVG's edge.
    FigureCanvasSVG(fig)
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine(None)
    # A fixed hash salt and no date keep the SVG identical for identical tables.
    with matplotlib.rc_context({"svg.hashsalt": "iwh-analysis-report"}):
        fig.savefig(out_dir / f"{stem}.svg", metadata={"Date": None})
    fig.savefig(out_dir / f"{stem}.png", dpi=PNG_DPI, metadata={"Software": None})


def _draw_and_write(draw: Callable[..., MplFigure], data: tuple, lang: Language, out_dir: Path, stem: str) -> None:
    write_figure(draw(*data, lang), out_dir, stem)


@dataclass
class ReportBuilder:
    """Collects the page's figures, each written as it is added: here, or by ``pool``'s processes
    (analysis.report_workers) while the page's tables are made; ``wait`` for them."""

    out_dir: Path
    lang: Language
    pool: concurrent.futures.Executor | None = None
    figures: list[Figure] = field(default_factory=list)
    pending: list[concurrent.futures.Future] = field(default_factory=list)

    def figure(self, draw: Callable[..., MplFigure], data: tuple, stem: str, title: str, caption: str) -> Figure:
        """The figure ``draw(*data, lang)``, written as ``stem``.png and ``stem``.svg."""
        if self.pool is None:
            _draw_and_write(draw, data, self.lang, self.out_dir, stem)
        else:
            self.pending.append(self.pool.submit(_draw_and_write, draw, data, self.lang, self.out_dir, stem))
        figure = Figure(stem, title, caption)
        self.figures.append(figure)
        return figure

    def wait(self) -> None:
        """Every figure written, or the first one's error raised; none is still being written."""
        concurrent.futures.wait(self.pending)
        for future in self.pending:
            future.result()


def _figure(*grid: int, figsize: tuple[float, float], sharey: bool = False):
    """A figure outside pyplot's global state (rendered by Agg for PNG, by the SVG backend for SVG)."""
    fig = MplFigure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(*grid, sharey=sharey)


def _label(term: str) -> str:
    return TERM_LABELS.get(term, term)


def _translated(lang: Language, messages: Mapping[str, str], code: str) -> str:
    """The message for ``code``, translated; a code without one as it is."""
    return lang._(messages[code]) if code in messages else code


def programme_name(lang: Language, programme: str) -> str:
    return PROGRAMME_NAMES.get(programme) or lang._(BOTH_PROGRAMMES)


def _number_axis(axis, lang: Language) -> None:
    """Tick labels written as the language writes numbers (decimal comma in bokmål)."""
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: lang.number(value)))


def forest_plot(coefficients: pd.DataFrame, model: str, lang: Language) -> MplFigure:
    """Report figures 20, 24 and 25: a model's odds ratios with 95 % intervals on a log axis."""
    table = coefficients.loc[(coefficients["model"] == model) & (coefficients["term"] != "const")].iloc[::-1]
    fig, ax = _figure(figsize=(7.5, 0.28 * len(table) + 1.2))
    y = np.arange(len(table))
    ax.errorbar(
        table["odds_ratio"],
        y,
        xerr=[table["odds_ratio"] - table["ci_low"], table["ci_high"] - table["odds_ratio"]],
        fmt="o",
        color="#1f5fa8",
        ecolor="#7a9cc6",
        capsize=2,
        markersize=4,
    )
    ax.axvline(1.0, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    low, high = float(table["ci_low"].min()), float(table["ci_high"].max())
    ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10) if low / 1.5 <= t <= high * 1.5]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    _number_axis(ax.xaxis, lang)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_yticks(y, [_label(term) for term in table["term"]], fontsize=8)
    ax.set_xlabel(lang._("Odds ratio (log scale), confidence interval 95 %"))
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    return fig


def quadrant_plot(pooled_projects: pd.DataFrame, lang: Language) -> MplFigure:
    """Report figure 21: contribution against actual result, both programmes, quadrants at zero
    contribution and the national mean."""
    fig, ax = _figure(figsize=(7.5, 5.5))
    for programme in ("intro", "jobbsjansen"):
        units = pooled_projects.loc[pooled_projects["programme"] == programme]
        ax.scatter(
            units["actual_pct"],
            units["contribution_pp"],
            s=12 + 0.15 * units["n"].astype(float),
            color=PROGRAMME_COLOURS[programme],
            alpha=0.75,
            edgecolor="white",
            linewidth=0.4,
            label=lang._("%(programme)s (%(units)s units)", programme=PROGRAMME_NAMES[programme], units=len(units)),
        )
    national = float(pooled_projects["national_mean_pct"].iloc[0])
    ax.axhline(0.0, color="#444444", linewidth=0.8)
    ax.axvline(national, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 100)
    ax.set_xlabel(
        lang._("Actual goal achievement, %% (dashed: national mean %(mean)s)", mean=lang.percent_of_100(national))
    )
    ax.set_ylabel(lang._("Contribution, percentage points"))
    limit = max(10.0, float(np.nanmax(np.abs(pooled_projects["contribution_pp"]))) * 1.1)
    ax.set_ylim(-limit, limit)
    for x, y, text, align in (
        (2, limit * 0.92, lang._("better than expected,\nbelow average"), "left"),
        (98, limit * 0.92, lang._("better than expected,\nabove average"), "right"),
        (2, -limit * 0.92, lang._("worse than expected,\nbelow average"), "left"),
        (98, -limit * 0.92, lang._("worse than expected,\nabove average"), "right"),
    ):
        ax.text(x, y, text, ha=align, va="center", fontsize=7.5, color="#555555")
    _number_axis(ax.yaxis, lang)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def funnel_plot(pooled_projects: pd.DataFrame, lang: Language) -> MplFigure:
    """Contribution against unit size with the 90 % limits of pure binomial noise: how far a unit
    of that size strays from zero by chance alone."""
    fig, ax = _figure(figsize=(7.5, 4.5))
    for programme in ("intro", "jobbsjansen"):
        units = pooled_projects.loc[pooled_projects["programme"] == programme]
        ax.scatter(
            units["n"].astype(float),
            units["contribution_pp"],
            s=14,
            color=PROGRAMME_COLOURS[programme],
            alpha=0.75,
            edgecolor="white",
            linewidth=0.4,
            label=PROGRAMME_NAMES[programme],
        )
    share = float(pooled_projects["national_mean_pct"].iloc[0]) / 100
    sizes = np.geomspace(5, max(10.0, float(pooled_projects["n"].max())), 200)
    limit = 100 * Z_INTERVAL * np.sqrt(share * (1 - share) / sizes)
    ax.plot(
        sizes,
        limit,
        color="#444444",
        linewidth=0.8,
        linestyle="--",
        label=lang._("%(level)s binomial limits", level=lang.percent(INTERVAL_LEVEL)),
    )
    ax.plot(sizes, -limit, color="#444444", linewidth=0.8, linestyle="--")
    ax.axhline(0.0, color="#444444", linewidth=0.6)
    ax.set_xscale("log")
    _number_axis(ax.xaxis, lang)
    _number_axis(ax.yaxis, lang)
    ax.set_xlabel(lang._("Modelled participants, all years (log scale)"))
    ax.set_ylabel(lang._("Contribution, percentage points"))
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def predicted_vs_actual_plot(table: pd.DataFrame, characteristic: str, lang: Language) -> MplFigure:
    """Report figures 22–28: mean predicted probability and actual share by programme within the
    levels of one characteristic (suppressed cells left out)."""
    cells = table.loc[table["characteristic"] == characteristic]
    rows = cells.loc[~cells["suppressed"].astype(bool)]
    levels = cells[["level", "level_order"]].drop_duplicates().sort_values("level_order")["level"].tolist()
    fig, axes = _figure(1, 2, figsize=(8.5, 3.4), sharey=True)
    for ax, programme in zip(axes, PROGRAMMES):
        part = rows.loc[rows["programme"] == programme].set_index("level").reindex(levels)
        x = np.arange(len(levels))
        ax.bar(
            x - 0.2,
            100 * part["predicted"].astype(float),
            width=0.4,
            color=PREDICTED_COLOUR,
            label=lang._("Predicted (M1)"),
        )
        ax.bar(
            x + 0.2,
            100 * part["actual"].astype(float),
            width=0.4,
            color=PROGRAMME_COLOURS[programme],
            label=lang._("Actual"),
        )
        withheld = cells.loc[(cells["programme"] == programme) & cells["suppressed"].astype(bool), "level"]
        for position in [levels.index(level) for level in withheld]:
            ax.text(position, 2, SUPPRESSED, ha="center", va="bottom", fontsize=8, color="#555555")
        ax.set_xticks(x, levels, fontsize=8, rotation=20 if max(map(len, levels), default=0) > 6 else 0)
        # A fixed height: placed automatically, the title re-measures the axes on every draw to dodge top ticks, of which there are none.
        ax.set_title(PROGRAMME_NAMES[programme], fontsize=9, y=1.0)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    axes[0].set_ylabel(lang._("Goal achievement, %"))
    return fig


def stability_plot(yearly: pd.DataFrame, lang: Language) -> MplFigure:
    """Each unit's contribution in one year against the next (published unit-years only)."""
    values = yearly.pivot_table(index=["unit_id", "programme"], columns="cohort_year", values="contribution_pp")
    years = sorted(values.columns)
    fig, ax = _figure(figsize=(5.5, 5.0))
    for programme, part in values.groupby(level="programme", sort=True):
        first = np.concatenate([part[a].to_numpy() for a in years[:-1]])
        second = np.concatenate([part[b].to_numpy() for b in years[1:]])
        keep = ~np.isnan(first) & ~np.isnan(second)
        ax.scatter(
            first[keep],
            second[keep],
            s=10,
            alpha=0.6,
            color=PROGRAMME_COLOURS[programme],
            label=PROGRAMME_NAMES[programme],
        )
    ax.axhline(0, color="#444444", linewidth=0.6)
    ax.axvline(0, color="#444444", linewidth=0.6)
    _number_axis(ax.xaxis, lang)
    _number_axis(ax.yaxis, lang)
    ax.set_xlabel(lang._("Contribution in year t, pp"))
    ax.set_ylabel(lang._("Contribution in year t + 1, pp"))
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def missingness_plot(missingness: pd.DataFrame, lang: Language) -> MplFigure:
    """Share missing per variable and programme, all cohort years (quality.missingness)."""
    rows = missingness.loc[
        (missingness["report_table"] == "by_variable")
        & missingness["cohort_year"].isna()
        & ~missingness["suppressed"].astype(bool)
    ]
    variables = sorted(rows["variable"].unique())
    fig, ax = _figure(figsize=(7.5, 0.35 * len(variables) + 1.2))
    y = np.arange(len(variables))
    for offset, programme in ((-0.2, "jobbsjansen"), (0.2, "intro")):
        part = rows.loc[rows["programme"] == programme].set_index("variable").reindex(variables)
        ax.barh(
            y + offset,
            100 * part["value"].astype(float),
            height=0.4,
            color=PROGRAMME_COLOURS[programme],
            label=PROGRAMME_NAMES[programme],
        )
    ax.set_yticks(y, variables, fontsize=8)
    ax.invert_yaxis()
    _number_axis(ax.xaxis, lang)
    ax.set_xlabel(lang._("Ended participations with the value missing, %"))
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


def missingness_by_characteristic_plot(missingness: pd.DataFrame, lang: Language) -> MplFigure:
    """Report table 15 as a chart: share with spor or Norwegian level missing, by characteristic."""
    rows = missingness.loc[
        (missingness["report_table"] == "15")
        & (missingness["programme"] == "all")
        & ~missingness["suppressed"].astype(bool)
        & missingness["characteristic"].isin(["kjonn", "fravaer", "region"])
    ].sort_values(["characteristic", "category"])
    labels = [f"{c}: {v}" for c, v in zip(rows["characteristic"], rows["category"])]
    fig, ax = _figure(figsize=(7.5, 0.3 * len(rows) + 1.2))
    ax.barh(np.arange(len(rows)), 100 * rows["value"].astype(float), color="#6b6b6b")
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    _number_axis(ax.xaxis, lang)
    ax.set_xlabel(lang._("Share with spor or Norwegian level missing, %"))
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


def descriptive_plot(rows: pd.DataFrame, value: str, lang: Language) -> MplFigure:
    """Report figures 2–19: per category, the share of each programme's persons (``share_pct``) or
    the share of them achieving the goal (``outcome_pct``); suppressed cells marked ``<5``."""
    categories = list(dict.fromkeys(rows["category"]))
    fig, ax = _figure(figsize=(7.5, max(2.6, 0.42 * len(categories) + 1.3)))
    y = np.arange(len(categories))
    for offset, programme in ((-0.2, "jobbsjansen"), (0.2, "intro")):
        part = rows.loc[rows["programme"] == programme].drop_duplicates("category").set_index("category")
        part = part.reindex(categories)
        shown = ~part["suppressed"].fillna(True).astype(bool).to_numpy()
        values = np.where(shown, part[value].astype(float).to_numpy(), np.nan)
        ax.barh(y + offset, values, height=0.4, color=PROGRAMME_COLOURS[programme], label=PROGRAMME_NAMES[programme])
        for position in np.flatnonzero(~shown):
            ax.text(1, position + offset, SUPPRESSED, va="center", fontsize=7, color="#555555")
    ax.set_yticks(y, categories, fontsize=8)
    # Top to bottom in the report's order, with room for a withheld bar's "<5".
    ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    _number_axis(ax.xaxis, lang)
    ax.set_xlabel(
        lang._("Share of the programme's participants, %")
        if value == "share_pct"
        else lang._("Share who achieved the goal, %")
    )
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


# -- tables -----------------------------------------------------------------------------------


def _coefficients(lang: Language, coefficients: pd.DataFrame, model: str) -> Table | None:
    rows = coefficients.loc[coefficients["model"] == model].assign(label=lambda t: t["term"].map(_label))
    if rows.empty:
        return None
    return table(
        lang,
        rows,
        [
            Column("label", lang._("Term")),
            Column("estimate", lang._("Log-odds"), "decimal"),
            Column("std_error", lang._("SE"), "decimal"),
            Column("odds_ratio", lang._("Odds ratio"), "decimal"),
            Column("ci_low", lang._("Lower limit (95 %)"), "decimal"),
            Column("ci_high", lang._("Upper limit (95 %)"), "decimal"),
            Column("p_value", "p", "p_value"),
        ],
        table_id=f"coefficients-{model}",
    )


def _model_section(lang: Language, coefficients: pd.DataFrame, model: str) -> dict:
    return {"title": lang._(MODEL_TITLES[model]), "table": _coefficients(lang, coefficients, model)}


def _fit_table(lang: Language, fit: pd.DataFrame) -> Table:
    return table(
        lang,
        fit.assign(model=lambda t: t["model"].map(lambda model: _translated(lang, MODEL_TITLES, model))),
        [
            Column("model", lang._("Model")),
            Column("n", "n", "integer"),
            Column("n_groups", lang._("Units"), "integer"),
            Column("log_likelihood", lang._("Log likelihood"), "decimal", 2),
            Column("aic", "AIC", "decimal", 1),
            Column("pseudo_r2", lang._("Pseudo R²"), "decimal", 3),
            Column("sigma2_u", "σ²ᵤ", "decimal", 3),
            Column("icc", "ICC", "decimal", 3),
            Column("converged", lang._("Converged"), "boolean"),
            Column("method", lang._("Method")),
        ],
        table_id="model-fit",
    )


def _m1_tables(lang: Language, tables: Mapping[str, pd.DataFrame]) -> dict:
    vif = tables["vif"]
    archetypes = tables["archetype_predictions"]
    return {
        "vif": table(
            lang,
            vif.loc[vif["model"] == "m1"].assign(term=lambda t: t["term"].map(_label)),
            [
                Column("term", lang._("Term")),
                Column("df", "df", "integer"),
                Column("vif", "VIF", "decimal"),
                Column("gvif_adjusted", "GVIF^(1/2df)", "decimal"),
            ],
            table_id="vif",
        ),
        "lr_tests": table(
            lang,
            tables["lr_tests"].assign(
                model=lambda t: t["model"].map(lambda value: _translated(lang, MODEL_TITLES, value)),
                comparison=lambda t: t["comparison"].map(lambda value: _translated(lang, LR_COMPARISONS, value)),
                block=lambda t: t["block"].map(lambda value: _translated(lang, LR_BLOCKS, value)),
            ),
            [
                Column("model", lang._("Model")),
                Column("comparison", lang._("Comparison")),
                Column("block", lang._("Block")),
                Column("df", "df", "integer"),
                Column("lr_statistic", "LR", "decimal"),
                Column("p_value", "p", "p_value"),
            ],
            table_id="lr-tests",
        ),
        "archetypes": table(
            lang,
            archetypes.assign(
                description=[
                    lang._(ARCHETYPE_TEXTS[key]) if key in ARCHETYPE_TEXTS else description
                    for key, description in zip(
                        zip(archetypes["archetype"], archetypes["ordning"].astype(int)), archetypes["description"]
                    )
                ]
            ),
            [
                Column("description", lang._("Archetype")),
                Column("ordning", "Jobbsjansen", "boolean"),
                Column("predicted_probability", lang._("Predicted"), "percent", 1),
                Column("ci_low", lang._("Lower limit (95 %)"), "percent", 1),
                Column("ci_high", lang._("Upper limit (95 %)"), "percent", 1),
                Column("report_probability", lang._("Report"), "percent", 0),
            ],
            table_id="archetypes",
        ),
    }


def _contribution_section(builder: ReportBuilder, tables: Mapping[str, pd.DataFrame]) -> dict:
    lang = builder.lang
    indicators = tables["contribution_indicators"]
    published = indicators.loc[~indicators["suppressed"].astype(bool)]
    pooled_projects = published.loc[(published["unit_type"] == "project") & (published["period_type"] == POOLED)]
    yearly_projects = published.loc[(published["unit_type"] == "project") & (published["period_type"] == YEAR)]
    if pooled_projects.empty:
        return {"empty": True}
    section: dict = {"empty": False, "interval": lang.percent(INTERVAL_LEVEL)}
    section["quadrants"] = builder.figure(
        quadrant_plot,
        (pooled_projects,),
        "fig21_contribution_quadrants",
        lang._("Contribution and actual result (report figure 21)"),
        lang._(
            "Each dot is a project with at least 5 modelled participants, sized by participants. Top left: better "
            "than expected with results below the national mean; bottom right: worse than expected with results "
            "above it."
        ),
    )
    section["funnel"] = builder.figure(
        funnel_plot,
        (pooled_projects,),
        "contribution_funnel",
        lang._("Contribution against project size"),
        lang._(
            "Dashed: the range within which a project of that size lands by binomial noise alone; small projects "
            "scatter most, which is why the shrunken indicator pulls them toward zero."
        ),
    )
    percentiles = tables["contribution_percentiles"]
    wide = percentiles.loc[percentiles["unit_type"] == "project"].pivot_table(
        index="percentile", columns="programme", values=["contribution_pp", "actual_pct"]
    )
    wide.columns = [f"{value}_{programme}" for value, programme in wide.columns]
    wide = wide.reset_index()
    columns = [Column("percentile", lang._("Percentile"), "integer")]
    for programme in ("intro", "jobbsjansen"):
        if f"contribution_pp_{programme}" in wide:
            name = PROGRAMME_NAMES[programme]
            columns.append(
                Column(
                    f"contribution_pp_{programme}",
                    lang._("%(programme)s: contribution (pp)", programme=name),
                    "decimal",
                    0,
                )
            )
            columns.append(
                Column(f"actual_pct_{programme}", lang._("%(programme)s: actual (%%)", programme=name), "decimal", 0)
            )
    section["percentiles"] = table(lang, wide, columns, table_id="table-6")
    summary = tables["contribution_summary"]
    unit_types = {"project": lang._("project"), "municipality": lang._("municipality")}
    section["summary"] = table(
        lang,
        summary.loc[summary["period_type"] == POOLED].assign(
            programme=lambda t: t["programme"].map(lambda value: programme_name(lang, value)),
            unit_type=lambda t: t["unit_type"].map(lambda value: unit_types.get(value, value)),
        ),
        [
            Column("unit_type", lang._("Unit")),
            Column("programme", lang._("Programme")),
            Column("n_units", lang._("Units shown"), "integer"),
            Column("n_units_suppressed", lang._("Units <5"), "integer"),
            Column("share_above", lang._("Above"), "percent", 0),
            Column("share_in_line", lang._("In line"), "percent", 0),
            Column("share_below", lang._("Below"), "percent", 0),
            Column("share_positive_above_mean", lang._("+ / above mean"), "percent", 0),
            Column("share_positive_below_mean", lang._("+ / below mean"), "percent", 0),
            Column("share_negative_above_mean", lang._("− / above mean"), "percent", 0),
            Column("share_negative_below_mean", lang._("− / below mean"), "percent", 0),
            Column("between_unit_sd_pp", lang._("τ (pp)"), "decimal", 1),
            Column("year_shock_sd_pp", lang._("ω (pp)"), "decimal", 1),
        ],
        table_id="contribution-summary",
    )
    stability = tables["contribution_stability"]
    section["stability"] = table(
        lang,
        stability.assign(
            programme=lambda t: t["programme"].map(lambda value: programme_name(lang, value)),
            unit_type=lambda t: t["unit_type"].map(lambda value: unit_types.get(value, value)),
        ),
        [
            Column("unit_type", lang._("Unit")),
            Column("programme", lang._("Programme")),
            Column("first_year", lang._("Year"), "year"),
            Column("second_year", lang._("Next year"), "year"),
            Column("n_units", lang._("Units in both"), "integer"),
            Column("pearson", lang._("Pearson r"), "decimal"),
            Column("spearman", lang._("Spearman ρ"), "decimal"),
            Column("same_classification_share", lang._("Same classification"), "percent", 0),
        ],
        table_id="contribution-stability",
    )
    section["stability_figure"] = (
        builder.figure(
            stability_plot,
            (yearly_projects,),
            "contribution_stability",
            lang._("Year-to-year stability of project contributions"),
            lang._(
                "Each dot is a project's contribution in one cohort year against the next; projects with fewer "
                "than 5 participants in either year are left out."
            ),
        )
        if not yearly_projects.empty
        else None
    )
    return section


def _predicted_section(builder: ReportBuilder, predicted_vs_actual: pd.DataFrame) -> dict:
    lang = builder.lang
    cells = predicted_vs_actual.loc[predicted_vs_actual["model"] == "m1"]
    figures = [
        builder.figure(
            predicted_vs_actual_plot,
            (cells, characteristic),
            f"predicted_vs_actual_{characteristic}",
            lang._("%(title)s (report figure %(number)s)", title=lang._(title), number=number),
            lang._("Grey: predicted by M1; colour: actual; <5: fewer than 5 participants, not shown."),
        )
        for characteristic, (title, number) in CHARACTERISTIC_TITLES.items()
        if (cells["characteristic"] == characteristic).any()
    ]
    titles = {key: lang._(title) for key, (title, _) in CHARACTERISTIC_TITLES.items()}
    return {
        "figures": figures,
        "table": table(
            lang,
            cells.sort_values(["characteristic", "programme", "level_order"]).assign(
                characteristic=lambda t: t["characteristic"].map(lambda value: titles.get(value, value)),
                programme=lambda t: t["programme"].map(lambda value: programme_name(lang, value)),
            ),
            [
                Column("characteristic", lang._("Characteristic")),
                Column("programme", lang._("Programme")),
                Column("level", lang._("Level")),
                Column("n", "n", "integer"),
                Column("predicted", lang._("Predicted"), "percent", 1),
                Column("actual", lang._("Actual"), "percent", 1),
            ],
            table_id="predicted-vs-actual",
            suppressed="suppressed",
        ),
    }


def _multilevel_section(builder: ReportBuilder, coefficients: pd.DataFrame) -> dict:
    lang = builder.lang
    charts = []
    for model, number, caption in (
        ("m2", 24, N_("Individual variables and the municipality's context; random intercept per municipality-year.")),
        ("m3", 25, N_("Individual variables and the project's context; random intercept per project-year.")),
    ):
        if (coefficients["model"] == model).any():
            charts.append(
                builder.figure(
                    forest_plot,
                    (coefficients, model),
                    f"fig{number}_{model}_odds_ratios",
                    lang._(
                        "Odds ratios of goal achievement, %(model)s (report figure %(number)s)",
                        model=model.upper(),
                        number=number,
                    ),
                    lang._(caption)
                    + " "
                    + lang._(
                        "Standardised variables: odds ratio per standard deviation. A point right of 1 means higher odds."
                    ),
                )
            )
    return {
        "figures": charts,
        "models": [_model_section(lang, coefficients, model) for model in ("m2", "m3", "m2_women", "m3_women")],
    }


def _missingness_section(builder: ReportBuilder, missingness: pd.DataFrame | None) -> dict:
    lang = builder.lang
    if missingness is None or missingness.empty:
        return {"figures": []}
    return {
        "figures": [
            builder.figure(
                missingness_plot,
                (missingness,),
                "missingness_by_variable",
                lang._("Share missing per variable"),
                lang._("All ended participations, all cohort years; from quality.missingness."),
            ),
            builder.figure(
                missingness_by_characteristic_plot,
                (missingness,),
                "missingness_by_characteristic",
                lang._("Spor or Norwegian level missing, by characteristic (report table 15)"),
                lang._(
                    "Participations with a determinable outcome, both programmes; cells of fewer than 5 persons "
                    "left out."
                ),
            ),
        ]
    }


def _figure_number(table_id: str) -> int | None:
    found = re.fullmatch(r"figur_(\d+)", table_id)
    return int(found.group(1)) if found else None


def _table_1(lang: Language, descriptives: pd.DataFrame) -> Table:
    """Report table 1: per programme, the shares achieving the goal through work, education and in
    total, one column per cohort year and one for all years."""
    cells = descriptives.loc[(descriptives["table_id"] == "tabell_1") & descriptives["programme"].isin(PROGRAMMES)]
    years = sorted(int(year) for year in cells["cohort_year"].dropna().unique())
    all_years = lang._("All years")
    wide = (
        cells.assign(
            year=cells["cohort_year"].map(lambda year: all_years if pd.isna(year) else str(int(year))),
            share=cells["share_pct"].astype(float),
            programme_order=cells["programme"].map(PROGRAMMES.index),
        )
        .pivot(index=["programme_order", "programme", "category_order", "category"], columns="year", values="share")
        .reset_index()
        .sort_values(["programme_order", "category_order"])
    )
    wide["programme"] = wide["programme"].map(PROGRAMME_NAMES)
    wide["category"] = wide["category"].map(lambda value: lang._(OVERGANG_LABELS.get(value, value)))
    columns = [Column("programme", lang._("Programme")), Column("category", lang._("Goal achieved through"))]
    for year in [*(str(year) for year in years), all_years]:
        if year in wide:
            columns.append(Column(year, year, "percent_of_100", 0, missing=SUPPRESSED))
    return table(lang, wide, columns, table_id="table-1")


def _unit_medians(lang: Language, descriptives: pd.DataFrame, table_id: str) -> Table:
    """Report tables 3 and 4: medians of the units' context by programme, all cohort years; the
    first row counts the unit-years."""
    cells = descriptives.loc[(descriptives["table_id"] == table_id) & descriptives["cohort_year"].isna()]
    cells = cells.assign(
        written=[
            lang.integer(n) if characteristic == "enheter" else lang.decimal(median, 1)
            for characteristic, n, median in zip(cells["characteristic"], cells["n"], cells["median"])
        ]
    )
    wide = (
        cells.pivot(index=["category_order", "category"], columns="programme", values="written")
        .reset_index()
        .sort_values("category_order")
    )
    columns = [Column("category", "")]
    for programme in (*PROGRAMMES, "alle"):
        if programme in wide:
            columns.append(Column(programme, programme_name(lang, programme), "formatted", missing=SUPPRESSED))
    return table(lang, wide, columns, table_id=table_id.replace("_", "-"))


def _descriptive_section(builder: ReportBuilder, descriptives: pd.DataFrame | None) -> dict:
    """Table 1, figures 2–19 and tables 3–4 from analysis.descriptives (figures: all cohort years)."""
    lang = builder.lang
    if descriptives is None or descriptives.empty:
        return {"available": False}
    programmes = descriptives.loc[descriptives["programme"].isin(PROGRAMMES)]
    pooled = programmes.loc[programmes["cohort_year"].isna()]
    # Figure 2 is goal achievement itself: one bar per cohort year and one for all years.
    by_year = programmes.loc[programmes["table_id"] == "figur_2"].sort_values("cohort_year", na_position="last")
    by_year = by_year.assign(
        category=by_year["cohort_year"].map(lambda year: lang._("All years") if pd.isna(year) else str(int(year)))
    )
    figures = []
    for number, (title, kind) in DESCRIPTIVE_FIGURES.items():
        rows = by_year if number == 2 else pooled.loc[pooled["table_id"] == f"figur_{number}"]
        rows = rows.sort_values("category_order", kind="stable")
        if rows.empty:
            continue
        figures.append(
            builder.figure(
                descriptive_plot,
                (rows, "share_pct" if kind == "share" else "outcome_pct"),
                f"fig{number:02d}_descriptive",
                lang._("%(title)s (report figure %(number)s)", title=lang._(title), number=number),
                lang._("Cohort years and all years together.")
                if number == 2
                else lang._("All cohort years; <5: fewer than 5 persons, not shown."),
            )
        )
    return {
        "available": True,
        "table_1": _table_1(lang, descriptives),
        "figures": figures,
        "table_3": _unit_medians(lang, descriptives, "tabell_3"),
        "table_4": _unit_medians(lang, descriptives, "tabell_4"),
    }


# The units of report 13/2022's published numbers (analysis/report_13_2022.csv), in bokmål there.
ANNEX_UNITS = {
    "prosent": N_("percent"),
    "prosentpoeng": N_("percentage points"),
    "antall": N_("number"),
    "personer": N_("persons"),
    "andel": N_("share"),
    "klasse": N_("class"),
    "log-odds": N_("log-odds"),
    "log-likelihood": N_("log likelihood"),
    "p-verdi": N_("p-value"),
    "1000 kr": N_("NOK 1 000"),
    "per 1000": N_("per 1 000"),
}


def _annex(lang: Language, annex: pd.DataFrame | None) -> Table | None:
    """Every published number of the report beside this run's value, each written with the decimals
    the report printed, and the reason they differ where a definition does."""
    if annex is None:
        return None

    def written(column: str) -> list[str]:
        return [lang.decimal(value, int(digits)) for value, digits in zip(annex[column], annex["decimals"])]

    rows = annex.assign(
        unit=annex["unit"].map(lambda unit: lang._(ANNEX_UNITS[unit]) if unit in ANNEX_UNITS else unit),
        published_text=written("published"),
        this_run_text=written("this_run"),
        difference_text=written("difference"),
    )
    return table(
        lang,
        rows,
        [
            Column("report_table", lang._("In the report")),
            Column("row", lang._("Row")),
            Column("column", lang._("Column")),
            Column("unit", lang._("Unit")),
            Column("published_text", lang._("Report 13/2022"), "formatted"),
            Column("this_run_text", lang._("This run"), "formatted", missing="–"),
            Column("difference_text", lang._("Difference"), "formatted", missing="–"),
            Column("explanation", lang._("Why they differ")),
        ],
        table_id="annex-table",
        empty=lang._("No published value to compare."),
    )


def write_report(
    out_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    missingness: pd.DataFrame | None,
    run_id: str,
    outcome_variant: str,
    *,
    js_scope: str | None = None,
    synthetic: bool = False,
    language: str = "nb",
    annex: pd.DataFrame | None = None,
    figure_pool: concurrent.futures.Executor | None = None,
) -> list[Path]:
    """Write index.html and its figures to ``out_dir``; returns the files written. ``annex``: the
    rows of ``analysis.annex.annex_rows`` in this language; ``figure_pool``: processes to draw the
    figures in (analysis.report_workers), else they are drawn here."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lang = Language(language)
    builder = ReportBuilder(out_dir, lang, figure_pool)
    try:
        page = _page(builder, tables, missingness, RunFacts.now(run_id, outcome_variant, js_scope, synthetic), annex)
    finally:
        builder.wait()
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return [index] + [out_dir / name for figure in builder.figures for name in figure.files()]


def _page(
    builder: ReportBuilder,
    tables: Mapping[str, pd.DataFrame],
    missingness: pd.DataFrame | None,
    run: RunFacts,
    annex: pd.DataFrame | None,
) -> str:
    lang = builder.lang
    coefficients = tables["model_coefficients"]
    context = {
        "descriptive": _descriptive_section(builder, tables.get("descriptives")),
        "forest": builder.figure(
            forest_plot,
            (coefficients, "m1"),
            "fig20_odds_ratios",
            lang._("Odds ratios of goal achievement, M1 (report figure 20)"),
            lang._(
                "Reference: woman, region Europa, no measure of the kind. A point right of 1 means higher odds "
                "of goal achievement."
            ),
        ),
        "fit": _fit_table(lang, tables["model_fit"]),
        "m1": _model_section(lang, coefficients, "m1"),
        "m1_women": _model_section(lang, coefficients, "m1_women"),
        **_m1_tables(lang, tables),
        "contribution": _contribution_section(builder, tables),
        "predicted": _predicted_section(builder, tables["predicted_vs_actual"]),
        "multilevel": _multilevel_section(builder, coefficients),
        "missingness": _missingness_section(builder, missingness),
        "followup": _followup_section(lang, tables),
        "annex": _annex(lang, annex),
    }
    return render(
        TEMPLATES,
        "analysis_report.html",
        lang,
        title=lang._("Goal achievement in Jobbsjansen and the introduction programme"),
        run=run,
        **context,
    )


def _followup_section(lang: Language, tables: Mapping[str, pd.DataFrame]) -> dict:
    """Beyond the report: work or education one year after exit, by the outcome at exit (the audit
    office's question), and M1 of that outcome beside M1 at exit."""
    transitions = tables.get("outcome_transitions")
    if transitions is None or transitions.empty:
        return {"available": False}
    # Pooled rows have no cohort year; 0 stands for it while the status groups become columns.
    national = transitions.loc[transitions["level"] == "national"].assign(
        cohort_year=lambda t: t["cohort_year"].fillna(0).astype(int)
    )
    keys = ["programme", "period_type", "cohort_year", "maloppnaelse"]
    wide = (
        national.set_index([*keys, "status_1aar_gruppe"])["share_pct"]
        .unstack("status_1aar_gruppe")
        .join(national.groupby(keys)["n_exit_status"].first())
        .reset_index()
    )
    wide["programme_order"] = wide["programme"].map({"alle": 0, "jobbsjansen": 1, "intro": 2})
    wide = wide.sort_values(["programme_order", "cohort_year", "maloppnaelse"], ascending=[True, True, False])
    wide["programme"] = wide["programme"].map(lambda value: programme_name(lang, value))
    wide["maloppnaelse"] = wide["maloppnaelse"].map({1: lang._("Work or education at exit"), 0: lang._("Not at exit")})
    columns = [
        Column("programme", lang._("Programme")),
        Column("maloppnaelse", lang._("Outcome at exit")),
        Column("n_exit_status", lang._("Persons"), "count", missing=SUPPRESSED),
        Column(
            "arbeid_eller_utdanning", lang._("Work or education a year later"), "percent_of_100", 1, missing=SUPPRESSED
        ),
        Column("ikke_arbeid_eller_utdanning", lang._("Neither"), "percent_of_100", 1, missing=SUPPRESSED),
        Column("utvandret_eller_dod", lang._("Emigrated or dead"), "percent_of_100", 1, missing=SUPPRESSED),
    ]
    pooled = wide.loc[wide["period_type"] == "pooled"]
    by_year = wide.loc[wide["period_type"] == "year"]
    return {
        "available": True,
        "cohorts": ", ".join(str(int(year)) for year in sorted(by_year["cohort_year"].dropna().unique())),
        "pooled": table(lang, pooled, columns, table_id="followup-transitions"),
        "by_year": table(
            lang, by_year, [Column("cohort_year", lang._("Cohort"), "year"), *columns], table_id="followup-by-year"
        ),
        "odds": _followup_odds(lang, tables),
    }


def _followup_odds(lang: Language, tables: Mapping[str, pd.DataFrame]) -> Table | None:
    """M1's odds ratios at exit beside those of work or education one year after."""
    second = tables.get("followup_coefficients")
    if second is None or second.empty:
        return None
    at_exit = tables["model_coefficients"]
    at_exit = at_exit.loc[at_exit["model"] == "m1", ["term", "odds_ratio", "p_value"]]
    later = second.loc[second["model"] == "m1", ["term", "odds_ratio", "ci_low", "ci_high", "p_value"]]
    both = at_exit.merge(later, on="term", how="left", suffixes=("_exit", "_1aar"))
    both = both.loc[both["term"] != "const"].assign(label=lambda t: t["term"].map(_label))
    return table(
        lang,
        both,
        [
            Column("label", lang._("Term")),
            Column("odds_ratio_exit", lang._("Odds ratio at exit"), "decimal"),
            Column("odds_ratio_1aar", lang._("Odds ratio one year after"), "decimal"),
            Column("ci_low", lang._("Lower limit (95 %)"), "decimal"),
            Column("ci_high", lang._("Upper limit (95 %)"), "decimal"),
            Column("p_value_1aar", "p", "p_value"),
        ],
        table_id="followup-odds",
    )
