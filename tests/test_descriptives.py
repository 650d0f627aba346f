"""analysis.descriptives: the report's descriptive chapter, on small known inputs and on the
synthetic sample against the generator's truth."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis.descriptives import (
    TILTAK_LABELS,
    age_groups,
    descriptives_table,
    quantile_groups,
    suppress,
)
from iwh.vocabulary import TILTAK_COLUMNS

TOLERANCE_PP = 0.05


def persons(rows: list[dict]) -> pd.DataFrame:
    """Analysis-dataset rows: every column the chapter reads, with a complete person as default."""
    default = {
        "programme": "intro",
        "cohort_year": 2019,
        "excluded_reason": None,
        "maloppnaelse": 1.0,
        "overgang": "arbeid",
        "kjonn_mann": 0,
        "botid": 2.0,
        "alder": 30,
        "norsk_tier": "A2",
        "spor": 2,
        "region": "Vest-Asia",
        "varighet_mnd": 20,
        "fravaer_hoy": 0,
        **{column: 0 for column in TILTAK_COLUMNS},
        "kommunenummer": "0301",
        "prosjekt_id": "intro-0301",
        "folkemengde": 1000.0,
        "andel_innvandrere": 10.0,
        "andel_utvalgte_naeringer": 30.0,
        "nettoinnflytting": 2.0,
        "andel_sysselsatte": 70.0,
        "andel_uforetrygdede": 10.0,
        "sentralitet": 3,
        "lonn_per_deltaker_1000kr": 40.0,
    }
    return pd.DataFrame([{**default, **row} for row in rows])


def repeat(count: int, **row) -> list[dict]:
    return [row] * count


def cell(table: pd.DataFrame, table_id: str, programme: str, year, category: str) -> dict:
    year_matches = table["cohort_year"].isna() if year is None else table["cohort_year"] == year
    rows = table[(table["table_id"] == table_id) & (table["programme"] == programme) & year_matches]
    rows = rows[rows["category"] == category]
    assert len(rows) == 1, (table_id, programme, year, category, len(rows))
    return rows.iloc[0].to_dict()


def values(row: dict) -> tuple:
    return (row["n"], round(row["share_pct"], 6), round(row["outcome_pct"], 6), row["suppressed"])


def test_table_1_splits_goal_achievement_into_work_and_education_by_year_and_pooled():
    dataset = persons(
        repeat(10, programme="jobbsjansen", overgang="arbeid")
        + repeat(6, programme="jobbsjansen", overgang="utdanning")
        + repeat(8, programme="jobbsjansen", maloppnaelse=0.0, overgang=None)
        + repeat(5, programme="intro", cohort_year=2020, overgang="arbeid")
        + repeat(15, programme="intro", cohort_year=2020, maloppnaelse=0.0, overgang=None)
        # Not described: outside the scope, or the outcome excluded.
        + repeat(7, programme="jobbsjansen", excluded_reason="outside_js_scope")
        + repeat(7, programme="intro", cohort_year=2020, maloppnaelse=None, excluded_reason="outcome_excluded")
    )
    table = descriptives_table(dataset, run_id="run-1", outcome_variant="report_text", js_scope="ordning_a")
    assert values(cell(table, "tabell_1", "jobbsjansen", 2019, "arbeid")) == (10, 41.666667, 41.666667, False)
    assert values(cell(table, "tabell_1", "jobbsjansen", 2019, "utdanning")) == (6, 25.0, 25.0, False)
    assert values(cell(table, "tabell_1", "jobbsjansen", 2019, "totalt")) == (16, 66.666667, 66.666667, False)
    assert values(cell(table, "tabell_1", "intro", 2020, "arbeid")) == (5, 25.0, 25.0, False)
    assert values(cell(table, "tabell_1", "intro", 2020, "utdanning")) == (0, 0.0, 0.0, False)
    assert values(cell(table, "tabell_1", "alle", None, "totalt")) == (21, 47.727273, 47.727273, False)
    assert values(cell(table, "figur_2", "alle", None, "Totalt")) == (44, 100.0, 47.727273, False)
    assert values(cell(table, "figur_2", "intro", None, "Totalt")) == (20, 100.0, 25.0, False)
    first = table.iloc[0]
    assert (first["table_id"], first["programme"], first["cohort_year"], first["category"]) == (
        "tabell_1",
        "jobbsjansen",
        2019,
        "arbeid",
    )
    assert set(table["run_id"]) == {"run-1"} and set(table["js_scope"]) == {"ordning_a"}
    assert set(table["outcome"]) == {"maloppnaelse"} and set(table["outcome_variant"]) == {"report_text"}


def test_each_characteristic_has_the_reports_categories_a_share_and_the_achievement_within_it():
    dataset = persons(
        repeat(6, kjonn_mann=1, alder=19, spor=3, norsk_tier="B2", region="Sørøst-Asia", fravaer_hoy=1)
        + repeat(
            9,
            kjonn_mann=0,
            alder=60,
            spor=1,
            norsk_tier=None,
            region=None,
            fravaer_hoy=None,
            maloppnaelse=0.0,
            overgang=None,
            tiltak_norskopplaering=1,
        )
        + repeat(5, kjonn_mann=0, alder=45, spor=None, norsk_tier="Under A1", tiltak_norskopplaering=1)
    )
    table = descriptives_table(dataset).query("programme == 'intro' and cohort_year == 2019")
    by_figure = {
        table_id: {
            row["category"]: (row["n"], round(row["share_pct"], 6), round(row["outcome_pct"], 6)) for row in rows
        }
        for table_id, rows in ((t, g.to_dict("records")) for t, g in table.groupby("table_id"))
    }
    assert by_figure["figur_3"] == {"Kvinne": (14, 70.0, 35.714286), "Mann": (6, 30.0, 100.0)}
    assert by_figure["figur_4"] == by_figure["figur_3"]
    assert by_figure["figur_7"] == {
        "Under 20 år": (6, 30.0, 100.0),
        "40–59 år": (5, 25.0, 100.0),
        "60 år og over": (9, 45.0, 0.0),
    }
    assert by_figure["figur_9"] == {"B2": (6, 30.0, 100.0), "Under A1": (5, 25.0, 100.0), "Mangler": (9, 45.0, 0.0)}
    assert by_figure["figur_11"] == {
        "God allmennutdanning": (6, 30.0, 100.0),
        "Liten eller ingen skolegang": (9, 45.0, 0.0),
        "Mangler": (5, 25.0, 100.0),
    }
    assert by_figure["figur_13"] == {
        "Vest-Asia": (5, 25.0, 100.0),
        "Sørøst-Asia": (6, 30.0, 100.0),
        "Mangler": (9, 45.0, 0.0),
    }
    assert by_figure["figur_17"] == {
        "Under 10 % fravær": (5, 25.0, 100.0),
        "10 % fravær eller mer": (6, 30.0, 100.0),
        "Mangler": (9, 45.0, 0.0),
    }
    assert by_figure["figur_19"] == {TILTAK_LABELS["tiltak_norskopplaering"]: (14, 70.0, 35.714286)}
    order = table[table["table_id"] == "figur_9"].sort_values("category_order")["category"].tolist()
    assert order == ["Under A1", "B2", "Mangler"]


def test_age_groups_are_those_of_figure_8():
    groups = age_groups(pd.Series([18, 19, 20, 29, 30, 39, 40, 59, 60, 75, np.nan]))
    assert groups.tolist() == [
        "Under 20 år",
        "Under 20 år",
        "20–29 år",
        "20–29 år",
        "30–39 år",
        "30–39 år",
        "40–59 år",
        "40–59 år",
        "60 år og over",
        "60 år og over",
        "Mangler",
    ]


def test_quantile_groups_are_labelled_with_their_range_and_a_missing_value_is_its_own_group():
    groups = quantile_groups(pd.Series([0, 1, 2, 2.5, 4, 5, 6, 7, 8, np.nan]), 4, "kvartil", "år", 1)
    assert groups.tolist() == [
        "1. kvartil (til 2,0 år)",
        "1. kvartil (til 2,0 år)",
        "1. kvartil (til 2,0 år)",
        "2. kvartil (2,0–4,0 år)",
        "2. kvartil (2,0–4,0 år)",
        "3. kvartil (4,0–6,0 år)",
        "3. kvartil (4,0–6,0 år)",
        "4. kvartil (over 6,0 år)",
        "4. kvartil (over 6,0 år)",
        "Mangler",
    ]


def suppression_cells(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["table_id", "programme", "cohort_year", "category", "n", "relation"])


def test_a_small_cell_is_suppressed_with_the_smallest_other_category_when_the_total_is_published():
    cells = suppression_cells(
        [
            ("figur_2", "jobbsjansen", 2019, "Totalt", 63, "persons"),
            ("figur_13", "jobbsjansen", 2019, "Nord-Afrika", 3, "region"),
            ("figur_13", "jobbsjansen", 2019, "Sør-Asia", 10, "region"),
            ("figur_13", "jobbsjansen", 2019, "Vest-Asia", 50, "region"),
            # Measures overlap: nothing adds up, so only the small cell goes.
            ("figur_19", "jobbsjansen", 2019, "Språkpraksis", 4, None),
            ("figur_19", "jobbsjansen", 2019, "Norskopplæring", 60, None),
        ]
    )
    assert suppress(cells).tolist() == [False, True, True, False, True, False]


def test_a_suppressed_year_or_programme_is_not_left_recoverable_from_the_pooled_or_the_joint_cell():
    cells = suppression_cells(
        [
            ("figur_19", "jobbsjansen", 2019, "AMO", 2, None),
            ("figur_19", "jobbsjansen", 2020, "AMO", 8, None),
            ("figur_19", "jobbsjansen", 2021, "AMO", 30, None),
            ("figur_19", "jobbsjansen", None, "AMO", 40, None),
            ("figur_19", "intro", 2019, "AMO", 12, None),
            ("figur_19", "alle", 2019, "AMO", 14, None),
        ]
    )
    # 2019 (2) is small; 2020 goes with it (pooled 40 is published); between the programmes `alle`
    # goes rather than intro.
    assert suppress(cells).tolist() == [True, True, False, False, False, True]


def test_a_hidden_total_is_not_left_recoverable_from_its_parts():
    cells = suppression_cells(
        [
            ("figur_19", "jobbsjansen", 2019, "AMO", 3, None),
            ("figur_19", "intro", 2019, "AMO", 12, None),
            ("figur_19", "alle", 2019, "AMO", 15, None),
            ("figur_19", "alle", 2020, "AMO", 20, None),
            ("figur_19", "alle", None, "AMO", 35, None),
        ]
    )
    # Jobbsjansen 2019 is small, so `alle` 2019 goes; then the pooled 35 would give it back: 2020 goes.
    assert suppress(cells).tolist() == [True, False, True, True, False]


def test_suppressed_cells_have_no_numbers():
    dataset = persons(repeat(3, kjonn_mann=1) + repeat(30, kjonn_mann=0))
    table = descriptives_table(dataset)
    men = cell(table, "figur_3", "intro", 2019, "Mann")
    women = cell(table, "figur_3", "intro", 2019, "Kvinne")
    for row in (men, women):
        assert row["suppressed"]
        assert pd.isna(row["n"]) and pd.isna(row["share_pct"]) and pd.isna(row["outcome_pct"])
    assert not cell(table, "figur_2", "intro", 2019, "Totalt")["suppressed"]


def test_tables_3_and_4_give_medians_over_unit_years_with_more_than_10_participants():
    municipalities = [f"10{index}" for index in range(1, 6)]
    rows = []
    for index, kommune in enumerate(municipalities, start=1):
        rows += repeat(
            11,
            kommunenummer=kommune,
            prosjekt_id=f"intro-{kommune}",
            folkemengde=1000.0 * index,
            lonn_per_deltaker_1000kr=10.0 * index,
        )
    # Ten participants: not in tables 3 and 4.
    rows += repeat(10, kommunenummer="9999", prosjekt_id="intro-9999", folkemengde=1e6, lonn_per_deltaker_1000kr=1e3)
    # Jobbsjansen in two of the municipalities: fewer than 5 units, suppressed.
    rows += repeat(11, programme="jobbsjansen", kommunenummer="101", prosjekt_id="Prosjekt A", folkemengde=1000.0)
    project_year = pd.DataFrame(
        {
            "programme": "intro",
            "prosjekt_id": [f"intro-{kommune}" for kommune in municipalities],
            "cohort_year": 2019,
            "antall_deltakere": [20, 30, 40, 50, 60],
            "lonnsutgifter_1000kr": [200.0, 900.0, 1600.0, 2500.0, 3600.0],
        }
    )
    table = descriptives_table(persons(rows), project_year)

    def median(table_id: str, programme: str, category: str) -> dict:
        return cell(table, table_id, programme, None, category)

    assert median("tabell_3", "intro", "N")["n"] == 5
    assert median("tabell_3", "intro", "Befolkning")["median"] == 3000.0
    assert median("tabell_3", "alle", "N")["n"] == 5
    assert median("tabell_3", "jobbsjansen", "Befolkning")["suppressed"]
    assert pd.isna(median("tabell_3", "jobbsjansen", "Befolkning")["median"])
    assert median("tabell_4", "intro", "N")["n"] == 5
    assert median("tabell_4", "intro", "Antall deltakere")["median"] == 40.0
    assert median("tabell_4", "intro", "Lønnsutgifter pr. prosjekt (1000 kr)")["median"] == 1600.0
    assert median("tabell_4", "intro", "Lønnsutgifter pr. deltaker (1000 kr)")["median"] == 30.0
    assert median("tabell_4", "jobbsjansen", "N")["suppressed"]


@pytest.fixture(scope="module")
def descriptives_and_truth(built_warehouse) -> tuple[pd.DataFrame, pd.DataFrame]:
    with duckdb.connect(str(built_warehouse.settings.published_path), read_only=True) as con:
        table = con.execute("select * from analysis.descriptives").df()
    truth = pd.read_parquet(built_warehouse.truth_persons_path)
    in_scope = (truth["programme"] == "intro") | (truth["js_scheme"] == "ordning_a")
    truth = truth[in_scope & truth["maloppnaelse_report_text"].notna()]
    return table, pd.concat([truth, truth.assign(programme="alle")], ignore_index=True)


def test_table_1_by_year_equals_the_generators_truth(descriptives_and_truth):
    table, truth = descriptives_and_truth
    compared = 0
    for (programme, year), group in truth.groupby(["programme", "cohort_year"]):
        expected = {
            "arbeid": 100 * (group["overgang_report_text"] == "arbeid").mean(),
            "utdanning": 100 * (group["overgang_report_text"] == "utdanning").mean(),
            "totalt": 100 * (group["maloppnaelse_report_text"] == 1).mean(),
        }
        for category, share in expected.items():
            row = cell(table, "tabell_1", programme, year, category)
            if row["suppressed"]:
                continue
            assert abs(row["share_pct"] - share) < TOLERANCE_PP, (programme, year, category)
            compared += 1
    assert compared >= 3 * 4 * 3 - 2, "most of table 1 should be published on the sample"


def test_figure_3_pooled_equals_the_generators_truth(descriptives_and_truth):
    table, truth = descriptives_and_truth
    labels = {0: "Kvinne", 1: "Mann", -1: "Mangler"}
    compared = []
    for programme, group in truth.groupby("programme"):
        kjonn = group["kjonn_mann"].fillna(-1).map(labels)
        for category, members in group.groupby(kjonn):
            row = cell(table, "figur_3", programme, None, category)
            if row["suppressed"]:
                continue
            assert row["n"] == len(members)
            assert abs(row["share_pct"] - 100 * len(members) / len(group)) < TOLERANCE_PP
            assert abs(row["outcome_pct"] - 100 * members["maloppnaelse_report_text"].mean()) < TOLERANCE_PP
            compared.append((programme, category))
    published = {(programme, category) for programme, category in compared}
    assert {("intro", "Kvinne"), ("intro", "Mann")} <= published
