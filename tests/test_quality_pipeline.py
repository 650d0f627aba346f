"""Great Expectations inside the pipeline: the clean sample passes, a degraded delivery blocks.

The degraded delivery plants four known problems in a copy of the sample: spor emptied
for 80 % of one municipality's 2018 exits, an unknown end-reason label in one 2018 row,
one person delivered twice in the 2018 file, and the 2019 NIR files cut to half their
rows. The label and the duplicated person are row-level problems: quarantined at the door,
well below the quarantine threshold. The pipeline must fail exactly the expectations the
other problems imply, skip the models and publication, and still write Data Docs and an
auditors' report that show each problem.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import point_environment_at
from pipeline_env import RUN_ENVIRONMENT, restored_environment

UNKNOWN_LABEL = "Permisjon"
SPOR_EMPTIED_SHARE = 0.8
PROBLEM_YEAR = 2018
HALVED_YEAR = 2019


def spaced(count: int) -> str:
    """Counts as the reports print them: thousands separated by a space."""
    return f"{count:,}".replace(",", " ")


def read_nir(path: Path) -> tuple[list[str], list[list[str]], str]:
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    rows = list(csv.reader(raw.decode(encoding).splitlines(), delimiter=";"))
    return rows[0], rows[1:], encoding


def write_nir(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


@dataclass(frozen=True)
class Planted:
    kommunenummer: str
    kommunenavn: str
    municipality_exits: int
    spor_emptied: int
    label_row: int
    duplicate_rows: tuple[int, int]
    rows_problem_year: int
    rows_before_halving: int
    rows_after_halving: int
    previous_year_rows: int


def degrade(landing: Path) -> Planted:
    deltakere = landing / "nir" / f"nir_deltakere_{PROBLEM_YEAR}.csv"
    header, rows, encoding = read_nir(deltakere)
    column = {name: index for index, name in enumerate(header)}
    by_municipality: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_municipality.setdefault(row[column["Avsl_Kommunenummer"]], []).append(index)
    # The second-largest municipality: large enough to judge (≥ 20 exits), not Oslo, whose size
    # would move the programme-level share too.
    kommunenummer, members = sorted(by_municipality.items(), key=lambda item: -len(item[1]))[1]
    emptied = members[: math.ceil(SPOR_EMPTIED_SHARE * len(members))]
    for index in emptied:
        rows[index][column["SporForste"]] = ""
        rows[index][column["SporSiste"]] = ""
    others = [index for index in range(len(rows)) if index not in set(members)]
    label_index, duplicated_index = others[10], others[20]
    rows[label_index][column["Avslutningsaarsak"]] = UNKNOWN_LABEL
    rows.append(list(rows[duplicated_index]))
    write_nir(deltakere, header, rows, encoding)

    halved = landing / "nir" / f"nir_deltakere_{HALVED_YEAR}.csv"
    halved_header, halved_rows, halved_encoding = read_nir(halved)
    kept = halved_rows[: len(halved_rows) // 2]
    write_nir(halved, halved_header, kept, halved_encoding)
    # Columns come in any order (landing-zone.md), so the person is found by name.
    kept_persons = {row[halved_header.index("Fodselsnummer")] for row in kept}
    tiltak = landing / "nir" / f"nir_tiltak_{HALVED_YEAR}.csv"
    tiltak_header, tiltak_rows, tiltak_encoding = read_nir(tiltak)
    person = tiltak_header.index("Fodselsnummer")
    write_nir(tiltak, tiltak_header, [row for row in tiltak_rows if row[person] in kept_persons], tiltak_encoding)

    # Spreadsheet row numbers: the header is row 1.
    return Planted(
        kommunenummer=kommunenummer,
        kommunenavn=rows[members[0]][column["Avsl_Kommunenavn"]],
        municipality_exits=len(members),
        spor_emptied=len(emptied),
        label_row=label_index + 2,
        duplicate_rows=(duplicated_index + 2, len(rows) + 1),
        rows_problem_year=len(rows),
        rows_before_halving=len(halved_rows),
        rows_after_halving=len(kept),
        previous_year_rows=len(rows),
    )


@pytest.fixture(scope="module")
def degraded_run(sample_landing, tmp_path_factory):
    from orchestration.progress import Display
    from orchestration.runner import run_pipeline

    root = tmp_path_factory.mktemp("degraded")
    landing = root / "landing"
    import shutil

    shutil.copytree(sample_landing, landing)
    planted = degrade(landing)
    with restored_environment(*RUN_ENVIRONMENT):
        settings = point_environment_at(landing, root / "home")
        outcome = run_pipeline(settings, display=Display(io.StringIO()))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        failed = con.execute(
            """
            select severity, suite, "partition", column_name, observed_value, threshold, details
            from quality.validation_results where not success
            order by severity, suite, "partition", column_name, threshold
            """
        ).fetchall()
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
    return planted, settings, outcome, failed, tables


@pytest.mark.slow
def test_clean_sample_passes_every_critical_expectation(built_warehouse):
    with duckdb.connect(str(built_warehouse.settings.published_path), read_only=True) as con:
        critical = con.execute(
            'select suite, "partition", column_name, observed_value from quality.validation_results '
            "where severity = 'critical' and not success"
        ).fetchall()
        total = con.execute("select count(*) from quality.validation_results").fetchall()[0][0]
    assert critical == []
    assert total > 400


@pytest.mark.slow
def test_degraded_delivery_fails_the_planted_expectations(degraded_run):
    planted, _, _, failed, _ = degraded_run
    by_key = {
        (severity, suite, partition, column, threshold): (observed, details)
        for severity, suite, partition, column, observed, threshold, details in failed
    }
    share = planted.spor_emptied / planted.municipality_exits
    municipality = f"{planted.kommunenummer} {planted.kommunenavn} ({planted.municipality_exits} exits)"
    municipality_failure = by_key[
        (
            "warning",
            "municipality_year_intro.completeness",
            f"{PROBLEM_YEAR} intro",
            "spor_missing_share",
            "between 0 and 0.6 (failure level)",
        )
    ]
    assert f"{municipality}: {share:.1%} lack spor" in municipality_failure[0]

    duplicate = by_key[("warning", "raw_nir_deltakere.uniqueness", str(PROBLEM_YEAR), "person_key", "unique")]
    assert duplicate[0] == f"2 of {spaced(planted.rows_problem_year)} rows belong to a person delivered more than once"
    first, second = planted.duplicate_rows
    assert duplicate[1] == (
        f"nir/nir_deltakere_{PROBLEM_YEAR}.csv rows {first} and {second}, column Fodselsnummer: the same person"
    )

    volume = by_key[("critical", "raw_volume.previous_year", str(HALVED_YEAR), "ratio_to_previous_year", "≥ 0.55")]
    ratio = planted.rows_after_halving / planted.previous_year_rows
    assert (
        f"raw.nir_deltakere: {planted.rows_after_halving} rows delivered, {ratio:.1%} of the previous "
        f"year's {planted.previous_year_rows}"
    ) in volume[0]
    critical_suites = sorted({suite for severity, suite, *_ in failed if severity == "critical"})
    assert critical_suites == ["raw_volume.previous_year"]


@pytest.mark.slow
def test_degraded_delivery_blocks_models_and_publication(degraded_run):
    _, settings, outcome, _, tables = degraded_run
    assert not outcome.published
    assert any("critical_expectations" in failure for failure in outcome.failures)
    assert not settings.published_path.exists()
    assert not any(table.startswith("analysis.") for table in tables)
    assert not (settings.exports_dir).exists() or not any(settings.exports_dir.iterdir())


@pytest.mark.slow
def test_degraded_reports_show_each_problem(degraded_run):
    planted, settings, _, _, _ = degraded_run
    report = html.unescape((settings.reports_dir / "auditors_report.html").read_text(encoding="utf-8"))
    assert "Stoppet:" in report
    cells = " ".join(re.sub(r"<[^>]+>", " ", report).split())
    assert (
        f"nir/nir_deltakere_{PROBLEM_YEAR}.csv {planted.label_row} Avslutningsaarsak unknown_label "
        f"'{UNKNOWN_LABEL}' finnes ikke i seed `nir_avslutningsaarsaker`"
    ) in cells
    first, second = planted.duplicate_rows
    assert f"rows {first} and {second}, column Fodselsnummer: the same person" in report
    assert f"raw.nir_deltakere: {planted.rows_after_halving} rows delivered" in report
    assert f"{planted.kommunenummer} {planted.kommunenavn} ({planted.municipality_exits} exits)" in report

    docs = settings.reports_dir / "quality"
    pages = {page: html.unescape(page.read_text(encoding="utf-8")) for page in docs.rglob("*.html")}
    uniqueness = [
        text
        for page, text in pages.items()
        if "raw_nir_deltakere/uniqueness" in page.as_posix() and page.name.endswith(f"persons {PROBLEM_YEAR}.html")
    ]
    assert len(uniqueness) == 1 and "2 unexpected values found" in uniqueness[0]
    index = pages[docs / "index.html"]
    for suite in (
        "raw_nir_deltakere.uniqueness",
        "raw_nir_deltakere.validity",
        "raw_volume.previous_year",
        "municipality_year_intro.completeness",
    ):
        assert suite in index
