"""The quality run on a small hand-made warehouse (tests/quality_sample.py): exact results, fast."""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import quality_sample
from expectations import missingness
from expectations.run import QualityPaths, validate_warehouse

OSLO_SPOR_EMPTIED = 24  # 80 % of Oslo's 2019 exits
UNKNOWN_LABEL_ROW = 7
DUPLICATED_ROWS = (12, 13)
NIR_2019_KEPT = 31  # rows 32–61 of the 2019 file dropped: half the year's volume


def degrade(frames: dict[str, pd.DataFrame]) -> None:
    nir = frames["nir_deltakere"]
    cohort = nir[nir["cohort_year"] == 2019]
    oslo = cohort[cohort["avsl_kommunenummer"] == "0301"]
    nir.loc[oslo.index[:OSLO_SPOR_EMPTIED], "sporforste"] = None
    # A cohort file's first data row is row 2 (header = 1).
    nir.loc[cohort.index[UNKNOWN_LABEL_ROW - 2], "avslutningsaarsak"] = "Permisjon"
    first, second = (cohort.index[row - 2] for row in DUPLICATED_ROWS)
    nir.loc[second, "person_key"] = nir.loc[first, "person_key"]
    # Ingestion quarantines the second row of a duplicated person; the first one stays.
    frames["quarantine"] = pd.DataFrame([quality_sample.quarantine_row(
        nir.loc[second], "Fodselsnummer", "duplicate_person", f"same person as row {DUPLICATED_ROWS[0]}")])
    frames["nir_deltakere"] = nir.drop(cohort.index[NIR_2019_KEPT:])


@functools.cache
def run_quality(degraded: bool):
    """One quality run per variant for the whole session: the report tests read the same one."""
    tmp_path = Path(tempfile.mkdtemp(prefix=f"iwh-quality-{'degraded' if degraded else 'clean'}-"))
    warehouse = quality_sample.build(tmp_path / "warehouse.duckdb", degrade if degraded else None)
    paths = QualityPaths.under(tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        outcome = validate_warehouse(con, paths, "run-test", landing_dir=tmp_path / "landing", synthetic=True)
        stored = con.execute("select * from quality.validation_results").df()
        missing = con.execute("select * from quality.missingness").df()
    return outcome, stored, missing, paths


@pytest.fixture
def clean():
    return run_quality(degraded=False)


@pytest.fixture
def degraded():
    return run_quality(degraded=True)


def failures(stored: pd.DataFrame) -> list[tuple]:
    failed = stored[~stored["success"]].sort_values(["severity", "suite", "partition", "column_name", "threshold"])
    return [
        (row.severity, row.suite, row.partition, row.column_name, row.observed_value, row.threshold)
        for row in failed.itertuples()
    ]


def test_clean_sample_passes_every_expectation(clean):
    outcome, stored, _, _ = clean
    # 116 expectations per cohort year (suites.py), two cohort years.
    assert len(stored) == 232
    assert failures(stored) == []
    assert set(stored["run_id"]) == {"run-test"}
    assert outcome.critical_failures.empty


def test_degraded_sample_fails_exactly_the_planted_problems(degraded):
    _, stored, _, _ = degraded
    assert failures(stored) == [
        ("critical", "participant_exits_intro.completeness", "2019 intro", "spor",
         "missing 77.4% (24 of 31)", "missing ≤ 60%"),
        ("critical", "raw_nir_deltakere.uniqueness", "2019", "person_key",
         "2 of 31 rows belong to a person delivered more than once", "unique"),
        ("critical", "raw_nir_deltakere.validity", "2019", "avslutningsaarsak",
         "1 of 30 values unexpected (3.33%)", "in seed nir_avslutningsaarsaker (24 values)"),
        ("critical", "raw_volume.previous_year", "2019", "ratio_to_previous_year",
         "raw.nir_deltakere: 31 rows delivered, 50.8% of the previous year's 61", "≥ 0.55"),
        ("warning", "municipality_year_intro.completeness", "2019 intro", "spor_missing_share",
         "0301 Oslo (30 exits): 80.0% lack spor", "between 0 and 0.4 (warning level)"),
        ("warning", "municipality_year_intro.completeness", "2019 intro", "spor_missing_share",
         "0301 Oslo (30 exits): 80.0% lack spor", "between 0 and 0.6 (failure level)"),
        ("warning", "participant_exits_intro.completeness", "2019 intro", "spor",
         "missing 77.4% (24 of 31)", "missing ≤ 40%"),
        ("warning", "raw_volume.previous_year", "2019", "ratio_to_previous_year",
         "raw.nir_deltakere: 31 rows delivered, 50.8% of the previous year's 61", "between 0.8 and 1.5"),
    ]


def test_failures_name_file_row_and_column(degraded):
    _, stored, _, _ = degraded
    details = stored[~stored["success"] & (stored["severity"] == "critical")].set_index(["suite", "column_name"])["details"]
    assert details[("raw_nir_deltakere.validity", "avslutningsaarsak")] == (
        "nir/nir_deltakere_2019.csv row 7, column Avslutningsaarsak: "
        "unknown label 'Permisjon' (not in seed nir_avslutningsaarsaker)"
    )
    assert details[("raw_nir_deltakere.uniqueness", "person_key")] == (
        "nir/nir_deltakere_2019.csv rows 12 and 13, column Fodselsnummer: the same person"
    )


def test_no_person_key_in_results_or_data_docs(degraded):
    _, stored, _, paths = degraded
    keys = {quality_sample.person_key("intro", year, index) for year in quality_sample.YEARS for index in range(61)}
    texts = [stored.to_csv()] + [page.read_text(encoding="utf-8") for page in paths.data_docs_dir.rglob("*.html")]
    texts += [result.read_text(encoding="utf-8") for result in (paths.gx_root / "validations").rglob("*.json")]
    texts.append(paths.auditors_report.read_text(encoding="utf-8"))
    found = {key for text in texts for key in re.findall(r"[0-9a-f]{32}", text) if key in keys}
    assert found == set()


def test_data_docs_reference_nothing_outside_the_site(degraded):
    _, stored, _, paths = degraded
    linked = {paths.data_docs_dir / page for page in stored["data_docs_page"]}
    assert len(linked) == 22 and all(page.is_file() for page in linked)
    pages = list(paths.data_docs_dir.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"https?://", text), page
        assert "<script" not in text, page
    index = (paths.data_docs_dir / "index.html").read_text(encoding="utf-8")
    assert index.count("FAILED") == 5
    assert "raw_nir_deltakere.validity" in index


def test_missingness_tables_15_16_and_goal_achievement(degraded):
    _, _, missing, _ = degraded
    table = missing.set_index(["report_table", "programme", "characteristic", "category", "variable", "statistic"])
    intro = table.loc[("15", "all", "programme", "Introduksjonsprogrammet", "spor_or_norsk_score", "share_missing")]
    # 61 exits in 2018 and 31 in 2019, 24 of them without spor; the row with the unknown end
    # reason (one of the 24) has no outcome, so it is outside the report's population.
    assert (intro["n_persons"], intro["n_numerator"]) == (91, 23)
    assert intro["value"] == pytest.approx(23 / 91)
    oslo = table.loc[("15", "intro", "kommune", "0301 Oslo", "spor_or_norsk_score", "share_missing")]
    assert (oslo["n_persons"], oslo["n_numerator"]) == (59, 23)
    mean_age = table.loc[("16", "all", "programme", "Alle", "alder", "mean_with_missing")]
    assert mean_age["n_persons"] == 23
    goal = table.loc[("goal_achievement", "intro", "programme", "Introduksjonsprogrammet", "maloppnaelse",
                      "share_achieved_with_missing")]
    assert (goal["n_persons"], goal["n_numerator"]) == (23, 12)


def test_missingness_suppresses_small_cells(degraded):
    _, _, missing, _ = degraded
    # Trondheim has 6 exits a year (12 pooled) and none missing: shown. Jobbsjansen has 16 exits
    # and 0 missing: shown. A group of 1–4 missing among others is withheld.
    suppressed = missing[missing["suppressed"]]
    assert suppressed["value"].isna().all() and suppressed["n_numerator"].isna().all()
    shown = missing[~missing["suppressed"]]
    counted = shown[shown["n_numerator"].notna()]
    small = counted[(counted["n_numerator"].between(1, 4)) | ((counted["n_persons"] - counted["n_numerator"]).between(1, 4))]
    assert small.empty
    assert (shown["n_persons"].dropna() >= missingness.MIN_CELL).all()


def test_suppression_rule_on_shares():
    frame = pd.DataFrame({"n_persons": [3, 10, 10, 10, 10], "n_numerator": [0, 0, 2, 8, 5]})
    result = missingness._suppress_shares(frame.copy())
    assert result["suppressed"].tolist() == [True, False, True, True, False]
    assert result["value"].tolist()[1] == 0.0 and result["value"].tolist()[4] == 0.5
