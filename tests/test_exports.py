"""Exports for R/Stata users: values survive, codes carry labels, Stata's limits are respected."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
from r_available import r_has

from iwh import html_policy
from iwh.codebook import MissingReason
from iwh.exports import write_exports, write_stata
from orchestration.cli import where_lines


def _manifest() -> dict:
    """A manifest as dbt writes it, cut to what the exports read: analysis_dataset describes some
    columns and takes person_key and spor from participant_exits; the analysis table is a source."""
    model = {"resource_type": "model", "schema": "marts"}
    return {
        "nodes": {
            "model.iwh.participant_exits": {
                **model,
                "name": "participant_exits",
                "depends_on": {"nodes": []},
                "columns": {
                    "person_key": {"description": "HMAC-SHA256 pseudonym, 32 hex characters."},
                    "programme": {"description": "`jobbsjansen` or `intro`."},
                    "spor": {
                        "description": "Track 1 liten eller ingen skolegang, 2 en del skolegang. Derived in int_.",
                        "config": {"meta": {"kodeliste": "spor"}},
                    },
                },
            },
            "model.iwh.analysis_dataset": {
                **model,
                "name": "analysis_dataset",
                "depends_on": {"nodes": ["model.iwh.participant_exits"]},
                "columns": {
                    "person_key": {"description": ""},
                    "spor": {"description": ""},
                    "fravaer_andel": {"description": "Absence share " + "of attended hours " * 8 + "(intro only)."},
                    "tiltak_fag_vgo": {
                        "description": "Upper-secondary subjects (0/1).",
                        "meta": {"kodeliste": "ja_nei"},
                    },
                    "complete_case": {"description": "True when the row enters the models."},
                    "outcome_variant": {"description": "NIR end-reason coding in force."},
                    "js_scope": {"description": "Jobbsjansen schemes in the analysis."},
                },
            },
            "seed.iwh.kodelister": {"resource_type": "seed", "schema": "seeds", "name": "kodelister", "columns": {}},
            "test.iwh.accepted_values_participant_exits_programme": {
                "resource_type": "test",
                "attached_node": "model.iwh.participant_exits",
                "column_name": "programme",
                "test_metadata": {"name": "accepted_values", "kwargs": {"values": ["jobbsjansen", "intro"]}},
            },
        },
        "sources": {
            "source.iwh.analysis.contribution_indicators": {
                "resource_type": "source",
                "source_name": "analysis",
                "name": "contribution_indicators",
                "schema": "analysis",
                "identifier": "contribution_indicators",
                "columns": {"n": {"description": "Complete cases of the unit."}},
            }
        },
    }


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("marts", "analysis", "seeds"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table seeds.kodelister as select * from (values ('spor', 1, 'liten eller ingen skolegang'), "
        "('spor', 2, 'en del skolegang'), ('spor', 3, 'god allmennutdanning'), ('ja_nei', 0, 'nei'), "
        "('ja_nei', 1, 'ja')) t(kodeliste, kode, etikett)"
    )
    con.execute(
        "create table marts.analysis_dataset as select * from (values "
        "('a1', 'intro', 2, 0.25::double, 1, true, 'report_text', 'ordning_a'), "
        "('b2', 'jobbsjansen', null, null, 0, false, 'report_text', 'ordning_a'), "
        "('c3', 'intro', 3, null, null, false, 'report_text', 'ordning_a')) "
        "t(person_key, programme, spor, fravaer_andel, tiltak_fag_vgo, complete_case, outcome_variant, js_scope)"
    )
    con.execute(
        "create table analysis.contribution_indicators as select * from (values "
        "('0301', 'pooled', null::bigint, 120::bigint, false, 'infinity'::double), "
        "('0301', 'year', 2019, 40, false, 1.5), ('1871', 'pooled', null, null, true, null)) "
        "t(unit_id, period_type, cohort_year, n, suppressed, ci_high_pp)"
    )
    return con


def test_exports_carry_labels_codes_and_the_reason_of_each_missing_value(tmp_path):
    written = write_exports(_warehouse(), tmp_path, _manifest(), run_id="8f14e45f-ceea-467f-a0e6-run")
    assert sorted(p.name for p in written) == [
        "analysis__contribution_indicators.dta",
        "analysis__contribution_indicators.parquet",
        "kodebok.csv",
        "kodebok.html",
        "marts__analysis_dataset.dta",
        "marts__analysis_dataset.parquet",
    ]
    dataset, meta = pyreadstat.read_dta(tmp_path / "marts__analysis_dataset.dta", user_missing=True)
    assert meta.file_label == "marts.analysis_dataset: kjøring 8f14e45f, report_text, ordning_a"
    labels = dict(zip(meta.column_names, meta.column_labels))
    # Inherited from participant_exits, first sentence; backticks dropped; cut at 80 characters.
    assert labels["spor"] == "Track 1 liten eller ingen skolegang, 2 en del skolegang."
    assert labels["person_key"] == "HMAC-SHA256 pseudonym, 32 hex characters."
    assert labels["programme"] == "jobbsjansen or intro."
    assert labels["fravaer_andel"] == "Absence share" + " of attended hours" * 3 + " of…"
    assert meta.variable_value_labels["spor"] == {
        1: "liten eller ingen skolegang",
        2: "en del skolegang",
        3: "god allmennutdanning",
    }
    assert meta.variable_value_labels["tiltak_fag_vgo"] == {0: "nei", 1: "ja"}
    assert meta.variable_value_labels["complete_case"] == {0: "nei", 1: "ja"}  # every boolean
    # fravaer_andel does not apply to Jobbsjansen (.b); intro's missing one was not delivered (.a).
    assert dataset["fravaer_andel"].tolist() == [0.25, "b", "a"]
    assert dataset["spor"].tolist() == [2, "a", 3]
    assert dataset["tiltak_fag_vgo"].tolist() == [1, 0, "a"]

    indicators, meta = pyreadstat.read_dta(tmp_path / "analysis__contribution_indicators.dta", user_missing=True)
    assert meta.file_label == "analysis.contribution_indicators: kjøring 8f14e45f, report_text, ordning_a"
    # A suppressed row's numbers are .c, a pooled row has no cohort year (.b), infinity has no reason (.).
    assert indicators["n"].tolist() == [120, 40, "c"]
    assert indicators["cohort_year"].tolist() == ["b", 2019, "b"]
    assert indicators["ci_high_pp"].iloc[1] == 1.5 and np.isnan(indicators["ci_high_pp"].iloc[0])
    assert dict(zip(meta.column_names, meta.column_labels))["n"] == "Complete cases of the unit."
    assert pd.read_parquet(tmp_path / "analysis__contribution_indicators.parquet")["ci_high_pp"].iloc[0] == np.inf

    codebook = pd.read_csv(tmp_path / "kodebok.csv", dtype=str, keep_default_na=False)
    assert list(codebook["name"]) == list(dataset.columns) + list(indicators.columns)
    spor = codebook.set_index(["table", "name"]).loc[("marts.analysis_dataset", "spor")]
    assert spor["codes"] == "1 = liten eller ingen skolegang; 2 = en del skolegang; 3 = god allmennutdanning"
    assert spor["missing_share"] == "0.3333" and spor["model"] == "participant_exits" and spor["type"] == "INTEGER"
    assert spor["missing_codes"] == ".a = ikke levert (leveransen har ingen verdi)"
    # A text column's codes are those its dbt accepted_values test allows (here: the parent model's).
    assert codebook.set_index(["table", "name"]).loc[("marts.analysis_dataset", "programme"), "codes"] == (
        "jobbsjansen; intro"
    )
    n = codebook.set_index(["table", "name"]).loc[("analysis.contribution_indicators", "n")]
    assert n["model"] == "source analysis.contribution_indicators"
    assert n["missing_codes"] == ".c = skjult (en celle med færre enn 5 personer)"


def test_the_codebook_page_lists_every_column_in_the_report_style(tmp_path):
    write_exports(_warehouse(), tmp_path, _manifest(), run_id="run-1", language="en", synthetic=True)
    page = (tmp_path / "kodebok.html").read_text()
    assert html_policy.META_TAG in page and 'id="synthetic-banner"' in page
    assert "Codebook of the exports" in page and "Run run-1" in page
    for table in ("marts__analysis_dataset", "analysis__contribution_indicators"):
        assert f'<table id="{table}">' in page
    assert page.count("<td>fravaer_andel</td>") == 1 and "<td>liten eller ingen skolegang" not in page
    assert "1 = liten eller ingen skolegang; 2 = en del skolegang; 3 = god allmennutdanning" in page


def test_extended_missing_values_of_every_numeric_field_read_back_in_pyreadstat(tmp_path):
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values (1, 1.5::float, 2::bigint, true), (2, null, null, null), "
        "(3, null, null, null), (4, null, null, null), (5, null, null, null)) v(i, ratio, n, flag)"
    )
    # Row 2 is not delivered, 3 not applicable, 4 suppressed; row 5 has no stated reason.
    reasons = [MissingReason(code, f"i = {i}", "") for i, code in ((2, "a"), (3, "b"), (4, "c"))]
    write_stata(con, "t", tmp_path / "t.dta", data_label="t", missing=dict.fromkeys(("ratio", "n", "flag"), reasons))
    frame, meta = pyreadstat.read_dta(tmp_path / "t.dta", user_missing=True)
    for column, value in (("ratio", 1.5), ("n", 2), ("flag", 1)):
        assert frame[column].tolist()[:4] == [value, "a", "b", "c"]
        assert np.isnan(frame[column].iloc[4])
    assert meta.missing_user_values == {"ratio": ["a", "b", "c"], "n": ["a", "b", "c"], "flag": ["a", "b", "c"]}
    # Readers that know only "." see every one of them as missing.
    assert pd.read_stata(tmp_path / "t.dta")["n"].isna().tolist() == [False, True, True, True, True]


def _without_timestamp(dta: bytes) -> bytes:
    return dta[: dta.index(b"<timestamp>")] + dta[dta.index(b"</timestamp>") :]


def test_streamed_stata_file_is_byte_for_byte_what_pandas_writes_for_the_converted_frame(tmp_path, monkeypatch):
    # Small batches, so the rows cross several of them.
    monkeypatch.setattr("iwh.exports.ROWS_PER_BATCH", 2)
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values "
        "('Sør-Asia', true, null::boolean, 3::bigint, 1::integer, 0.5::double, 1.5::float), "
        "(null, false, true, null, 0, 'infinity'::double, null), "
        "('æ', true, false, 7, null, null, '-infinity'::float), "
        "('', false, null, -2, 1, -0.25, 2.0)) "
        "v(region, complete_case, suppressed, n, kjonn_mann, botid, ratio)"
    )
    write_stata(
        con,
        "t",
        tmp_path / "streamed.dta",
        data_label="t",
        variable_labels={"region": "Report region (UN M49 sub-regions)", "botid": "Years in Norway at exit"},
        value_labels={"kjonn_mann": {0: "kvinne", 1: "mann"}},
    )

    expected = pd.DataFrame(
        {
            "region": ["Sør-Asia", "", "æ", ""],
            "complete_case": np.array([1, 0, 1, 0], dtype="int8"),
            "suppressed": [np.nan, 1.0, 0.0, np.nan],
            "n": [3.0, np.nan, 7.0, -2.0],
            "kjonn_mann": [1.0, 0.0, np.nan, 1.0],
            "botid": [0.5, np.nan, np.nan, -0.25],
            "ratio": np.array([1.5, np.nan, np.nan, 2.0], dtype="float32"),
        }
    )
    expected.to_stata(
        tmp_path / "pandas.dta",
        write_index=False,
        version=118,
        data_label="t",
        variable_labels={"region": "Report region (UN M49 sub-regions)", "botid": "Years in Norway at exit"},
        value_labels={"kjonn_mann": {0: "kvinne", 1: "mann"}},
    )
    streamed, reference = (tmp_path / "streamed.dta").read_bytes(), (tmp_path / "pandas.dta").read_bytes()
    assert _without_timestamp(streamed) == _without_timestamp(reference)
    pd.testing.assert_frame_equal(pd.read_stata(tmp_path / "streamed.dta"), pd.read_stata(tmp_path / "pandas.dta"))


def test_an_empty_table_gives_a_readable_stata_file_with_its_columns(tmp_path):
    con = duckdb.connect()
    con.execute("create table t (model varchar, odds_ratio double)")
    write_stata(con, "t", tmp_path / "empty.dta", data_label="t")
    empty = pd.read_stata(tmp_path / "empty.dta")
    assert list(empty.columns) == ["model", "odds_ratio"] and len(empty) == 0


def test_metadata_of_several_value_label_tables_and_a_long_data_label_is_what_pandas_writes(tmp_path):
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values "
        "(2, 1, 'Midtøsten og Nord-Afrika', 0.25::float), (null, 0, 'Afrika', null)) "
        "v(spor, tiltak_fag_vgo, region, ratio)"
    )
    label = "analysis." + "x" * 100
    value_labels = {
        "spor": {1: "liten eller ingen skolegang", 2: "en del skolegang", 3: "god allmennutdanning"},
        "tiltak_fag_vgo": {0: "nei", 1: "ja"},
    }
    write_stata(con, "t", tmp_path / "streamed.dta", data_label=label, value_labels=value_labels)
    expected = pd.DataFrame(
        {
            "spor": [2.0, np.nan],
            "tiltak_fag_vgo": [1.0, 0.0],
            "region": ["Midtøsten og Nord-Afrika", "Afrika"],
            "ratio": np.array([0.25, np.nan], dtype="float32"),
        }
    )
    expected.to_stata(
        tmp_path / "pandas.dta",
        write_index=False,
        version=118,
        data_label=label[:80],
        value_labels=value_labels,
    )
    streamed, reference = (tmp_path / "streamed.dta").read_bytes(), (tmp_path / "pandas.dta").read_bytes()
    assert _without_timestamp(streamed) == _without_timestamp(reference)
    assert pd.read_stata(tmp_path / "streamed.dta")["spor"].tolist()[0] == "en del skolegang"


@pytest.mark.parametrize("name", ["a_name_of_more_than_thirty_two_chars", "in", "2nd", "fravær"])
def test_a_column_stata_cannot_name_is_refused(tmp_path, name):
    con = duckdb.connect()
    con.execute(f'create table t as select 1.0::double as "{name}"')
    with pytest.raises(ValueError, match="not a Stata variable name"):
        write_stata(con, "t", tmp_path / "t.dta", data_label="t")


def _exported(settings) -> dict[str, Path]:
    return {path.stem: path for path in sorted(settings.exports_dir.glob("*.dta"))}


def test_every_exported_dta_file_is_labelled_and_says_why_a_value_is_missing(built_warehouse):
    settings = built_warehouse.settings
    files = _exported(settings)
    assert "marts__analysis_dataset" in files and "analysis__contribution_indicators" in files
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        run_id = con.execute("select distinct run_id from analysis.model_fit").fetchall()[0][0]
    for name, path in files.items():
        _, meta = pyreadstat.read_dta(path, metadataonly=True)
        assert meta.file_label == f"{name.replace('__', '.', 1)}: kjøring {run_id[:8]}, report_text, ordning_a"
        unlabelled = [c for c, label in zip(meta.column_names, meta.column_labels) if not label]
        assert unlabelled == [], f"{name}: no dbt description for {unlabelled}"
        assert all(len(label) <= 80 for label in meta.column_labels)

    dataset, meta = pyreadstat.read_dta(files["marts__analysis_dataset"], user_missing=True)
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["spor"] == "Track 1 liten eller ingen skolegang, 2 en del skolegang, 3 god allmennutdanning."
    assert labels["kjonn_mann"] == "1 man, 0 woman."
    assert meta.variable_value_labels["kjonn_mann"] == {0: "kvinne", 1: "mann"}
    assert meta.variable_value_labels["sentralitet"][1] == "nivå 1 (mest sentral)"
    for column in (
        "ordning",
        "spor",
        "fravaer_hoy",
        "maloppnaelse",
        "maloppnaelse_3",
        "tiltak_fag_vgo",
        "complete_case",
    ):
        assert column in meta.variable_value_labels, column
    intro = dataset["programme"] == "intro"
    assert set(dataset.loc[~intro, "fravaer_andel"]) == {"b"}
    assert set(dataset.loc[intro, "maloppnaelse_3"]) == {"b"}
    assert "a" in set(dataset["spor"]) and "a" in set(dataset["norsk_score"])
    excluded = dataset["excluded_reason"] == "outcome_excluded"
    assert excluded.any() and set(dataset.loc[excluded, "maloppnaelse"]) == {"b"}

    indicators, _ = pyreadstat.read_dta(files["analysis__contribution_indicators"], user_missing=True)
    suppressed = indicators["suppressed"] == 1
    assert suppressed.any() and set(indicators.loc[suppressed, "contribution_pp"]) == {"c"}
    assert set(indicators.loc[indicators["period_type"] == "pooled", "cohort_year"]) == {"b"}


def test_the_codebook_lists_every_exported_column(built_warehouse):
    exports = built_warehouse.settings.exports_dir
    codebook = pd.read_csv(exports / "kodebok.csv", dtype=str, keep_default_na=False)
    expected = [
        (path.stem.replace("__", ".", 1), column)
        for path in sorted(exports.glob("*.parquet"))
        for column in pq.read_schema(path).names
    ]
    assert sorted(zip(codebook["table"], codebook["name"])) == sorted(expected)
    assert (codebook["label"] != "").all() and (codebook["model"] != "").all()
    row = codebook.set_index(["table", "name"]).loc[("marts.analysis_dataset", "maloppnaelse_3")]
    assert (
        row["model"] == "participant_exits"
        and row["codes"] == "1 = arbeid eller utdanning; 2 = ikke oppnådd; 3 = avbrutt"
    )
    assert row["missing_codes"].startswith(".b = ikke aktuelt (bare Jobbsjansen)")
    page = (exports / "kodebok.html").read_text()
    assert all(f"<td>{name}</td>" in page for _, name in expected)


@pytest.mark.skipif(not r_has("haven"), reason="needs R with the haven package")
def test_r_haven_reads_the_labels_and_missing_codes(built_warehouse):
    path = built_warehouse.settings.exports_dir / "marts__analysis_dataset.dta"
    script = (
        "d <- haven::read_dta(commandArgs(TRUE)[1]); "
        "cat(attr(d$kjonn_mann, 'label'), names(attr(d$kjonn_mann, 'labels')), "
        "sum(haven::is_tagged_na(d$fravaer_andel, 'b')) > 0, sep = '|')"
    )
    out = subprocess.run(["Rscript", "-e", script, str(path)], capture_output=True, text=True, check=True).stdout
    assert out == "1 man, 0 woman.|kvinne|mann|TRUE"


def test_the_access_lines_open_the_snapshot_a_run_published(built_warehouse):
    lines = where_lines(built_warehouse.settings)
    cli = next(line.split(":", 1)[1].strip() for line in lines if line.strip().startswith("DuckDB CLI:"))
    shell = subprocess.run(
        cli, shell=True, input="select count(*) > 0 from marts.analysis_dataset;", capture_output=True, text=True
    )
    assert shell.returncode == 0 and "true" in shell.stdout, shell.stderr
