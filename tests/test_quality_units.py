"""The quality run on a small hand-made warehouse (tests/quality_sample.py): exact results, fast."""

from __future__ import annotations

import functools
import json
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import quality_sample

from expectations import missingness, reuse
from expectations.run import QualityPaths, validate_warehouse
from expectations.suites import SUITES

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
    frames["quarantine"] = pd.DataFrame(
        [
            quality_sample.quarantine_row(
                nir.loc[second], "Fodselsnummer", "duplicate_person", f"same person as row {DUPLICATED_ROWS[0]}"
            )
        ]
    )
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
        (
            "critical",
            "participant_exits_intro.completeness",
            "2019 intro",
            "spor",
            "missing 77.4% (24 of 31)",
            "missing ≤ 60%",
        ),
        (
            "critical",
            "raw_nir_deltakere.validity",
            "2019",
            "avslutningsaarsak",
            "1 of 30 values unexpected (3.33%)",
            "in seed nir_avslutningsaarsaker (24 values)",
        ),
        (
            "critical",
            "raw_volume.previous_year",
            "2019",
            "ratio_to_previous_year",
            "raw.nir_deltakere: 31 rows delivered, 50.8% of the previous year's 61",
            "≥ 0.55",
        ),
        (
            "warning",
            "municipality_year_intro.completeness",
            "2019 intro",
            "spor_missing_share",
            "0301 Oslo (30 exits): 80.0% lack spor",
            "between 0 and 0.4 (warning level)",
        ),
        (
            "warning",
            "municipality_year_intro.completeness",
            "2019 intro",
            "spor_missing_share",
            "0301 Oslo (30 exits): 80.0% lack spor",
            "between 0 and 0.6 (failure level)",
        ),
        (
            "warning",
            "participant_exits_intro.completeness",
            "2019 intro",
            "spor",
            "missing 77.4% (24 of 31)",
            "missing ≤ 40%",
        ),
        (
            "warning",
            "raw_nir_deltakere.uniqueness",
            "2019",
            "person_key",
            "2 of 31 rows belong to a person delivered more than once",
            "unique",
        ),
        (
            "warning",
            "raw_volume.previous_year",
            "2019",
            "ratio_to_previous_year",
            "raw.nir_deltakere: 31 rows delivered, 50.8% of the previous year's 61",
            "between 0.8 and 1.5",
        ),
    ]


def test_failures_name_file_row_and_column(degraded):
    _, stored, _, _ = degraded
    details = (
        stored[~stored["success"]]
        .drop_duplicates(["suite", "column_name"])
        .set_index(["suite", "column_name"])["details"]
    )
    assert details[("raw_nir_deltakere.validity", "avslutningsaarsak")] == (
        "nir/nir_deltakere_2019.csv row 7, column Avslutningsaarsak: "
        "unknown label 'Permisjon' (not in seed nir_avslutningsaarsaker)"
    )
    assert details[("raw_nir_deltakere.uniqueness", "person_key")] == (
        "nir/nir_deltakere_2019.csv rows 12 and 13, column Fodselsnummer: the same person"
    )


def test_gx_results_list_unexpected_values_with_counts_only_where_values_are_shown(degraded):
    _, _, _, paths = degraded
    validations = paths.gx_root / "validations"

    def results(suite: str, batch: str) -> dict:
        [path] = (validations / suite.replace(".", "/")).rglob(f"warehouse-{batch}.json")
        return {
            (result["expectation_config"]["kwargs"]["column"], result["expectation_config"]["severity"]): result
            for result in json.loads(path.read_text(encoding="utf-8"))["results"]
        }

    labels = results("raw_nir_deltakere.validity", "raw.nir_deltakere accepted rows 2019")
    assert labels[("avslutningsaarsak", "critical")]["result"]["partial_unexpected_counts"] == [
        {"value": "Permisjon", "count": 1}
    ]
    assert labels[("statsborgerskapforste", "critical")]["result"]["unexpected_count"] == 0
    [page] = (paths.data_docs_dir / "validations" / "raw_nir_deltakere" / "validity").rglob("*accepted rows 2019.html")
    assert "Permisjon" in page.read_text(encoding="utf-8")
    spor = results("participant_exits_intro.completeness", "marts.participant_exits completeness 2019 intro")
    assert spor[("spor", "critical")]["result"] == {
        "element_count": 31,
        "unexpected_count": 24,
        "unexpected_percent": pytest.approx(77.42, abs=0.01),
        "partial_unexpected_list": [],
    }


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
    assert index.count('<td class="failed">Failed</td>') == 5
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
    goal = table.loc[
        (
            "goal_achievement",
            "intro",
            "programme",
            "Introduksjonsprogrammet",
            "maloppnaelse",
            "share_achieved_with_missing",
        )
    ]
    assert (goal["n_persons"], goal["n_numerator"]) == (23, 12)


def test_missingness_suppresses_small_cells(degraded):
    _, _, missing, _ = degraded
    # Trondheim has 6 exits a year (12 pooled) and none missing: shown. Jobbsjansen has 16 exits
    # and 0 missing: shown. A group of 1–4 missing among others is withheld.
    suppressed = missing[missing["suppressed"]]
    assert suppressed["value"].isna().all() and suppressed["n_numerator"].isna().all()
    shown = missing[~missing["suppressed"]]
    counted = shown[shown["n_numerator"].notna()]
    small = counted[
        (counted["n_numerator"].between(1, 4)) | ((counted["n_persons"] - counted["n_numerator"]).between(1, 4))
    ]
    assert small.empty
    assert (shown["n_persons"].dropna() >= missingness.MIN_CELL).all()


def test_suppression_rule_on_shares():
    frame = pd.DataFrame({"n_persons": [3, 10, 10, 10, 10], "n_numerator": [0, 0, 2, 8, 5]})
    result = missingness._suppress_shares(frame.copy())
    assert result["suppressed"].tolist() == [True, False, True, True, False]
    assert result["value"].tolist()[1] == 0.0 and result["value"].tolist()[4] == 0.5


# The partitions whose batch degrade() changes: every other one is identical in both samples.
# The unknown end reason leaves one exit without an outcome, which makes maloppnaelse a float
# column in marts.participant_exits, so every year and programme of that table changes type.
CHANGED_BY_DEGRADE = {
    ("raw_nir_deltakere.uniqueness", "2019"),
    ("raw_nir_deltakere.validity", "2019"),
    *(
        (f"participant_exits_{programme}.{suite}", f"{year} {programme}")
        for programme in ("intro", "jobbsjansen")
        for suite in ("completeness", "validity")
        for year in (2018, 2019)
    ),
    ("municipality_year_intro.completeness", "2019 intro"),
    ("raw_volume.previous_year", "2019"),
}
RUN_METADATA = ["run_id", "validated_at", "data_docs_page"]


def comparable(stored: pd.DataFrame) -> pd.DataFrame:
    columns = [column for column in stored.columns if column not in RUN_METADATA]
    return (
        stored[columns]
        .sort_values(["suite", "partition", "expectation", "column_name", "threshold"])
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def clean_then_degraded(tmp_path_factory):
    """A clean delivery validated, then a degraded one validated with the same GX history."""
    root = tmp_path_factory.mktemp("reuse")
    paths = QualityPaths.under(root)
    outcomes = []
    for name, degrade_frames in (("clean", None), ("degraded", degrade)):
        warehouse = quality_sample.build(root / f"{name}.duckdb", degrade_frames)
        with duckdb.connect(str(warehouse)) as con:
            outcome = validate_warehouse(con, paths, f"run-{name}", landing_dir=root / "landing", synthetic=True)
            outcomes.append((outcome, con.execute("select * from quality.validation_results").df()))
    return paths, outcomes


def test_unchanged_partitions_reuse_their_results_and_changed_ones_are_validated(clean_then_degraded):
    _, [(clean, _), (degraded, stored)] = clean_then_degraded
    assert clean.reused == []
    every = set(stored[["suite", "partition"]].itertuples(index=False, name=None))
    assert len(every) == 22
    assert set(degraded.reused) == every - CHANGED_BY_DEGRADE
    assert len(degraded.reused) == len(set(degraded.reused)) == 10


def test_reused_results_give_the_rows_a_fresh_validation_gives(clean_then_degraded):
    paths, [(_, clean_stored), (_, stored)] = clean_then_degraded
    _, fresh, _, _ = run_quality(degraded=True)
    pd.testing.assert_frame_equal(comparable(stored), comparable(fresh))
    # A reused row links to the page of the validation that produced it, in the earlier run.
    pages = stored.set_index(["suite", "partition"])["data_docs_page"]
    clean_pages = clean_stored.set_index(["suite", "partition"])["data_docs_page"]
    unchanged = ("raw_nir_deltakere.validity", "2018")
    assert "/run-clean/" in pages[unchanged].iloc[0]
    assert pages[unchanged].iloc[0] == clean_pages[unchanged].iloc[0]
    assert "/run-degraded/" in pages[("raw_nir_deltakere.validity", "2019")].iloc[0]
    assert all((paths.data_docs_dir / page).is_file() for page in stored["data_docs_page"])
    index = (paths.data_docs_dir / "index.html").read_text(encoding="utf-8")
    # 22 validations of the clean run, 12 of the degraded one (its reused ones were not run again).
    assert index.count("<td>run-clean</td>") == 22 and index.count("<td>run-degraded</td>") == 12


def test_an_unchanged_warehouse_is_not_validated_again(tmp_path):
    paths = QualityPaths.under(tmp_path)
    warehouse = quality_sample.build(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        first = validate_warehouse(con, paths, "run-1", landing_dir=tmp_path / "landing", synthetic=True)
        second = validate_warehouse(con, paths, "run-2", landing_dir=tmp_path / "landing", synthetic=True)
        stored = con.execute("select * from quality.validation_results").df()
    assert first.reused == [] and len(second.reused) == 22
    runs = {run_id: rows for run_id, rows in stored.groupby("run_id")}
    pd.testing.assert_frame_equal(comparable(runs["run-1"]), comparable(runs["run-2"]))
    assert set(runs["run-2"]["data_docs_page"]) == set(runs["run-1"]["data_docs_page"])


def test_a_result_missing_from_the_validation_store_is_validated_again(tmp_path):
    paths = QualityPaths.under(tmp_path)
    warehouse = quality_sample.build(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        validate_warehouse(con, paths, "run-1", landing_dir=tmp_path / "landing", synthetic=True)
        for result in (paths.gx_root / "validations" / "raw_volume").rglob("*.json"):
            result.unlink()
        second = validate_warehouse(con, paths, "run-2", landing_dir=tmp_path / "landing", synthetic=True)
        validated = {
            row[0]
            for row in con.execute("select suite from quality.validation_results where run_id = 'run-1'").fetchall()
        }
    # The sample has no register follow-up, so its suites are not among those validated.
    assert validated < {suite.name for suite in SUITES}
    assert {suite for suite, _ in second.reused} == validated - {"raw_volume.previous_year"}
    assert len(second.reused) == 20


def test_batch_digest_is_the_content_of_the_frame():
    frame = pd.DataFrame(
        {"source": ["a", "b", "a", "c"], "year": [2018, 2018, 2019, 2019], "rows": [1.0, 2.0, None, 4.0]}
    )
    group = next(rows for year, rows in frame.groupby("year") if year == 2019).reset_index(drop=True)
    same = pd.DataFrame({"source": ["a", "c"], "year": [2019, 2019], "rows": [None, 4.0]})
    assert reuse.frame_digest(group) == reuse.frame_digest(same)
    for changed in (
        same.assign(rows=[None, 4.5]),  # a value
        same.assign(rows=[0.0, 4.0]),  # a missing value filled
        same.assign(source=["a", "d"]),  # a label
        same.astype({"year": "float64"}),  # a type
        same.rename(columns={"rows": "rows_delivered"}),  # a column name
        same.iloc[::-1],  # row order (GX lists rows in order)
        same.iloc[:1],  # a row dropped
    ):
        assert reuse.frame_digest(changed) != reuse.frame_digest(same)


def test_fingerprint_changes_with_anything_that_decides_a_result():
    suite = {
        "name": "s",
        "meta": {},
        "expectations": [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}}],
    }
    base = dict(
        suite=suite,
        batch_name="b 2019",
        frame_sha256="f",
        parameters={"codes": ["a"]},
        result_format={"result_format": "SUMMARY"},
    )
    key = reuse.fingerprint(**base)
    assert key == reuse.fingerprint(**base)
    stricter = {**suite, "expectations": [{**suite["expectations"][0], "kwargs": {"column": "x", "min_value": 1}}]}
    for change in (
        {"suite": stricter},
        {"batch_name": "b 2020"},
        {"frame_sha256": "g"},
        {"parameters": {"codes": ["a", "b"]}},
        {"result_format": {"result_format": "SUMMARY", "partial_unexpected_count": 0}},
    ):
        assert reuse.fingerprint(**{**base, **change}) != key, change


def test_the_validated_frames_are_let_go_with_the_data_source():
    import gc
    import weakref

    import great_expectations as gx

    from expectations.checkpoints import DATASOURCE, release_batches

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas(DATASOURCE).add_dataframe_asset("frame")
    frame = pd.DataFrame({"x": [1, 2]})
    validated = weakref.ref(frame)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    assert batch.columns() == ["x"]
    del frame, batch, asset
    gc.collect()
    assert validated() is not None  # GX's data source holds the frame
    release_batches(context)
    gc.collect()
    assert validated() is None
    assert DATASOURCE not in context.data_sources.all()
    release_batches(context)  # nothing left to release: no error
