"""Status one year after exit (the register follow-up): harmonisation, recovery, late delivery.

- Hand-written follow-up files beside the contract's examples: every person's follow-up
  variables are what harmonisation.md says they are.
- The generator's follow-up truth is recovered: persistence shares by programme and M1 of
  arbeid_utdanning_1aar.
- A follow-up file delivered late for the latest cohort: one `iwh run` makes exactly that cohort's
  follow-up appear and rebuilds only what reads it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from test_dbt_harmonisation import materialize_dbt_assets
from test_landing_fixtures import TEST_KEY, copy_examples, load_everything, settings_for, write_table

from iwh.pseudonym import person_key

LOG = logging.getLogger(__name__)
FOLLOWUP_COLUMNS = ["fnr", "status_november", "yrkesinntekt_kr", "sosialhjelp"]

# The contract's example persons (tests/fixtures/landing_examples) and their hand-written
# follow-up: (cohort, fnr) -> delivered row, or None when the person is not in the file.
STATUS_2017 = {
    "04049941035": ("1", "312400", "0"),  # NIR
    "03089733234": ("4", "99999", "1"),  # NIR
    "09037435462": ("7", "", ""),  # NIR: emigrated
    "17118849833": None,  # NIR: not in the registers
    "26059109676": ("3", "100000", "0"),  # Jobbsjansen
    "18109712813": ("9", "0", "0"),  # Jobbsjansen: a code outside the list, quarantined
    "17068535999": ("8", "", "0"),  # Jobbsjansen: dead
    "27066206594": ("6", "299999", ""),  # Jobbsjansen: social assistance not known
}
STATUS_2020 = {
    "10037849621": ("2", "300000", "0"),
    "05029620484": ("5", "0", "1"),
    "28117421106": ("1", "450000", "0"),
    "24058907525": ("1", "350000", "0"),
    "26038216847": ("4", "12000", "1"),
}
# What harmonisation.md makes of each: status_1aar, arbeid_utdanning_1aar, yrkesinntekt_1aar_kategori,
# sosialhjelp_1aar, oppfolging_status, first excluded_reason_1aar of the follow-up.
EXPECTED = {
    (2017, "04049941035"): ("sysselsatt", 1, "300k_og_over", 0, "koblet", None),
    (2017, "03089733234"): (
        "registrert arbeidsledig eller på arbeidsmarkedstiltak",
        0,
        "under_100k",
        1,
        "koblet",
        None,
    ),
    (2017, "09037435462"): ("utvandret", None, None, None, "koblet", "utvandret_eller_dod"),
    (2017, "17118849833"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),
    (2017, "26059109676"): ("sysselsatt og i utdanning", 1, "100k_300k", 0, "koblet", None),
    (2017, "18109712813"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),
    (2017, "17068535999"): ("død", None, None, 0, "koblet", "utvandret_eller_dod"),
    (2017, "27066206594"): ("annen eller ukjent status", 0, "100k_300k", None, "koblet", None),
    # 2018: the contract's own example file (columns in another order)
    (2018, "07088638209"): ("sysselsatt", 1, "300k_og_over", 0, "koblet", None),
    (2018, "22050057163"): (
        "registrert arbeidsledig eller på arbeidsmarkedstiltak",
        0,
        "under_100k",
        1,
        "koblet",
        None,
    ),
    (2018, "22079726846"): ("i utdanning", 1, "under_100k", 0, "koblet", None),
    (2018, "01028104916"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),
    (2018, "28107829719"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),
    # 2019: no follow-up file yet
    (2019, "04119520644"): (None, None, None, None, "ikke_levert_ennaa", "ikke_levert_ennaa"),
    (2019, "27087429879"): (None, None, None, None, "ikke_levert_ennaa", "ikke_levert_ennaa"),
    (2020, "10037849621"): ("i utdanning", 1, "300k_og_over", 0, "koblet", None),
    (2020, "05029620484"): ("helserelatert ytelse (AAP eller uføretrygd)", 0, "under_100k", 1, "koblet", None),
    (2020, "21108548891"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),
    (2020, "28117421106"): ("sysselsatt", 1, "300k_og_over", 0, "koblet", None),
    (2020, "002955636951"): (None, None, None, None, "ikke_i_registeret", "ikke_i_registeret"),  # DUF only
}
FOLLOWUP_VARIABLES = [
    "status_1aar",
    "arbeid_utdanning_1aar",
    "yrkesinntekt_1aar_kategori",
    "sosialhjelp_1aar",
    "oppfolging_status",
]


def _rows(statuses: dict) -> list[list[str]]:
    return [[fnr, *row] for fnr, row in statuses.items() if row is not None]


@pytest.fixture(scope="module")
def hand_written(tmp_path_factory):
    """The contract's examples plus hand-written follow-up files: 2017 comma-separated in
    Windows-1252 with CRLF, 2018 the contract's example, no 2019 file, 2020 UTF-8 with a BOM."""
    root = tmp_path_factory.mktemp("followup_examples")
    landing = copy_examples(root / "landing")
    register = landing / "register"
    (register / "status_ett_aar_etter_2019.csv").unlink()
    write_table(
        register / "status_ett_aar_etter_2017.csv",
        FOLLOWUP_COLUMNS,
        _rows(STATUS_2017),
        separator=",",
        encoding="cp1252",
        line_end="\r\n",
    )
    write_table(register / "status_ett_aar_etter_2020.csv", FOLLOWUP_COLUMNS, _rows(STATUS_2020), boms=1)
    settings = settings_for(landing, root / "home")
    settings.home.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        load_everything(con, settings)
    result = materialize_dbt_assets(settings)
    assert result.success
    return settings


def test_every_persons_followup_variables_are_what_the_contract_implies(hand_written):
    with duckdb.connect(str(hand_written.warehouse_path), read_only=True) as con:
        rows = con.execute(
            f"""
            select e.person_key, e.cohort_year, {", ".join(f"e.{c}" for c in FOLLOWUP_VARIABLES)},
                   a.excluded_reason_1aar
            from marts.participant_exits e join marts.analysis_dataset a using (person_key, programme, cohort_year)
            """
        ).fetchall()
        quarantined = con.execute(
            "select source_file, row_number, column_name, reason from quality.quarantine "
            "where source = 'register_status_ett_aar_etter'"
        ).fetchall()
    found = {(year, key): tuple(values) for key, year, *values in rows}
    for (year, identifier), expected in EXPECTED.items():
        actual = found[(year, person_key(identifier, TEST_KEY))]
        # The follow-up's own reason comes first; a covariate reason may follow when it has none.
        assert actual[:5] == expected[:5], (year, expected)
        assert actual[5] == expected[5] or (expected[5] is None and actual[5].startswith("missing_")), (year, expected)
    assert {(year, status) for (year, _), (*_, status, _) in found.items()} >= {
        (2019, "ikke_levert_ennaa"),
        (2020, "ikke_i_registeret"),
    }
    assert all(status == "ikke_levert_ennaa" for (year, _), (*_, status, _) in found.items() if year == 2019)
    assert quarantined == [("register/status_ett_aar_etter_2017.csv", 6, "status_november", "code_outside_list")]


def test_followup_coverage_counts_linked_and_identifiable_exits(hand_written):
    with duckdb.connect(str(hand_written.warehouse_path), read_only=True) as con:
        coverage = con.execute(
            "select cohort_year, programme, delivered, n_exits, n_identified_by_fnr, n_linked, n_with_outcome, "
            "coverage_pct, linkage_rate_pct from marts.followup_coverage order by all"
        ).fetchall()
        funnel = con.execute(
            "select cohort_year, reason, n_rows from marts.exclusions "
            "where outcome = 'arbeid_utdanning_1aar' and programme = 'jobbsjansen' and step = 'excluded' "
            "and reason in ('ikke_i_registeret', 'ikke_levert_ennaa', 'utvandret_eller_dod') order by all"
        ).fetchall()
    assert coverage == [
        (2017, "intro", True, 4, 4, 3, 2, 75.0, 75.0),
        (2017, "jobbsjansen", True, 4, 4, 3, 2, 75.0, 75.0),
        (2018, "intro", True, 4, 4, 3, 3, 75.0, 75.0),
        (2018, "jobbsjansen", True, 4, 4, 0, 0, 0.0, 0.0),
        (2019, "intro", False, 4, 4, 0, 0, None, None),
        (2019, "jobbsjansen", False, 4, 4, 0, 0, None, None),
        (2020, "intro", True, 4, 4, 2, 2, 50.0, 50.0),
        (2020, "jobbsjansen", True, 4, 3, 3, 3, 75.0, 100.0),
    ]
    # Exclusion reasons of the second outcome, counted like the others (only the first reason of a row).
    assert (2017, "utvandret_eller_dod", 1) in funnel and (2019, "ikke_levert_ennaa", 4) in funnel
    assert (2020, "ikke_i_registeret", 1) in funnel


# Recovery of the generator's follow-up truth ------------------------------------------------


@pytest.fixture(scope="module")
def generated_m1(tmp_path_factory):
    from iwh_synth import generate

    out = tmp_path_factory.mktemp("followup_m1") / "landing"
    generate(out_dir=out, years=[2017, 2018, 2019, 2020], scale=1.0, seed=11, truth="m1")
    persons = pd.read_parquet(out / "truth_persons.parquet")
    return persons, json.loads((out / "truth.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_persistence_shares_by_programme_land_within_their_intervals(generated_m1):
    persons, truth = generated_m1
    known = persons.loc[(persons["oppfolging_status"] == "koblet") & persons["arbeid_utdanning_1aar"].notna()]
    assert set(persons.loc[persons["cohort_year"] == 2020, "oppfolging_status"]) == {"ikke_levert_ennaa"}
    for programme in ("jobbsjansen", "intro"):
        for exit_outcome in (0, 1):
            cell = known.loc[(known["programme"] == programme) & (known["maloppnaelse"] == exit_outcome)]
            stated = truth["followup"]["persistence"][programme][f"maloppnaelse_{exit_outcome}"]
            assert stated["persons"] == len(cell)
            share = cell["arbeid_utdanning_1aar"].mean()
            expected = stated["expected_share"]
            se = np.sqrt(expected * (1 - expected) / len(cell))
            assert abs(share - expected) < 1.96 * se, (programme, exit_outcome, share, expected)
    # Those who reached work or education at exit are more often there a year later.
    persistence = truth["followup"]["persistence"]
    for programme in ("jobbsjansen", "intro"):
        assert persistence[programme]["maloppnaelse_1"]["expected_share"] > (
            persistence[programme]["maloppnaelse_0"]["expected_share"] + 0.2
        )


@pytest.mark.slow
def test_m1_of_the_second_outcome_recovers_the_followup_truth(generated_m1):
    from test_models_synth_recovery import term_in_truth

    from analysis import m1
    from analysis.models import outcome_frame

    persons, truth = generated_m1
    persons = persons.assign(complete_case_1aar=persons["excluded_reason_1aar"].isna())
    fit = m1.fit_m1(outcome_frame(persons, "arbeid_utdanning_1aar"))
    # Three of the four cohorts have their follow-up.
    assert fit.converged and fit.result.nobs > 12_000
    table = m1.coefficient_table(fit)
    true_values = table["term"].map(lambda term: truth["followup"]["coefficients"][term_in_truth(term)])
    covered = (table["ci_low_log"] <= true_values) & (true_values <= table["ci_high_log"])
    assert covered.mean() >= 0.90
    assert np.all(np.abs(table["estimate"] - true_values) < 4 * table["std_error"])


# A late follow-up delivery ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_delivery(built_warehouse, tmp_path_factory):
    """A copy of the session's build, then the latest cohort's follow-up file delivered and one run."""
    from conftest import SAMPLE_SCALE, SAMPLE_SEED, SAMPLE_YEARS
    from pipeline_env import point_environment_at
    from test_operations import _copy_home

    from iwh_synth import generate
    from orchestration.runner import run_pipeline

    tmp_path = tmp_path_factory.mktemp("late_followup")
    latest = SAMPLE_YEARS[-1]
    # The same sample with the latest cohort's follow-up delivered: the draw does not depend on it.
    complete = tmp_path / "complete"
    generate(out_dir=complete, years=SAMPLE_YEARS, scale=SAMPLE_SCALE, seed=SAMPLE_SEED, followup_years=SAMPLE_YEARS)
    landing = tmp_path / "landing"
    shutil.copytree(built_warehouse.landing_dir, landing)
    late_file = Path("register") / f"status_ett_aar_etter_{latest}.csv"
    assert not (landing / late_file).exists()
    shutil.copyfile(complete / late_file, landing / late_file)

    home = _copy_home(built_warehouse, tmp_path)
    settings = point_environment_at(landing, home)
    before = _followup_by_cohort(settings.warehouse_path)
    outcome = run_pipeline(settings)
    return latest, complete, settings, before, outcome


@pytest.mark.slow
def test_a_late_followup_file_adds_exactly_its_cohort_after_one_run(late_delivery):
    latest, complete, settings, before, outcome = late_delivery
    assert outcome.ok, outcome.failures
    assert outcome.ingested == [str(latest)]

    after = _followup_by_cohort(settings.warehouse_path)
    assert after.keys() == before.keys()
    for year in (year for year in before if year != latest):
        pd.testing.assert_frame_equal(after[year], before[year])
    assert set(before[latest]["oppfolging_status"]) == {"ikke_levert_ennaa"}
    truth = pd.read_parquet(complete / "truth_persons.parquet")
    truth = truth.loc[truth["cohort_year"] == latest].set_index(["person_key", "programme"]).sort_index()
    delivered = after[latest].set_index(["person_key", "programme"]).sort_index()
    for column in (*FOLLOWUP_VARIABLES, "excluded_reason_1aar"):
        kind = "Int64" if column in ("arbeid_utdanning_1aar", "sosialhjelp_1aar") else "string"
        assert delivered[column].astype(kind).equals(truth[column].astype(kind)), column
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        modelled = con.execute(
            "select distinct outcome from analysis.model_fit where outcome = 'arbeid_utdanning_1aar'"
        ).fetchall()
        load_log = con.execute(
            "select source, cohort_year from quality.load_log qualify loaded_at = max(loaded_at) over ()"
        ).fetchall()
    assert modelled == [("arbeid_utdanning_1aar",)]
    assert load_log == [("register_status_ett_aar_etter", latest)]


@pytest.mark.slow
def test_a_late_followup_file_rebuilds_only_what_depends_on_it(late_delivery):
    from test_operations import _dbt_nodes_run

    from orchestration.transformation.project import prepare_manifest

    _, _, settings, _, outcome = late_delivery
    assert outcome.ok, outcome.failures
    rebuilt = set(_dbt_nodes_run(settings.home))
    # Exactly what depends on the follow-up source in dbt's graph may be rebuilt (models that read
    # participant_exits, such as municipality_year, do); everything else is reused.
    manifest = json.loads(prepare_manifest().read_text())
    downstream, frontier = set(), ["source.iwh.register.status_ett_aar_etter"]
    while frontier:
        children = manifest["child_map"].get(frontier.pop(), [])
        frontier += [child for child in children if child not in downstream]
        downstream.update(children)
    assert "model.iwh.followup_coverage" in rebuilt and "model.iwh.stg_nir__deltakere" not in downstream
    assert rebuilt <= downstream, sorted(rebuilt - downstream)


def _followup_by_cohort(warehouse: Path) -> dict[int, pd.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute(
            f"""
            select person_key, programme, cohort_year, {", ".join(FOLLOWUP_VARIABLES)}, excluded_reason_1aar
            from marts.analysis_dataset order by person_key, programme
            """
        ).df()
    return {
        int(year): rows.drop(columns="cohort_year").reset_index(drop=True)
        for year, rows in frame.groupby("cohort_year")
    }
