"""Exports for R/Stata users: values survive, codes carry labels, Stata's limits are respected."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from iwh.exports import write_exports


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
        "analysis__model_coefficients.dta", "analysis__model_coefficients.parquet",
        "marts__analysis_dataset.dta", "marts__analysis_dataset.parquet",
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
