"""The annex beside report 13/2022: the seed of published values and this run's values."""

from __future__ import annotations

import io

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis.annex import annex_rows, parse_key, published_values

SEED = """report_table,row,column,published,unit,warehouse_table,warehouse_key,warehouse_column,scale,explanation_nb,explanation_en
Tabell 1,Jobbsjansen: Overgang til arbeid,2017,57,prosent,descriptives,table_id=tabell_1;programme=jobbsjansen;cohort_year=2017;category=arbeid,share_pct,1,,
Tabell 3,N,Kommuner med Jobbsjansen,82,antall,descriptives,table_id=tabell_3;programme=jobbsjansen;cohort_year=;characteristic=enheter,n,1,Forklaring.,Explanation.
Tabell 17,Kjønn (Mann=1),Individmodell,0.68,log-odds,model_coefficients,model=m1;term=kjonn_mann,estimate,1,,
ICC,Intraklassekorrelasjon,Kommunemodell,0.097,andel,model_fit,model=m2,icc,1,,
Bidragsindikatorer,Over forventet,Alle prosjekter,41,prosent,contribution_summary,unit_type=project;programme=all;period_type=pooled;cohort_year=,share_above,100,,
Tabell 19,Alder,Estimat,-0.04,log-odds,model_coefficients,model=m1_women;term=alder,estimate,1,,
"""


def seed() -> pd.DataFrame:
    path = io.StringIO(SEED)
    return published_values(path)


def test_the_annex_sets_each_published_number_beside_this_runs_value():
    tables = {
        "descriptives": pd.DataFrame(
            {
                "table_id": ["tabell_1", "tabell_1", "tabell_3", "tabell_3"],
                "programme": ["jobbsjansen", "jobbsjansen", "jobbsjansen", "jobbsjansen"],
                "cohort_year": pd.array([2017, 2018, None, 2017], dtype="Int64"),
                "characteristic": ["overgang", "overgang", "enheter", "enheter"],
                # A NULL label is compared as no value, not as an error.
                "category": ["arbeid", None, "N", "N"],
                "n": pd.array([40, 41, 3, 3], dtype="Int64"),
                "share_pct": [60.5, 61.0, np.nan, np.nan],
                "suppressed": [False, False, True, True],
            }
        ),
        "model_coefficients": pd.DataFrame(
            {"model": ["m1", "m1", "m2"], "term": ["kjonn_mann", "alder", "kjonn_mann"], "estimate": [0.70, -0.05, 0.9]}
        ),
        "model_fit": pd.DataFrame({"model": ["m1", "m2"], "icc": [np.nan, 0.1]}),
        "contribution_summary": pd.DataFrame(
            {
                "unit_type": ["project", "project"],
                "programme": ["all", "all"],
                "period_type": ["pooled", "year"],
                "cohort_year": pd.array([None, 2017], dtype="Int64"),
                "share_above": [0.40, 0.5],
            }
        ),
    }
    annex = annex_rows(tables, published=seed())
    assert annex["this_run"].round(9).iloc[[0, 2, 3, 4]].tolist() == [60.5, 0.7, 0.1, 40.0]
    assert annex["difference"].round(9).iloc[[0, 2, 3, 4]].tolist() == [3.5, 0.02, 0.003, -1.0]
    # A suppressed cell, and a model this run does not have, have no value.
    assert annex["this_run"].isna().tolist() == [False, True, False, False, False, True]
    assert annex["decimals"].tolist() == [0, 0, 2, 3, 0, 2]
    assert annex["explanation"].tolist()[:2] == ["", "Forklaring."]
    assert annex_rows(tables, "en", published=seed())["explanation"].iloc[1] == "Explanation."
    with pytest.raises(ValueError):
        annex_rows(tables, "de", published=seed())


def test_keys_are_parsed_with_an_empty_value_for_null():
    assert parse_key("unit_type=project;cohort_year=") == {"unit_type": "project", "cohort_year": ""}


def test_the_seed_holds_the_reports_tables():
    published = published_values()
    counts = published.groupby("report_table").size().to_dict()
    assert counts["Tabell 1"] == 24
    assert counts["Tabell 6"] == 20
    assert counts["Tabell 17"] == 2 * (32 + 10 + 8) + 6
    assert counts["Tabell 19"] == 3 * 31 and counts["Tabell 20"] == 3 * 9 and counts["Tabell 21"] == 3 * 7
    assert counts["ICC"] == 2 and counts["Arketyper"] == 4
    shares = published[published["row"].isin(["Over forventet", "Som forventet", "Under forventet"])]
    assert shares["published"].tolist() == [41, 15, 45]
    assert not published.duplicated(["warehouse_table", "warehouse_key", "warehouse_column"]).any()


def test_every_published_number_finds_this_runs_value_in_the_warehouse(built_warehouse):
    names = ["descriptives", "model_coefficients", "model_fit", "contribution_percentiles", "contribution_summary"]
    names.append("archetype_predictions")
    with duckdb.connect(str(built_warehouse.settings.published_path), read_only=True) as con:
        tables = {name: con.execute(f"select * from analysis.{name}").df() for name in names}
    published = published_values()
    annex = annex_rows(tables)
    assert len(annex) == len(published)
    dropped = {
        (model, term)
        for model, terms in zip(tables["model_fit"]["model"], tables["model_fit"]["dropped_terms"])
        for term in (terms.split(";") if isinstance(terms, str) else [])
    }
    # A value may be missing only where this run has none to give: a suppressed cell, a table with
    # no unit (no Jobbsjansen project of the small sample has more than 10 participants), a term
    # the model dropped as constant.
    for index in np.flatnonzero(annex["this_run"].isna()):
        seed_row = published.iloc[index]
        key = parse_key(seed_row["warehouse_key"])
        if seed_row["warehouse_table"] == "descriptives":
            frame = tables["descriptives"]
            match = np.ones(len(frame), dtype=bool)
            for column, value in key.items():
                match &= (
                    frame[column].isna().to_numpy() if value == "" else (frame[column].astype(str) == value).to_numpy()
                )
            row = frame[match].iloc[0]
            assert row["suppressed"] or row["n"] == 0, seed_row.to_dict()
        else:
            assert seed_row["warehouse_table"] == "model_coefficients", seed_row.to_dict()
            assert (key["model"], key["term"]) in dropped, seed_row.to_dict()
    assert annex["this_run"].notna().sum() > 0.9 * len(annex)
    shown = annex[annex["this_run"].notna()]
    assert (shown["difference"] == shown["this_run"] - shown["published"]).all()
