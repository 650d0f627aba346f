"""The analysis report: one HTML page with the model tables and the figures of report 13/2022.

Built from the analysis.* tables as they are written to the warehouse (and quality.missingness),
never from person-level rows, so it shows exactly what analysts can query. Suppressed rows
(fewer than 5 participants) are left out of every figure and printed as ``<5`` in tables.
Figures are written as PNG and SVG beside ``index.html`` and referenced by relative path.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.contribution import INTERVAL_LEVEL, POOLED, YEAR  # noqa: E402
from analysis.specification import REGION_TERMS  # noqa: E402

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


@dataclass
class Figure:
    stem: str
    title: str
    caption: str

    def files(self) -> list[str]:
        return [f"{self.stem}.png", f"{self.stem}.svg"]


@dataclass
class ReportBuilder:
    out_dir: Path
    figures: list[Figure] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def save(self, fig: plt.Figure, stem: str, title: str, caption: str) -> str:
        fig.savefig(self.out_dir / f"{stem}.png", dpi=150, bbox_inches="tight", metadata={"Software": None})
        # A fixed hash salt and no date keep the SVG identical for identical tables.
        with plt.rc_context({"svg.hashsalt": "iwh-analysis-report"}):
            fig.savefig(self.out_dir / f"{stem}.svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        figure = Figure(stem, title, caption)
        self.figures.append(figure)
        return (
            f'<figure id="{stem}"><img src="{stem}.png" alt="{html.escape(title)}">'
            f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)} "
            f'<a href="{stem}.svg">SVG</a></figcaption></figure>'
        )


def _label(term: str) -> str:
    return TERM_LABELS.get(term, term)


def _number(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}".replace(",", " ")
    if isinstance(value, (float, np.floating)):
        return f"{value:,.{digits}f}".replace(",", " ")
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, columns: Mapping[str, str], digits: Mapping[str, int] | None = None,
               suppressed_column: str | None = None) -> str:
    """A plain HTML table; on rows flagged in ``suppressed_column`` every empty number reads ``<5``."""
    digits = digits or {}
    head = "".join(f"<th>{html.escape(title)}</th>" for title in columns.values())
    rows = []
    for _, row in frame.iterrows():
        hidden = bool(suppressed_column and row[suppressed_column])
        cells = []
        for column in columns:
            text = _number(row[column], digits.get(column, 2))
            if hidden and text == "":
                text = SUPPRESSED
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def forest_plot(coefficients: pd.DataFrame) -> plt.Figure:
    """Report figure 20: M1's odds ratios with 95 % intervals on a log axis."""
    table = coefficients.loc[(coefficients["model"] == "m1") & (coefficients["term"] != "const")].iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(table) + 1.2))
    y = np.arange(len(table))
    ax.errorbar(
        table["odds_ratio"], y,
        xerr=[table["odds_ratio"] - table["ci_low"], table["ci_high"] - table["odds_ratio"]],
        fmt="o", color="#1f5fa8", ecolor="#7a9cc6", capsize=2, markersize=4,
    )
    ax.axvline(1.0, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_yticks(y, [_label(term) for term in table["term"]], fontsize=8)
    ax.set_xlabel("Odds ratio (log scale), 95 % confidence interval")
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    return fig


def quadrant_plot(pooled_projects: pd.DataFrame) -> plt.Figure:
    """Report figure 21: contribution against actual result, both programmes, quadrants at zero
    contribution and the national mean."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for programme in ("intro", "jobbsjansen"):
        units = pooled_projects.loc[pooled_projects["programme"] == programme]
        ax.scatter(units["actual_pct"], units["contribution_pp"], s=12 + 0.15 * units["n"].astype(float),
                   color=PROGRAMME_COLOURS[programme], alpha=0.75, edgecolor="white", linewidth=0.4,
                   label=f"{PROGRAMME_LABELS[programme]} ({len(units)} units)")
    national = float(pooled_projects["national_mean_pct"].iloc[0])
    ax.axhline(0.0, color="#444444", linewidth=0.8)
    ax.axvline(national, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Actual goal achievement, % (dashed: national mean {national:.0f} %)")
    ax.set_ylabel("Contribution, percentage points")
    limit = max(10.0, float(np.nanmax(np.abs(pooled_projects["contribution_pp"]))) * 1.1)
    ax.set_ylim(-limit, limit)
    for x, y, text, align in ((2, limit * 0.92, "better than expected,\nbelow average", "left"),
                              (98, limit * 0.92, "better than expected,\nabove average", "right"),
                              (2, -limit * 0.92, "worse than expected,\nbelow average", "left"),
                              (98, -limit * 0.92, "worse than expected,\nabove average", "right")):
        ax.text(x, y, text, ha=align, va="center", fontsize=7.5, color="#555555")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def funnel_plot(pooled_projects: pd.DataFrame) -> plt.Figure:
    """Contribution against unit size with the 90 % limits of pure binomial noise: how far a unit
    of that size strays from zero by chance alone."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for programme in ("intro", "jobbsjansen"):
        units = pooled_projects.loc[pooled_projects["programme"] == programme]
        ax.scatter(units["n"].astype(float), units["contribution_pp"], s=14, color=PROGRAMME_COLOURS[programme],
                   alpha=0.75, edgecolor="white", linewidth=0.4, label=PROGRAMME_LABELS[programme])
    share = float(pooled_projects["national_mean_pct"].iloc[0]) / 100
    sizes = np.geomspace(5, max(10.0, float(pooled_projects["n"].max())), 200)
    z = float(pd.Series([INTERVAL_LEVEL]).map(lambda level: __import__("scipy.stats").stats.norm.ppf(0.5 + level / 2)).iloc[0])
    limit = 100 * z * np.sqrt(share * (1 - share) / sizes)
    ax.plot(sizes, limit, color="#444444", linewidth=0.8, linestyle="--", label=f"{INTERVAL_LEVEL:.0%} binomial limits")
    ax.plot(sizes, -limit, color="#444444", linewidth=0.8, linestyle="--")
    ax.axhline(0.0, color="#444444", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("Modelled participants, all years (log scale)")
    ax.set_ylabel("Contribution, percentage points")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def predicted_vs_actual_plot(table: pd.DataFrame, characteristic: str) -> plt.Figure:
    """Report figures 22–28: mean predicted probability and actual share by programme within the
    levels of one characteristic (suppressed cells left out)."""
    rows = table.loc[(table["characteristic"] == characteristic) & ~table["suppressed"].astype(bool)]
    levels = rows[["level", "level_order"]].drop_duplicates().sort_values("level_order")["level"].tolist()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4), sharey=True)
    for ax, programme in zip(axes, ("jobbsjansen", "intro")):
        part = rows.loc[rows["programme"] == programme].set_index("level").reindex(levels)
        x = np.arange(len(levels))
        ax.bar(x - 0.2, 100 * part["predicted"].astype(float), width=0.4, color=PREDICTED_COLOUR, label="Predicted (M1)")
        ax.bar(x + 0.2, 100 * part["actual"].astype(float), width=0.4, color=PROGRAMME_COLOURS[programme], label="Actual")
        ax.set_xticks(x, levels, fontsize=8, rotation=20 if max(map(len, levels), default=0) > 6 else 0)
        ax.set_title(PROGRAMME_LABELS[programme], fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    axes[0].set_ylabel("Goal achievement, %")
    return fig


def stability_plot(yearly: pd.DataFrame) -> plt.Figure:
    """Each unit's contribution in one year against the next (published unit-years only)."""
    values = yearly.pivot_table(index=["unit_id", "programme"], columns="cohort_year", values="contribution_pp")
    years = sorted(values.columns)
    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    for programme in ("intro", "jobbsjansen"):
        part = values.xs(programme, level="programme") if programme in values.index.get_level_values("programme") else None
        if part is None:
            continue
        first = np.concatenate([part[a].to_numpy() for a, b in zip(years, years[1:])])
        second = np.concatenate([part[b].to_numpy() for a, b in zip(years, years[1:])])
        keep = ~np.isnan(first) & ~np.isnan(second)
        ax.scatter(first[keep], second[keep], s=10, alpha=0.6, color=PROGRAMME_COLOURS[programme], label=PROGRAMME_LABELS[programme])
    ax.axhline(0, color="#444444", linewidth=0.6)
    ax.axvline(0, color="#444444", linewidth=0.6)
    ax.set_xlabel("Contribution in year t, pp")
    ax.set_ylabel("Contribution in year t + 1, pp")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#eeeeee", linewidth=0.6)
    return fig


def missingness_plot(missingness: pd.DataFrame) -> plt.Figure:
    """Share missing per variable and programme, all cohort years (quality.missingness)."""
    rows = missingness.loc[
        (missingness["report_table"] == "by_variable") & missingness["cohort_year"].isna() & ~missingness["suppressed"].astype(bool)
    ]
    variables = sorted(rows["variable"].unique())
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(variables) + 1.2))
    y = np.arange(len(variables))
    for offset, programme in ((-0.2, "jobbsjansen"), (0.2, "intro")):
        part = rows.loc[rows["programme"] == programme].set_index("variable").reindex(variables)
        ax.barh(y + offset, 100 * part["value"].astype(float), height=0.4, color=PROGRAMME_COLOURS[programme],
                label=PROGRAMME_LABELS[programme])
    ax.set_yticks(y, variables, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Share missing, % of ended participations")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig


def missingness_by_characteristic_plot(missingness: pd.DataFrame) -> plt.Figure:
    """Report table 15 as a chart: share with spor or Norwegian level missing, by characteristic."""
    rows = missingness.loc[
        (missingness["report_table"] == "15") & (missingness["programme"] == "all")
        & ~missingness["suppressed"].astype(bool) & missingness["characteristic"].isin(["kjonn", "fravaer", "region"])
    ].sort_values(["characteristic", "category"])
    labels = [f"{c}: {v}" for c, v in zip(rows["characteristic"], rows["category"])]
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(rows) + 1.2))
    ax.barh(np.arange(len(rows)), 100 * rows["value"].astype(float), color="#6b6b6b")
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Share with spor or Norwegian level missing, %")
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    return fig
