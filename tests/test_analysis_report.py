"""The analysis area end to end: Dagster assets on a small warehouse, the analysis.* tables, the report.

The warehouse holds a simulated marts.analysis_dataset (``analysis.simulation``, which has every
column the models read) and the data-quality colleague's quality.missingness computed from it, so
the assets run exactly as in a pipeline run without a dbt build.
"""

from __future__ import annotations

import functools
import html
import http.server
import io
import json
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import matplotlib.image
import pandas as pd
import pytest
from browser import dump_dom, requires_chromium
from dagster import AssetKey, DagsterInstance, materialize
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.backends.backend_svg import RendererSVG

from analysis import annex, report
from analysis.simulation import simulate_analysis_dataset
from expectations import missingness
from iwh.reporting import Language
from orchestration.analysis import assets as analysis_assets
from orchestration.analysis.resources import ReportWorkersResource
from orchestration.resources import WarehouseResource

RUN_TAGGED_TABLES = list(analysis_assets.TABLE_KEYS)
EXPECTED_FIGURES = [
    *(f"fig{number:02d}_descriptive" for number in range(2, 20)),
    "fig20_odds_ratios",
    "fig21_contribution_quadrants",
    "contribution_funnel",
    "contribution_stability",
    "predicted_vs_actual_spor",
    "predicted_vs_actual_norsk_tier",
    "predicted_vs_actual_fravaer_hoy",
    "predicted_vs_actual_botid_quartile",
    "predicted_vs_actual_varighet_quartile",
    "predicted_vs_actual_age_band",
    "fig24_m2_odds_ratios",
    "fig25_m3_odds_ratios",
    "missingness_by_variable",
    "missingness_by_characteristic",
]


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    frame, _ = simulate_analysis_dataset(scale=0.25, seed=17, truth="m2")
    return frame


@pytest.fixture(scope="module")
def home(tmp_path_factory, dataset) -> Path:
    home = tmp_path_factory.mktemp("analysis_home")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create schema quality")
        con.register("dataset", dataset)
        # Columns the simulation leaves out, read by the descriptive chapter.
        con.execute(
            "create table marts.analysis_dataset as select *, "
            "case when maloppnaelse = 1 then if(spor = 3, 'utdanning', 'arbeid') end as overgang, "
            "100 * n_kommune_aar as folkemengde, 70.0 as andel_sysselsatte, 10.0 as andel_uforetrygdede, "
            "3 as sentralitet, 'ordning_a' as js_scope from dataset"
        )
        con.execute(
            "create table marts.project_year as select programme, prosjekt_id, cohort_year, "
            "any_value(kommunenummer) as kommunenummer, any_value(n_prosjekt_aar) + 5 as antall_deltakere, "
            "40.0 * (any_value(n_prosjekt_aar) + 5) as lonnsutgifter_1000kr from dataset group by all"
        )
        # The unit pages name the municipalities.
        con.execute(
            "create table marts.municipality_year as select distinct kommunenummer, cohort_year, "
            "'Kommune ' || kommunenummer as kommunenavn from dataset"
        )
        con.execute(
            "create table marts.participant_exits as select *, 'Kommune ' || kommunenummer as kommunenavn from dataset"
        )
        con.register("missing", missingness.compute(con, run_id="quality-run"))
        con.execute("create table quality.missingness as select * from missing")
    return home


def _materialize(home: Path):
    result = materialize(
        analysis_assets.assets,
        resources={
            "warehouse": WarehouseResource(home=str(home), landing_dir=str(home / "landing")),
            "report_workers": ReportWorkersResource(),
        },
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def run(home):
    return _materialize(home)


@pytest.fixture(scope="module")
def warehouse_tables(home, run) -> dict[str, pd.DataFrame]:
    """The analysis tables as the report reads them: those of the outcome at exit."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {
            name: con.execute(
                f"select * from analysis.{name}"
                + ("" if name == "outcome_transitions" else " where outcome = 'maloppnaelse'")
            ).df()
            for name in RUN_TAGGED_TABLES
        }


@pytest.fixture(scope="module")
def report_dir(home, run) -> Path:
    return home / "reports" / "analysis"


def test_the_assets_hang_below_the_gated_mart_and_the_quality_step():
    models_deps = analysis_assets.analysis_models.asset_deps
    assert set(models_deps) == set(analysis_assets.TABLE_KEYS.values())
    for parents in models_deps.values():
        assert {key.to_user_string() for key in parents} == {"marts/analysis_dataset", "quality/validation_results"}
    report_deps = analysis_assets.analysis_report.asset_deps[AssetKey(["reports", "analysis_report"])]
    assert {key.to_user_string() for key in report_deps} == {
        *(f"analysis/{name}" for name in RUN_TAGGED_TABLES),
        "quality/missingness",
    }


def test_every_analysis_table_is_written_and_tagged_with_the_run(run, home):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tables = {name: con.execute(f"select * from analysis.{name}").df() for name in RUN_TAGGED_TABLES}
    # Both outcomes are modelled (the simulated follow-up covers every cohort but the latest); the
    # descriptive chapter is of the outcome at exit, the transitions of the status a year later.
    expected_outcomes = {"descriptives": {"maloppnaelse"}, "outcome_transitions": {"arbeid_utdanning_1aar"}}
    for name, table in tables.items():
        assert len(table) > 0, name
        assert set(table["run_id"]) == {run.run_id}, name
        assert set(table["outcome_variant"]) == {"report_text"}, name
        assert set(table["outcome"]) == expected_outcomes.get(name, {"maloppnaelse", "arbeid_utdanning_1aar"}), name
    fit = tables["model_fit"].set_index(["outcome", "model"])
    assert fit.loc[("maloppnaelse", "m1"), "converged"] and fit.loc[("arbeid_utdanning_1aar", "m1"), "converged"]


def test_rows_are_written_in_a_fixed_order(warehouse_tables):
    indicators = warehouse_tables["contribution_indicators"]
    keys = list(
        zip(
            indicators["unit_type"],
            indicators["unit_id"],
            indicators["period_type"],
            indicators["cohort_year"].fillna(0).astype(int),
        )
    )
    assert keys == sorted(keys)
    fit = warehouse_tables["model_fit"]
    assert fit["model"].tolist() == ["m1", "m1_women", "m2", "m2_women", "m3", "m3_women"]


def test_no_unit_under_five_participants_is_published_in_the_warehouse(home, run):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        shown_small = con.execute(
            "select count(*) from analysis.contribution_indicators where not suppressed and n < 5"
        ).fetchone()[0]
        hidden = con.execute(
            "select count(*), count(n), count(actual_pct), count(contribution_pp), count(ci_low_pp), count(shrunken_pp), "
            "count(classification), count(quadrant) from analysis.contribution_indicators where suppressed"
        ).fetchone()
        cells = con.execute(
            "select count(*) from analysis.predicted_vs_actual where not suppressed and n < 5"
        ).fetchone()[0]
    assert shown_small == 0 and cells == 0
    assert hidden[0] > 0 and hidden[1:] == (0,) * 7


def test_the_report_has_every_figure_as_png_and_svg(report_dir):
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images == [f"{stem}.png" for stem in _report_order(page)]
    assert sorted(Path(name).stem for name in images) == sorted(EXPECTED_FIGURES)
    for stem in EXPECTED_FIGURES:
        pixels = matplotlib.image.imread(report_dir / f"{stem}.png")
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500, stem
        root = ET.parse(report_dir / f"{stem}.svg").getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", stem
        assert f'href="{stem}.svg"' in page


def _report_order(page: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)"', page)


def test_one_layout_fits_the_text_of_both_formats(warehouse_tables, tmp_path):
    """The PNG and the SVG share one layout; measured with each format's own text metrics, no text may
    stick out of the figure (laid out with Agg's narrower metrics, the long term labels of figure 20
    were clipped at the SVG's left edge)."""
    fig = report.forest_plot(warehouse_tables["model_coefficients"], "m1", Language("nb"))
    report.write_figure(fig, tmp_path, "fig20_odds_ratios")
    width, height = fig.get_size_inches()
    fig.set_dpi(72)
    svg = fig.get_tightbbox(RendererSVG(width * 72, height * 72, io.StringIO()))
    fig.set_dpi(report.PNG_DPI)
    png = fig.get_tightbbox(RendererAgg(round(width * report.PNG_DPI), round(height * report.PNG_DPI), report.PNG_DPI))
    for name, box in (("svg", svg), ("png", png)):
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, (name, box.bounds, width, height)


def test_figures_drawn_by_worker_processes_are_those_drawn_in_one_process(home, report_dir, tmp_path, warehouse_tables):
    """The asset draws in the run's worker processes (ReportWorkersResource); without a pool,
    write_report draws in its own."""
    tables = warehouse_tables
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        missing = con.execute("select * from quality.missingness").df()
    report.write_report(tmp_path, tables, missing, run_id="one-process", outcome_variant="report_text")
    for stem in EXPECTED_FIGURES:
        for suffix in (".png", ".svg"):
            assert (tmp_path / f"{stem}{suffix}").read_bytes() == (report_dir / f"{stem}{suffix}").read_bytes(), (
                stem + suffix
            )


def test_the_quadrant_plot_shows_exactly_the_published_projects(report_dir, warehouse_tables):
    indicators = warehouse_tables["contribution_indicators"]
    shown = indicators.loc[
        (indicators["unit_type"] == "project") & (indicators["period_type"] == "pooled") & ~indicators["suppressed"]
    ]
    root = ET.parse(report_dir / "fig21_contribution_quadrants.svg").getroot()
    collections = [
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("PathCollection")
    ]
    # One marker per point; the first two collections are the scatters, the rest legend keys.
    points = [len(collection.findall("{http://www.w3.org/2000/svg}path")) for collection in collections[:2]]
    assert points == [(shown["programme"] == "intro").sum(), (shown["programme"] == "jobbsjansen").sum()]
    assert (
        len(
            indicators.loc[
                indicators["suppressed"]
                & (indicators["period_type"] == "pooled")
                & (indicators["unit_type"] == "project")
            ]
        )
        > 0
    )


def test_the_report_carries_no_identifiers(report_dir, dataset):
    text = "".join(
        path.read_text(encoding="utf-8")
        for path in sorted(report_dir.glob("*.html")) + sorted(report_dir.glob("*.svg"))
    )
    assert not re.search(r"\b[0-9a-f]{32}\b", text)
    assert not any(key in text for key in dataset["person_key"].head(500))
    assert "intro-" not in text and "Jobbsjansen 1" not in text  # unit ids are for the table, not the report


@pytest.mark.browser
@requires_chromium
def test_every_figure_loads_in_a_browser(report_dir, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(report_dir, served / "analysis")
    (served / "check.html").write_text(CHECK_PAGE, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            dom = dump_dom(f"http://127.0.0.1:{server.server_address[1]}/check.html", virtual_time_budget_ms=15_000)
        finally:
            server.shutdown()
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert sorted(Path(image["src"]).stem for image in result["images"]) == sorted(EXPECTED_FIGURES)
    assert all(image["width"] > 300 for image in result["images"]), result["images"]
    assert sorted(result["svgs"]) == sorted(f"{stem}.svg" for stem in EXPECTED_FIGURES)
    assert all(result["svgs"].values()), result["svgs"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


# Loads the report in a same-origin frame, then records each image's decoded width and whether
# each SVG link serves a parseable SVG document.
CHECK_PAGE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="report" src="analysis/index.html" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById('report').addEventListener('load', async (event) => {
  const doc = event.target.contentDocument;
  const images = Array.from(doc.images).map(i => ({src: i.getAttribute('src'), width: i.naturalWidth}));
  const svgs = {};
  for (const link of Array.from(doc.querySelectorAll('a[href$=".svg"]'))) {
    const response = await fetch(link.href);
    const text = await response.text();
    const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
    svgs[link.getAttribute('href')] = response.ok && parsed.documentElement.nodeName === 'svg';
  }
  document.getElementById('result').textContent = JSON.stringify({images, svgs});
});
</script></body></html>
"""


def test_the_report_is_in_bokmal_by_default(report_dir):
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    assert '<html lang="nb">' in page
    assert "<h1>Måloppnåelse i Jobbsjansen og introduksjonsprogrammet</h1>" in page
    assert "<h2>Vedlegg: Rapport 13/2022 og denne kjøringen</h2>" in page
    # The active scope and outcome coding are named; no synthetic sample was read.
    assert "<code>ordning_a</code>" in page and "<code>report_text</code>" in page
    assert "synthetic-banner" not in page
    # Numbers as Norwegian readers write them: a decimal comma in the model tables.
    coefficients = re.search(r'<table id="coefficients-m1">(.*?)</table>', page, re.S).group(1)
    assert re.search(r'<td class="num">-?\d+,\d\d</td>', coefficients)
    assert not re.search(r'<td class="num">-?\d+\.\d\d</td>', coefficients)
    # The annex renders every published number of the seed, with its bokmål explanation.
    seed = annex.published_values()
    rows = re.findall(r"<tr>(.*?)</tr>", re.search(r'<table id="annex-table">(.*?)</table>', page, re.S).group(1))
    assert len(rows) == 1 + len(seed)
    explanations = [html.unescape(re.findall(r"<td>(.*?)</td>", row)[-1]) for row in rows[1:]]
    assert explanations == seed["explanation_nb"].tolist()
    assert "Tabell 1" in page and "Rapport 13/2022" in page


def test_the_report_in_english_on_a_synthetic_sample(warehouse_tables, tmp_path):
    annex = pd.DataFrame(
        {
            "report_table": ["Tabell 17", "ICC"],
            "row": ["Alder", "Kommunemodell"],
            "column": ["Individmodell", "ICC"],
            "unit": ["log-odds", "andel"],
            "published": [-0.05, 0.097],
            "decimals": [2, 3],
            "this_run": [-0.0512, float("nan")],
            "difference": [-0.0012, float("nan")],
            "explanation": ["", "The report's ICC uses another variance."],
        }
    )
    report.write_report(
        tmp_path,
        warehouse_tables,
        None,
        run_id="run-en",
        outcome_variant="table8_literal",
        js_scope="alle",
        synthetic=True,
        language="en",
        annex=annex,
    )
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert page.index('id="synthetic-banner"') < page.index("<h1>")
    assert "<h1>Goal achievement in Jobbsjansen and the introduction programme</h1>" in page
    assert "every Jobbsjansen scheme" in page and "<code>alle</code>" in page
    # Term labels stay Norwegian in English.
    assert "<td>Høyt fravær (≥ 10 %)</td>" in page
    rows = re.findall(r"<tr>(.*?)</tr>", re.search(r'<table id="annex-table">(.*?)</table>', page, re.S).group(1))
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]
    assert cells[1:] == [
        ["Tabell 17", "Alder", "Individmodell", "log-odds", "-0.05", "-0.05", "-0.00", ""],
        ["ICC", "Kommunemodell", "ICC", "share", "0.097", "–", "–", "The report&#39;s ICC uses another variance."],
    ]
