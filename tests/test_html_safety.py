"""Delivered text cannot script the reports: every HTML page carries the Content-Security-Policy
(iwh.html_policy) and shows delivered labels as text, as a reader's Chromium sees them.

Labels carrying markup are delivered (into the hand-made quality warehouse for the Data Docs and
the auditors' report; into a copy of the synthetic landing zone for a whole `iwh run`), every
page under IWH_HOME/reports is opened in Chromium, and the DOM, the dialogs and what the policy
blocked are checked.
"""

from __future__ import annotations

import html
import io
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
import quality_sample
from browser import Browser, PageVisit, requires_chromium
from pipeline_env import RUN_ENVIRONMENT, point_environment_at, restored_environment
from test_quality_pipeline import read_nir, write_nir
from test_quality_units import degrade

from expectations.run import QualityPaths, validate_warehouse
from iwh.html_policy import POLICY, meta_tag

IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg onload=alert(2)>"
SCRIPT = "<script>alert(3)</script>"
PAYLOADS = (IMG, SVG, SCRIPT)
# onerror, onload, …; not AngularJS's on-select in dbt docs, which is no event handler.
EVENT_HANDLER = re.compile(r"^on[a-z]+$")


class _Elements(HTMLParser):
    """The elements of a DOM, the text of its scripts and the policies its meta tags carry."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.policies: list[str | None] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "content-security-policy":
            self.policies.append(attributes.get("content"))

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def _elements(dom: str) -> _Elements:
    parser = _Elements()
    parser.feed(dom)
    parser.close()
    return parser


def assert_inert(visit: PageVisit, policy: str | None = POLICY) -> _Elements:
    """No dialog, nothing blocked, no element or handler from a payload, and the policy in place
    (``policy`` None: a policy of the page's own, checked by the caller)."""
    assert visit.dialogs == [], visit.url
    parsed = _elements(visit.dom)
    handlers = [(tag, name) for tag, attributes in parsed.elements for name in attributes if EVENT_HANDLER.match(name)]
    assert handlers == [], visit.url
    assert not any(tag == "img" and attributes.get("src") == "x" for tag, attributes in parsed.elements), visit.url
    assert not any(script.strip() == "alert(3)" for script in parsed.scripts), visit.url
    assert len(parsed.policies) == 1, visit.url
    if policy is not None:
        assert parsed.policies == [policy], visit.url
        assert visit.blocked == [], (visit.url, visit.blocked)
    return parsed


def shown_as_text(visit: PageVisit) -> set[str]:
    """The payloads the page shows as text (in the DOM as escaped text, not as markup)."""
    return {payload for payload in PAYLOADS if html.escape(payload, quote=False) in visit.dom}


@pytest.mark.browser
@requires_chromium
def test_browser_attributes_what_each_page_did_to_that_page_across_tabs(tmp_path):
    """The check below visits pages several at a time: a page that scripts is caught, and only it."""
    quiet = "<!DOCTYPE html><html><head></head><body><p>stille</p></body></html>"
    scripted = {
        2: "<script>alert('to')</script>",
        5: "<script>console.log('fem')</script>",
        9: IMG,
    }
    pages = []
    for number in range(11):
        page = tmp_path / f"side_{number}.html"
        body = scripted.get(number, "")
        policy = f"<head>{meta_tag(POLICY)}</head>" if number == 9 else "<head></head>"
        page.write_text(quiet.replace("<head></head>", policy).replace("</body>", body + "</body>"), encoding="utf-8")
        pages.append(page)
    with Browser(tabs=4) as browser:
        visits = list(browser.visit_all(pages))
    assert [visit.url for visit in visits] == [page.as_uri() for page in pages]
    assert {number for number, visit in enumerate(visits) if visit.dialogs} == {2}
    assert visits[2].dialogs == ["alert: to"]
    assert {number for number, visit in enumerate(visits) if visit.console} == {5, 9}
    assert visits[5].console == ["fem"]
    assert {number for number, visit in enumerate(visits) if visit.blocked} == {9}
    assert [entry["violatedDirective"] for entry in visits[9].blocked] == ["script-src-attr"]
    assert all("stille" in visit.dom for visit in visits)


def with_markup_labels(frames) -> None:
    degrade(frames)
    nir = frames["nir_deltakere"]
    cohort = nir[nir["cohort_year"] == 2018]
    nir.loc[cohort.index[3], "statsborgerskapforste"] = IMG
    nir.loc[cohort.index[4], "statsborgerskapforste"] = SVG
    nir.loc[cohort.index[5], "avslutningsaarsak"] = SCRIPT


@pytest.mark.browser
@requires_chromium
def test_data_docs_and_auditors_report_show_delivered_markup_as_text(tmp_path):
    warehouse = quality_sample.build(tmp_path / "warehouse.duckdb", with_markup_labels)
    paths = QualityPaths.under(tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        validate_warehouse(con, paths, "run-markup", landing_dir=tmp_path / "landing", synthetic=True)
    pages = sorted(paths.data_docs_dir.rglob("*.html")) + [paths.auditors_report]
    shown: dict[Path, set[str]] = {}
    with Browser() as browser:
        for page, visit in zip(pages, browser.visit_all(pages), strict=True):
            assert_inert(visit)
            shown[page] = shown_as_text(visit)
    [validation] = [page for page in pages if page.name.endswith("raw.nir_deltakere accepted rows 2018.html")]
    # GX lists the unexpected values of both expectations that failed on them.
    assert shown[validation] == set(PAYLOADS)
    assert shown[paths.auditors_report] == set(PAYLOADS)


def deliver_markup_labels(landing: Path) -> None:
    deltakere = landing / "nir" / "nir_deltakere_2018.csv"
    header, rows, encoding = read_nir(deltakere)
    column = header.index
    rows[3][column("StatsborgerskapForste")] = IMG
    rows[4][column("StatsborgerskapForste")] = SVG
    rows[5][column("Avslutningsaarsak")] = SCRIPT
    write_nir(deltakere, header, rows, encoding)


def page_kind(reports: Path, page: Path) -> str:
    relative = page.relative_to(reports).as_posix()
    if relative.startswith("quality/"):
        return "data docs " + ("index" if relative == "quality/index.html" else relative.split("/")[1])
    return relative


@pytest.mark.slow
@pytest.mark.browser
@requires_chromium
def test_no_page_of_a_run_runs_delivered_markup(sample_landing, tmp_path):
    from orchestration.progress import Display
    from orchestration.runner import run_pipeline

    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    deliver_markup_labels(landing)
    with restored_environment(*RUN_ENVIRONMENT):
        settings = point_environment_at(landing, tmp_path / "home")
        outcome = run_pipeline(settings, display=Display(io.StringIO()))
    # Three rows of some 1 600 are quarantined (unknown labels), below the blocking threshold.
    assert outcome.published, outcome.failures
    reports = settings.reports_dir
    pages = sorted(reports.rglob("*.html"))
    shown: set[str] = set()
    with Browser() as browser:
        for page, visit in zip(pages, browser.visit_all(pages), strict=True):
            if page_kind(reports, page) == "dbt_docs/index.html":
                [policy] = assert_inert(visit, policy=None).policies
                # dbt's page runs its own inline script, allowed by hash; nothing else runs.
                directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
                assert directives["default-src"] == ["'none'"]
                assert directives["script-src"] and all(
                    source.startswith("'sha256-") for source in directives["script-src"]
                )
                # AngularJS probes whether it may eval (it may not) and works without it.
                assert {entry["contentSecurityPolicyViolationType"] for entry in visit.blocked} <= {"kEvalViolation"}
                assert "participant_exits" in visit.dom
            else:
                assert_inert(visit)
            shown |= shown_as_text(visit)
    kinds = Counter(page_kind(reports, page) for page in pages)
    expected = {
        "data docs index",
        "data docs validations",
        "data docs expectations",
        "auditors_report.html",
        "dbt_docs/index.html",
        "analysis/index.html",
    }
    assert expected <= set(kinds), kinds
    assert shown == set(PAYLOADS)
