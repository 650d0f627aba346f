"""Unit pages: views of the warehouse's tables, a page for exactly the published units, links that resolve."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from browser import console_messages, dump_dom, requires_chromium

from analysis.report_workers import report_workers
from analysis.unit_pages import INDEX_PAGES, PAGE_BATCHES, page_file, write_unit_pages
from iwh import html_policy
from iwh.reporting import Language, RunFacts

RUN = RunFacts("run-test", "report_text", "ordning_a", True, dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))


class _Tables(HTMLParser):
    """Cell texts of every table with an id, and every link target, of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and "id" in attributes:
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Tables:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def pages(built_warehouse, tmp_path_factory):
    directory = tmp_path_factory.mktemp("enheter")
    con = duckdb.connect(str(built_warehouse.settings.published_path), read_only=True)
    try:
        written = write_unit_pages(con, directory, Language("nb"), RUN)
        indicators = con.execute("select * from analysis.contribution_indicators where outcome = 'maloppnaelse'").df()
        transitions = con.execute(
            "select * from analysis.outcome_transitions where level = 'municipality' and programme = 'alle' "
            "and period_type = 'pooled'"
        ).df()
        dataset = con.execute("select * from marts.analysis_dataset where complete_case").df()
    finally:
        con.close()
    return written, indicators, dataset, transitions


def test_a_page_exists_for_exactly_the_units_with_a_published_pooled_indicator(pages):
    written, indicators, _, _ = pages
    pooled = indicators[indicators["period_type"] == "pooled"]
    published = pooled[~pooled["suppressed"] & (pooled["n"] >= 5)]
    expected = {page_file(t, u) for t, u in zip(published["unit_type"], published["unit_id"])}
    hidden = pooled[pooled["suppressed"] | (pooled["n"] < 5)]
    assert len(expected) > 20 and len(hidden) > 0
    files = {path.name for path in written.directory.glob("*.html")}
    assert files - {page for page, _ in INDEX_PAGES.values()} == expected
    assert not {page_file(t, u) for t, u in zip(hidden["unit_type"], hidden["unit_id"])} & files


def test_pages_written_by_worker_processes_are_those_written_in_one_process(built_warehouse, pages, tmp_path):
    """The build writes them in the run's report workers; without a pool, in its own process."""
    written = pages[0]
    assert len(written.units) > PAGE_BATCHES
    con = duckdb.connect(str(built_warehouse.settings.published_path), read_only=True)
    try:
        with report_workers(multiprocessing.get_context("forkserver"), workers=2) as pool:
            by_workers = write_unit_pages(con, tmp_path, Language("nb"), RUN, pool=pool)
    finally:
        con.close()
    assert by_workers.units == written.units
    assert sorted(path.name for path in tmp_path.iterdir()) == written.files
    for name in written.files:
        assert (tmp_path / name).read_bytes() == (written.directory / name).read_bytes(), name


def test_the_pages_numbers_are_the_tables_numbers(pages):
    written, indicators, _, _ = pages
    lang = Language("nb")
    for unit in written.units:
        rows = indicators[
            (indicators["unit_type"] == unit.unit_type)
            & (indicators["unit_id"] == unit.unit_id)
            & (indicators["programme"] == unit.programme)
        ].sort_values(
            ["period_type", "cohort_year"],
            key=lambda c: c.map({"pooled": 0, "year": 1}) if c.name == "period_type" else c,
        )
        shown = parse(written.directory / unit.file).tables["indikatorer"][1:]
        assert len(shown) == len(rows)
        for cells, row in zip(shown, rows.to_dict("records")):
            if row["suppressed"]:
                assert cells[2:5] == ["<5"] * 3 and cells[5] == "" and cells[6] == "<5"
                continue
            assert cells[1] == lang.count(row["n"])
            assert cells[2] == lang.percent_of_100(row["actual_pct"], 1)
            assert cells[3] == lang.percent_of_100(row["expected_pct"], 1)
            assert cells[4] == lang.decimal(row["contribution_pp"], 1)
            assert cells[5] == f"{lang.decimal(row['ci_low_pp'], 1)} til {lang.decimal(row['ci_high_pp'], 1)}"
            assert cells[6] == lang.decimal(row["shrunken_pp"], 1)


def test_the_composition_is_counted_from_the_modelled_rows_with_small_cells_withheld(pages):
    written, _, dataset, _ = pages
    municipality = max((u for u in written.units if u.unit_type == "municipality"), key=lambda u: u.n)
    rows = parse(written.directory / municipality.file).tables["sammensetning"][1:]
    gender = {cells[1]: cells for cells in rows if cells[0] == "Kjønn"}
    here = dataset[dataset["kommunenummer"] == municipality.unit_id]
    women = int((here["kjonn_mann"] == 0).sum())
    national_women = (dataset["kjonn_mann"] == 0).mean()
    assert gender["Kvinne"][2] == Language("nb").count(women)
    assert gender["Kvinne"][4] == Language("nb").percent(national_women, 1)
    small = [cells for cells in rows if cells[2] == "<5"]
    assert all(cells[3] == "<5" for cells in small)


def test_every_index_link_resolves_and_every_page_carries_the_policy(pages):
    written, _, _, _ = pages
    for page, _ in INDEX_PAGES.values():
        parsed = parse(written.directory / page)
        targets = [link for link in parsed.links if not link.startswith(("http:", "https:", "#"))]
        assert len(targets) >= len(written.units)
        assert all((written.directory / link).is_file() for link in targets)
    for path in written.directory.glob("*.html"):
        assert html_policy.META_TAG in path.read_text(encoding="utf-8")


def test_a_small_known_warehouse_gets_pages_for_its_two_published_units_only(tmp_path):
    con = duckdb.connect()
    con.execute("create schema analysis; create schema marts")
    indicators = pd.DataFrame(
        [
            # unit_type, unit_id, programme, period_type, cohort_year, n, contribution, suppressed
            ("municipality", "0301", "all", "pooled", None, 40, 5.0, False),
            ("municipality", "0301", "all", "year", 2019, 40, 5.0, False),
            ("municipality", "1103", "all", "pooled", None, 12, -3.0, False),
            ("municipality", "5001", "all", "pooled", None, 4, None, True),
            ("municipality", "4601", "all", "pooled", None, 30, None, True),
        ],
        columns=[
            "unit_type",
            "unit_id",
            "programme",
            "period_type",
            "cohort_year",
            "n",
            "contribution_pp",
            "suppressed",
        ],
    )
    for column in ("actual_pct", "expected_pct", "ci_low_pp", "ci_high_pp", "shrunken_pp"):
        indicators[column] = indicators["contribution_pp"]
    indicators["classification"] = "in_line"
    indicators["outcome"] = "maloppnaelse"
    indicators["national_mean_pct"] = 45.0
    con.register("indicators", indicators)
    con.execute("create table analysis.contribution_indicators as select * from indicators")
    con.execute(
        "create table marts.municipality_year as select * from (values ('0301', 2019, 'Oslo'), ('1103', 2019, "
        "'Stavanger <b>')) v(kommunenummer, cohort_year, kommunenavn)"
    )
    con.execute(
        "create table marts.project_year as select '' as programme, '' as prosjekt_id, '' as kommunenummer, "
        "2019 as cohort_year where false"
    )
    con.execute(
        "create table marts.analysis_dataset as select '0301' as kommunenummer, null as prosjekt_id, "
        "'intro' as programme, true as complete_case, i % 2 as kjonn_mann, 30 as alder, 'Europa' as region, "
        "1 as spor, 'A2' as norsk_tier, 2.5 as norsk_score from range(40) t(i)"
    )
    written = write_unit_pages(con, tmp_path, Language("en"), RUN)
    assert sorted(path.name for path in tmp_path.glob("kommune-*.html")) == ["kommune-0301.html", "kommune-1103.html"]
    stavanger = (tmp_path / "kommune-1103.html").read_text(encoding="utf-8")
    assert "Stavanger &lt;b&gt;" in stavanger and "Stavanger <b>" not in stavanger
    by_indicator = parse(tmp_path / "etter-indikator.html").tables["enheter"][1:]
    assert [cells[1] for cells in by_indicator] == ["0301", "1103"]
    assert [u.unit_id for u in written.units] == ["0301", "1103"]


def test_a_municipality_with_a_follow_up_shows_its_transitions_as_the_table_has_them(pages):
    written, _, _, transitions = pages
    lang = Language("nb")
    shown_any = False
    for unit in written.units:
        if unit.unit_type != "municipality":
            continue
        rows = transitions[transitions["kommunenummer"] == unit.unit_id]
        page = parse(written.directory / unit.file).tables.get("ett-aar-etter")
        if rows.empty:
            assert page is None
            continue
        shown_any = True
        shown = {(cells[0], cells[1]): cells[2:] for cells in page[1:]}
        assert len(shown) == len(rows) and len(rows) in (3, 6)
        for row in rows.to_dict("records"):
            at_exit = (
                "nådde arbeid eller utdanning ved avslutning"
                if row["maloppnaelse"] == 1
                else "nådde det ikke ved avslutning"
            )
            later = {
                "arbeid_eller_utdanning": "i arbeid eller utdanning",
                "ikke_arbeid_eller_utdanning": "ikke i arbeid eller utdanning",
                "utvandret_eller_dod": "utvandret eller død",
            }[row["status_1aar_gruppe"]]
            expected = (
                ["<5", "<5"] if row["suppressed"] else [lang.count(row["n"]), lang.percent_of_100(row["share_pct"], 1)]
            )
            assert shown[(at_exit, later)] == expected
    assert shown_any


@requires_chromium
def test_chromium_renders_the_index_and_a_unit_page_without_a_console_message(pages):
    written, _, _, _ = pages
    index = dump_dom(written.directory / "index.html")
    assert 'id="enheter"' in index
    unit = dump_dom(written.directory / written.units[0].file)
    assert "<svg" in unit and 'id="indikatorer"' in unit
    for page in ("index.html", written.units[0].file):
        assert console_messages(written.directory / page) == []
