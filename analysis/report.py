"""The analysis report: one HTML page with the model tables and the figures of report 13/2022.

Built from the analysis.* tables as they are written to the warehouse (and quality.missingness),
never from person-level rows, so it shows exactly what analysts can query. Suppressed rows
(fewer than 5 participants) are left out of every figure and printed as ``<5`` in tables.
Figures are written as PNG and SVG beside ``index.html`` and referenced by relative path.
"""

from __future__ import annotations

import html
import math
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

PROGRAMME_LABELS = {"jobbsjansen": "Jobbsjansen", "intro": "Introduksjonsprogrammet", "all": "Both programmes"}
# Report figure 21: Jobbsjansen blue, introduction programme yellow.
PROGRAMME_COLOURS = {"jobbsjansen": "#1f5fa8", "intro": "#e0a100"}
PREDICTED_COLOUR, ACTUAL_COLOUR = "#8c8c8c", "#2b2b2b"

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
CHARACTERISTIC_TITLES = {
    "spor": ("Education track (spor)", "figure 22"),
    "norsk_tier": ("Norwegian level", "figure 23"),
    "fravaer_hoy": ("High absence (1 = at least 10 %)", "figure 25"),
    "botid_quartile": ("Years of residence, quartiles", "figure 26"),
    "varighet_quartile": ("Duration in months, quartiles", "figure 27"),
    "age_band": ("Age band", "figure 28"),
}
MODEL_TITLES = {
    "m1": "M1 — individual model",
    "m1_women": "M1, women only",
    "m2": "M2 — municipality-year random intercept",
    "m2_women": "M2, women only",
    "m3": "M3 — project-year random intercept",
    "m3_women": "M3, women only",
}
SUPPRESSED = "<5"
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


@dataclass
class ReportBuilder:
    """Collects the page's figures, each written as it is added."""

    out_dir: Path
    figures: list[Figure] = field(default_factory=list)

    def figure(self, draw: Callable[..., MplFigure], data: tuple, stem: str, title: str, caption: str) -> str:
        """The HTML of the figure ``draw(*data)``, written as ``stem``.png and ``stem``.svg."""
        write_figure(draw(*data), self.out_dir, stem)
        self.figures.append(Figure(stem, title, caption))
        return (
            f'<figure id="{stem}"><img src="{stem}.png" alt="{html.escape(title)}">'
            f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)} "
            f'<a href="{stem}.svg">SVG</a></figcaption></figure>'
        )


def _figure(*grid: int, figsize: tuple[float, float], sharey: bool = False):
    """A figure outside pyplot's global state (rendered by Agg for PNG, by the SVG backend for SVG)."""
    fig = MplFigure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(*grid, sharey=sharey)


def _label(term: str) -> str:
    return TERM_LABELS.get(term, term)


def _number(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        # Years and most counts read better without a separator; 5-digit counts get a thin space.
        return f"{int(value):,}".replace(",", " ") if abs(value) >= 10_000 else str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:,.{digits}f}".replace(",", " ")
    return html.escape(str(value))


def html_table(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    digits: Mapping[str, int] | None = None,
    suppressed_column: str | None = None,
) -> str:
    """A plain HTML table; on rows flagged in ``suppressed_column`` every empty number reads ``<5``."""
    digits = digits or {}
    head = "".join(f"<th>{html.escape(title)}</th>" for title in columns.values())
    rows = []
    for _, row in frame.iterrows():
        hidden = bool(suppressed_column and row[suppressed_column])
        cells = []
        for column in columns:
            value = row[column]
            if column == "p_value" and isinstance(value, float) and 0 <= value < 1e-4:
                text = "&lt;0.0001"
            else:
                text = _number(value, digits.get(column, 2))
            if hidden and text == "":
                text = SUPPRESSED
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def forest_plot(coefficients: pd.DataFrame) -> MplFigure:
    """Report figure 20: M1's odds ratios with 95 % intervals on a log axis."""
    table = coefficients.loc[(coefficients["model"] == "m1") & (coefficients["term"] != "const")].iloc[::-1]
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
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_yticks(y, [_label(term) for term in table["term"]], fontsize=8)
    ax.set_xlabel("Odds ratio (log scale), 95 % confidence interval")
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    return fig


def quadrant_plot(pooled_projects: pd.DataFrame) -> MplFigure:
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
            label=f"{PROGRAMME_LABELS[programme]} ({len(units)} units)",
        )
    national = float(pooled_projects["national_mean_pct"].iloc[0])
    ax.axhline(0.0, color="#444444", linewidth=0.8)
    ax.axvline(national, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Actual goal achievement, % (dashed: national mean {national:.0f} %)")
    ax.set_ylabel("Contribution, percentage points")
    limit = max(10.0, float(np.nanmax(np.abs(pooled_projects["contribution_pp"]))) * 1.1)
    ax.set_ylim(-limit, limit)
    for x, y, text, align in (
        (2, limit * 0.92, "better than expected,\nbelow average", "left"),
        (98, limit * 0.92, "better than expected,\nabove average", "right"),
        (2, -limit * 0.92, "worse than expected,\nbelow average", "left"),
        (98, -limit * 0.92, "worse than expected,\nabove average", "right"),
    ):
        ax.text(x, y, text, ha=align, va="center", fontsize=7.5, color="#555555")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def funnel_plot(pooled_projects: pd.DataFrame) -> MplFigure:
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
            label=PROGRAMME_LABELS[programme],
        )
    share = float(pooled_projects["national_mean_pct"].iloc[0]) / 100
    sizes = np.geomspace(5, max(10.0, float(pooled_projects["n"].max())), 200)
    limit = 100 * Z_INTERVAL * np.sqrt(share * (1 - share) / sizes)
    ax.plot(sizes, limit, color="#444444", linewidth=0.8, linestyle="--", label=f"{INTERVAL_LEVEL:.0%} binomial limits")
    ax.plot(sizes, -limit, color="#444444", linewidth=0.8, linestyle="--")
    ax.axhline(0.0, color="#444444", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("Modelled participants, all years (log scale)")
    ax.set_ylabel("Contribution, percentage points")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def predicted_vs_actual_plot(table: pd.DataFrame, characteristic: str) -> MplFigure:
    """Report figures 22–28: mean predicted probability and actual share by programme within the
    levels of one characteristic (suppressed cells left out)."""
    cells = table.loc[table["characteristic"] == characteristic]
    rows = cells.loc[~cells["suppressed"].astype(bool)]
    levels = cells[["level", "level_order"]].drop_duplicates().sort_values("level_order")["level"].tolist()
    fig, axes = _figure(1, 2, figsize=(8.5, 3.4), sharey=True)
    for ax, programme in zip(axes, ("jobbsjansen", "intro")):
        part = rows.loc[rows["programme"] == programme].set_index("level").reindex(levels)
        x = np.arange(len(levels))
        ax.bar(
            x - 0.2, 100 * part["predicted"].astype(float), width=0.4, color=PREDICTED_COLOUR, label="Predicted (M1)"
        )
        ax.bar(
            x + 0.2, 100 * part["actual"].astype(float), width=0.4, color=PROGRAMME_COLOURS[programme], label="Actual"
        )
        withheld = cells.loc[(cells["programme"] == programme) & cells["suppressed"].astype(bool), "level"]
        for position in [levels.index(level) for level in withheld]:
            ax.text(position, 2, SUPPRESSED, ha="center", va="bottom", fontsize=8, color="#555555")
        ax.set_xticks(x, levels, fontsize=8, rotation=20 if max(map(len, levels), default=0) > 6 else 0)
        # A fixed height: placed automatically, the title re-measures the axes on every draw to dodge top ticks, of which there are none.
        ax.set_title(PROGRAMME_LABELS[programme], fontsize=9, y=1.0)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    axes[0].set_ylabel("Goal achievement, %")
    return fig


def stability_plot(yearly: pd.DataFrame) -> MplFigure:
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
            label=PROGRAMME_LABELS[programme],
        )
    ax.axhline(0, color="#444444", linewidth=0.6)
    ax.axvline(0, color="#444444", linewidth=0.6)
    ax.set_xlabel("Contribution in year t, pp")
    ax.set_ylabel("Contribution in year t + 1, pp")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def missingness_plot(missingness: pd.DataFrame) -> MplFigure:
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
            label=PROGRAMME_LABELS[programme],
        )
    ax.set_yticks(y, variables, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Share missing, % of ended participations")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


def missingness_by_characteristic_plot(missingness: pd.DataFrame) -> MplFigure:
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
    ax.set_xlabel("Share with spor or Norwegian level missing, %")
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.4rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; font-size: 0.82rem; margin: 0.8rem 0 1.2rem; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 0.2rem 0.55rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #444; }
.note { font-size: 0.85rem; color: #555; }
nav a { margin-right: 0.8rem; }
"""


def _coefficient_section(coefficients: pd.DataFrame, model: str) -> str:
    rows = coefficients.loc[coefficients["model"] == model].assign(label=lambda t: t["term"].map(_label))
    if rows.empty:
        return (
            f"<p class='note'>{html.escape(MODEL_TITLES[model])}: not estimable on this sample (see the fit table).</p>"
        )
    return f"<h3>{html.escape(MODEL_TITLES[model])}</h3>" + html_table(
        rows,
        {
            "label": "Term",
            "estimate": "Log-odds",
            "std_error": "SE",
            "odds_ratio": "Odds ratio",
            "ci_low": "95 % low",
            "ci_high": "95 % high",
            "p_value": "p",
        },
        {"p_value": 4},
    )


def _contribution_section(builder: ReportBuilder, tables: Mapping[str, pd.DataFrame]) -> str:
    indicators = tables["contribution_indicators"]
    published = indicators.loc[~indicators["suppressed"].astype(bool)]
    pooled_projects = published.loc[(published["unit_type"] == "project") & (published["period_type"] == POOLED)]
    yearly_projects = published.loc[(published["unit_type"] == "project") & (published["period_type"] == YEAR)]
    summary = tables["contribution_summary"]
    parts = [
        "<h2 id='contribution'>Contribution indicators</h2>",
        "<p>For every project (a Jobbsjansen project, or a municipality's introduction programme) the expected "
        "goal achievement is the mean of M1's predicted probabilities over its modelled participants; the "
        "contribution is actual minus expected, in percentage points, over all cohort years pooled. "
        f"Intervals are {INTERVAL_LEVEL:.0%}: binomial noise of the unit's outcomes around expected, M1's "
        "estimation error and, for pooled values, the year-to-year shocks estimated from all units. A unit is "
        "above (below) expectation when its whole interval is above (below) zero. Units with fewer than 5 "
        "participants are not shown.</p>",
    ]
    if pooled_projects.empty:
        return "".join(parts) + "<p class='note'>No project has 5 or more modelled participants.</p>"
    parts.append(
        builder.figure(
            quadrant_plot,
            (pooled_projects,),
            "fig21_contribution_quadrants",
            "Contribution and actual result (report figure 21)",
            "Each dot is a project with at least 5 modelled participants, sized by participants. Top left: better than "
            "expected with results below the national mean; bottom right: worse than expected with results above it.",
        )
    )
    parts.append(
        builder.figure(
            funnel_plot,
            (pooled_projects,),
            "contribution_funnel",
            "Contribution against project size",
            "Dashed: the range within which a project of that size lands by binomial noise alone; small projects "
            "scatter most, which is why the shrunken indicator pulls them toward zero.",
        )
    )
    parts.append("<h3>Spread of contributions (report table 6)</h3>")
    percentiles = tables["contribution_percentiles"]
    wide = percentiles.loc[percentiles["unit_type"] == "project"].pivot_table(
        index="percentile", columns="programme", values=["contribution_pp", "actual_pct"]
    )
    wide.columns = [f"{value}_{programme}" for value, programme in wide.columns]
    wide = wide.reset_index()
    columns = {"percentile": "Percentile"}
    for programme in ("intro", "jobbsjansen"):
        if f"contribution_pp_{programme}" in wide:
            columns[f"contribution_pp_{programme}"] = f"{PROGRAMME_LABELS[programme]}: contribution (pp)"
            columns[f"actual_pct_{programme}"] = f"{PROGRAMME_LABELS[programme]}: actual (%)"
    parts.append(html_table(wide, columns, {c: 0 for c in columns}))
    parts.append("<h3>Classification and quadrants</h3>")
    parts.append(
        html_table(
            summary.loc[summary["period_type"] == POOLED].assign(
                programme=lambda t: t["programme"].map(PROGRAMME_LABELS),
            ),
            {
                "unit_type": "Unit",
                "programme": "Programme",
                "n_units": "Units shown",
                "n_units_suppressed": "Units <5",
                "share_above": "Above",
                "share_in_line": "In line",
                "share_below": "Below",
                "share_positive_above_mean": "+ / above mean",
                "share_positive_below_mean": "+ / below mean",
                "share_negative_above_mean": "− / above mean",
                "share_negative_below_mean": "− / below mean",
                "between_unit_sd_pp": "τ (pp)",
                "year_shock_sd_pp": "ω (pp)",
            },
            {"share_above": 2, "share_in_line": 2, "share_below": 2, "between_unit_sd_pp": 1, "year_shock_sd_pp": 1},
        )
    )
    parts.append(
        "<p class='note'>Shares are of the units shown. τ: spread of the units' contributions beyond their sampling "
        "noise (the prior of the shrunken indicator); ω: spread of a unit's yearly contributions around its own "
        "mean beyond binomial noise.</p>"
    )
    parts.append("<h3>Year-to-year stability</h3>")
    stability = tables["contribution_stability"]
    parts.append(
        html_table(
            stability.assign(programme=lambda t: t["programme"].map(PROGRAMME_LABELS)),
            {
                "unit_type": "Unit",
                "programme": "Programme",
                "first_year": "Year",
                "second_year": "Next year",
                "n_units": "Units in both",
                "pearson": "Pearson r",
                "spearman": "Spearman ρ",
                "same_classification_share": "Same classification",
            },
        )
    )
    if not yearly_projects.empty:
        parts.append(
            builder.figure(
                stability_plot,
                (yearly_projects,),
                "contribution_stability",
                "Year-to-year stability of project contributions",
                "Each dot is a project's contribution in one cohort year against the next; projects with fewer than 5 "
                "participants in either year are left out.",
            )
        )
    return "".join(parts)


def _predicted_vs_actual_section(builder: ReportBuilder, predicted_vs_actual: pd.DataFrame) -> str:
    parts = [
        "<h2 id='predicted'>Predicted and actual goal achievement</h2>",
        "<p>M1's mean predicted probability and the actual share by programme within levels of each characteristic. "
        "Cells with fewer than 5 participants are left out of the charts and shown as &lt;5 in the table.</p>",
    ]
    table = predicted_vs_actual.loc[predicted_vs_actual["model"] == "m1"]
    for characteristic, (title, reference) in CHARACTERISTIC_TITLES.items():
        if not (table["characteristic"] == characteristic).any():
            continue
        parts.append(
            builder.figure(
                predicted_vs_actual_plot,
                (table, characteristic),
                f"predicted_vs_actual_{characteristic}",
                f"{title} (report {reference})",
                "Grey: predicted by M1; colour: actual; <5: fewer than 5 participants, not shown.",
            )
        )
    parts.append(
        "<details><summary>All cells</summary>"
        + html_table(
            table.sort_values(["characteristic", "programme", "level_order"]),
            {
                "characteristic": "Characteristic",
                "programme": "Programme",
                "level": "Level",
                "n": "n",
                "predicted": "Predicted",
                "actual": "Actual",
            },
            {"predicted": 3, "actual": 3},
            suppressed_column="suppressed",
        )
        + "</details>"
    )
    return "".join(parts)


def _missingness_section(builder: ReportBuilder, missingness: pd.DataFrame | None) -> str:
    parts = ["<h2 id='missingness'>Missing values</h2>"]
    if missingness is None or missingness.empty:
        return "".join(parts) + "<p class='note'>quality.missingness was not available to this run.</p>"
    parts.append(
        builder.figure(
            missingness_plot,
            (missingness,),
            "missingness_by_variable",
            "Share missing per variable",
            "All ended participations, all cohort years; from quality.missingness.",
        )
    )
    parts.append(
        builder.figure(
            missingness_by_characteristic_plot,
            (missingness,),
            "missingness_by_characteristic",
            "Spor or Norwegian level missing, by characteristic (report table 15)",
            "Participations with a determinable outcome, both programmes; cells of fewer than 5 persons left out.",
        )
    )
    return "".join(parts)


def _page_body(
    builder: ReportBuilder,
    tables: Mapping[str, pd.DataFrame],
    missingness: pd.DataFrame | None,
    run_id: str,
    outcome_variant: str,
) -> list[str]:
    fit = tables["model_fit"]
    coefficients = tables["model_coefficients"]
    return [
        "<h1>Goal achievement in Jobbsjansen and the introduction programme: models and contribution indicators</h1>",
        f"<p class='note'>Run <code>{html.escape(run_id)}</code>; outcome variant <code>{html.escape(outcome_variant)}</code>. "
        "Only aggregates: no person-level rows, and no cell describing fewer than 5 persons.</p>",
        "<nav><a href='#m1'>M1</a><a href='#predicted'>Predicted vs actual</a><a href='#contribution'>Contribution</a>"
        "<a href='#multilevel'>M2 and M3</a><a href='#missingness'>Missing values</a></nav>",
        "<h2 id='m1'>M1: individual logistic model</h2>",
        builder.figure(
            forest_plot,
            (coefficients,),
            "fig20_odds_ratios",
            "Odds ratios of goal achievement, M1 (report figure 20)",
            "Reference: woman, region Europa, no measure of the kind. A point right of 1 means higher odds of goal achievement.",
        ),
        "<h3>Model fit</h3>",
        html_table(
            fit.assign(model=lambda t: t["model"].map(MODEL_TITLES)),
            {
                "model": "Model",
                "n": "n",
                "n_groups": "Units",
                "log_likelihood": "Log likelihood",
                "aic": "AIC",
                "pseudo_r2": "Pseudo R²",
                "sigma2_u": "σ²ᵤ",
                "icc": "ICC",
                "converged": "Converged",
                "method": "Method",
            },
            {"log_likelihood": 2, "aic": 1, "pseudo_r2": 3, "sigma2_u": 3, "icc": 3},
        ),
        _coefficient_section(coefficients, "m1"),
        "<details><summary>M1 for women only (report table 19)</summary>"
        + _coefficient_section(coefficients, "m1_women")
        + "</details>",
        "<h3>Variance inflation (report table 18)</h3>",
        html_table(
            tables["vif"].loc[tables["vif"]["model"] == "m1"].assign(term=lambda t: t["term"].map(_label)),
            {"term": "Term", "df": "df", "vif": "VIF", "gvif_adjusted": "GVIF^(1/2df)"},
        ),
        "<h3>Likelihood-ratio tests</h3>",
        html_table(
            tables["lr_tests"],
            {
                "model": "Model",
                "comparison": "Comparison",
                "block": "Block",
                "df": "df",
                "lr_statistic": "LR",
                "p_value": "p",
            },
            {"p_value": 4},
        ),
        "<h3>Archetypes</h3>",
        html_table(
            tables["archetype_predictions"],
            {
                "description": "Archetype",
                "ordning": "Jobbsjansen",
                "predicted_probability": "Predicted",
                "ci_low": "95 % low",
                "ci_high": "95 % high",
                "report_probability": "Report",
            },
            {"predicted_probability": 3, "ci_low": 3, "ci_high": 3, "report_probability": 2},
        ),
        _predicted_vs_actual_section(builder, tables["predicted_vs_actual"]),
        _contribution_section(builder, tables),
        "<h2 id='multilevel'>M2 and M3: multilevel models</h2>",
        *[_coefficient_section(coefficients, model) for model in ("m2", "m3", "m2_women", "m3_women")],
        _missingness_section(builder, missingness),
    ]


def write_report(
    out_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    missingness: pd.DataFrame | None,
    run_id: str,
    outcome_variant: str,
) -> list[Path]:
    """Write index.html and its figures to ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    builder = ReportBuilder(out_dir)
    body = _page_body(builder, tables, missingness, run_id, outcome_variant)
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Analysis report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return [index] + [out_dir / name for figure in builder.figures for name in figure.files()]
