"""Exports for R/Stata users: values survive, codes carry labels, Stata's limits are respected."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from iwh.exports import write_exports, write_stata


def test_exports_write_parquet_and_labelled_stata_and_map_infinity_to_missing(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create schema analysis")
    con.execute(
        "create table marts.analysis_dataset as select * from (values "
        "('a1', 2, 1, 'Sør-Asia', 0.5::double, true), ('b2', null, 0, null, 1.5, false)) "
        "t(person_key, spor, tiltak_fag_vgo, region, botid, complete_case)"
    )
    con.execute(
        "create table analysis.model_coefficients as select * from (values "
        "('m1', 'tiltak_fag_vgo', 1.2::double, 'infinity'::double)) t(model, term, odds_ratio, ci_high)"
    )
    written = write_exports(con, tmp_path)
    assert sorted(p.name for p in written) == [
        "analysis__model_coefficients.dta",
        "analysis__model_coefficients.parquet",
        "marts__analysis_dataset.dta",
        "marts__analysis_dataset.parquet",
    ]
    dataset = pd.read_stata(tmp_path / "marts__analysis_dataset.dta")
    assert dataset["spor"].tolist()[0] == "en del skolegang" and pd.isna(dataset["spor"].tolist()[1])
    assert dataset["tiltak_fag_vgo"].tolist() == ["ja", "nei"]
    assert dataset["region"].tolist() == ["Sør-Asia", ""]
    assert dataset["complete_case"].tolist() == [1, 0]
    coefficients = pd.read_stata(tmp_path / "analysis__model_coefficients.dta")
    assert np.isnan(coefficients["ci_high"].iloc[0]) and coefficients["odds_ratio"].iloc[0] == 1.2
    parquet = pd.read_parquet(tmp_path / "analysis__model_coefficients.parquet")
    assert parquet["ci_high"].iloc[0] == np.inf


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
    write_stata(con, "t", tmp_path / "streamed.dta", data_label="t")

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
    write_stata(con, "t", tmp_path / "streamed.dta", data_label=label)
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
        value_labels={
            "spor": {1: "liten eller ingen skolegang", 2: "en del skolegang", 3: "god allmennutdanning"},
            "tiltak_fag_vgo": {0: "nei", 1: "ja"},
        },
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
