"""The auditors' report and Data Docs as a reader gets them: they load in a browser with their
tables, show the planted problems, and carry no person key or national identity number."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import duckdb
import pytest
from browser import dump_dom, requires_chromium
from stdnum.no import fodselsnummer
from test_quality_units import OSLO_SPOR_EMPTIED, UNKNOWN_LABEL_ROW, run_quality

from expectations import auditors_report, storage

HEX_TOKEN = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32,}(?![0-9a-fA-F])")
PERSON_KEY = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])")
IDENTIFIER_DIGITS = re.compile(r"(?<!\d)\d{11,12}(?!\d)")


@pytest.fixture
def degraded_reports():
    _, _, _, paths = run_quality(degraded=True)
    return paths


def table_rows(dom: str, table_id: str) -> list[str]:
    match = re.search(rf"<table id=\"{re.escape(table_id)}\">(.*?)</table>", dom, re.DOTALL)
    assert match, f"table {table_id} not in the rendered page"
    return [
        html.unescape(re.sub(r"<[^>]+>", " ", row))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.DOTALL)
    ]


def test_report_shows_status_failures_and_suppressed_cells(degraded_reports):
    text = html.unescape(degraded_reports.auditors_report.read_text(encoding="utf-8"))
    assert "Stoppet: 3 kritiske kontrollresultater feilet" in text
    assert (
        f"nir/nir_deltakere_2019.csv row {UNKNOWN_LABEL_ROW}, column Avslutningsaarsak: "
        "unknown label 'Permisjon' (not in seed nir_avslutningsaarsaker)"
    ) in text
    assert "nir/nir_deltakere_2019.csv rows 12 and 13, column Fodselsnummer: the same person" in text
    assert "0301 Oslo (30 exits): 80.0% lack spor" in text
    assert "raw.nir_deltakere: 31 rows delivered, 50.8% of the previous year's 61" in text
    # The one exit without an outcome in 2019 (the unknown label) is a cell of one person.
    assert "<5" in text
    assert f"missing 77.4% ({OSLO_SPOR_EMPTIED} of 31)" in text


def test_report_in_english_on_request(degraded_reports):
    warehouse = degraded_reports.auditors_report.parents[1] / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        page = auditors_report.render(
            con, "run-test", storage.run_results(con, "run-test"), Path("/landing"), synthetic=True, language="en"
        )
    text = html.unescape(page)
    assert '<html lang="en">' in page and 'id="synthetic-banner"' in page
    assert "Blocked: 3 critical expectation results failed" in text
    assert "<h2>7. Quarantine</h2>" in page
    assert any("0301 Oslo" in row and "39.0%" in row for row in table_rows(page, "missingness-table-15"))


@pytest.mark.browser
@requires_chromium
def test_report_and_data_docs_render_with_their_tables(degraded_reports):
    report = dump_dom(degraded_reports.auditors_report)
    failed = table_rows(report, "failed-expectations")
    severities = [row.split()[0] for row in failed[1:] if row.split() and row.split()[0] in ("kritisk", "advarsel")]
    assert severities == ["kritisk"] * 3 + ["advarsel"] * 5
    assert any("Permisjon" in row and f"row {UNKNOWN_LABEL_ROW}" in row for row in failed)
    for table_id in (
        "sources",
        "exclusions",
        "seeds",
        "suite-summary",
        "thresholds",
        "missingness-table-15",
        "missingness-table-16",
        "missingness-goal",
        "missingness-by-variable",
        "quarantine-summary",
        "quarantine-rows",
    ):
        assert re.search(rf"<table id=\"{table_id}\">", report), table_id
    assert table_rows(report, "quarantine-summary")[1].strip().split(maxsplit=4) == [
        "nir_deltakere",
        "duplicate_person",
        "Fodselsnummer",
        "<5",
        "Samme person står flere ganger i samme fil, og ingen av radene brukes: be dataeieren avklare hvilken "
        "rad som gjelder og levere filen på nytt.",
    ]
    table_15 = table_rows(report, "missingness-table-15")
    assert any("0301 Oslo" in row and "39,0\u00a0%" in row for row in table_15)  # 23 of 59

    link = re.search(r'<a href="(quality/validations/[^"]+)">Data Docs</a>', report).group(1)
    linked_page = dump_dom(degraded_reports.auditors_report.parent.as_uri() + "/" + link)
    assert "participant_exits_intro.completeness" in html.unescape(linked_page)

    index = dump_dom(degraded_reports.data_docs_dir / "index.html")
    validations = table_rows(index, "validation-results")
    assert len(validations) == 1 + 22  # heading + one row per suite and partition validated
    assert sum(row.split()[0] == "Failed" for row in validations[1:]) == 5
    page = next(
        path
        for path in (degraded_reports.data_docs_dir / "validations").rglob("*.html")
        if "raw_nir_deltakere/validity" in path.as_posix() and "2019" in path.name
    )
    validation = html.unescape(re.sub(r"<[^>]+>", " ", dump_dom(page)))
    # GX lists unexpected values with their counts; file and row are in the auditors' report.
    assert re.search(r"Unexpected Value\s+Count\s+Permisjon\s+1\b", validation)


def _identifiers_in_landing(landing: Path) -> set[str]:
    identifiers = set()
    for path in landing.rglob("*.csv"):
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" else raw.decode("utf-8", errors="replace")
        delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
        reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
        for row in reader:
            for column in ("Fodselsnummer", "fnr", "duf"):
                if row.get(column):
                    identifiers.add(row[column].strip())
    return identifiers


def _texts(home: Path) -> dict[Path, str]:
    files = [
        home / "reports" / "auditors_report.html",
        *(home / "reports" / "quality").rglob("*.html"),
        *(home / "gx").rglob("*.json"),
    ]
    return {path: path.read_text(encoding="utf-8") for path in files}


@pytest.mark.slow
def test_reports_carry_no_person_keys_or_identity_numbers(built_warehouse):
    home = built_warehouse.settings.home
    with duckdb.connect(str(built_warehouse.settings.published_path), read_only=True) as con:
        person_keys = {
            key for (key,) in con.execute("select distinct person_key from marts.participant_exits").fetchall()
        }
    identifiers = _identifiers_in_landing(built_warehouse.landing_dir)
    assert len(person_keys) > 1000 and len(identifiers) > 1000
    texts = _texts(home)
    assert len(texts) > 20
    for path, text in texts.items():
        assert not (set(PERSON_KEY.findall(text)) & person_keys), path
        digits = set(IDENTIFIER_DIGITS.findall(HEX_TOKEN.sub(" ", text)))
        assert not (digits & identifiers), path
        assert not [number for number in digits if len(number) == 11 and fodselsnummer.is_valid(number)], path
