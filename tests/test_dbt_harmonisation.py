"""Harmonisation in dbt, checked against the generator's per-person truth.

The session's synthetic sample (conftest `sample_landing`) is loaded through the real ingestion and
built by the real Dagster dbt asset, into a warehouse of this module's own, so these tests depend
on ingestion and dbt only. The other outcome variant, the dbt unit tests and the unmapped-label
failures run on private copies of that warehouse.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from iwh.settings import Settings
from orchestration.transformation.project import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_environment

KEY = ("person_key", "programme", "cohort_year")
FLOAT_COLUMNS = {"botid", "norsk_score", "fravaer_andel"}
FLOAT_TOLERANCE = 1e-9
OUTCOME_VARIANTS = ("report_text", "table8_literal")
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class HarmonisedWarehouse:
    settings: Settings
    truth_persons_path: Path
    failed_checks: list[str]


def run_dbt(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(DBT_EXECUTABLE),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(settings.home / "dbt_target"),
            "--log-path",
            str(settings.home / "dbt_logs"),
        ],
        env={**os.environ, **dbt_environment(settings)},
        capture_output=True,
        text=True,
    )


def copy_warehouse(harmonised: HarmonisedWarehouse, destination: Path) -> Settings:
    """A private copy of the module's warehouse, to rebuild or corrupt freely."""
    destination.mkdir(parents=True)
    source = harmonised.settings.warehouse_path
    for path in source.parent.glob(source.name + "*"):  # the database and any write-ahead log
        shutil.copyfile(path, destination / path.name)
    return Settings(landing_dir=harmonised.settings.landing_dir, home=destination, pseudonym_key=None)


def materialize_dbt_assets(settings: Settings):
    """The Dagster dbt asset (`dbt build`, checks, docs) on this home's warehouse."""
    from dagster import DagsterInstance, materialize

    from orchestration.resources import WarehouseResource
    from orchestration.transformation.assets import dbt_warehouse_assets
    from orchestration.transformation.resources import dbt_resource

    previous_environment = dict(os.environ)
    try:
        return materialize(
            [dbt_warehouse_assets],
            resources={
                "dbt": dbt_resource(settings),
                "warehouse": WarehouseResource(landing_dir=str(settings.landing_dir), home=str(settings.home)),
            },
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    finally:
        os.environ.clear()
        os.environ.update(previous_environment)


@pytest.fixture(scope="module")
def harmonised(sample_landing, tmp_path_factory) -> HarmonisedWarehouse:
    """The sample through ingestion and the Dagster dbt asset."""
    from iwh.landing import discover, load_partition, load_reference

    home = tmp_path_factory.mktemp("dbt_harmonisation") / "home"
    home.mkdir()
    settings = Settings(landing_dir=sample_landing, home=home, pseudonym_key=None)
    log = logging.getLogger(__name__)
    inventory = discover(sample_landing)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        for source in inventory.reference_sources():
            load_reference(con, settings, source, "test_dbt_harmonisation", log)
        for source, year in inventory.partitions():
            load_partition(con, settings, source, year, "test_dbt_harmonisation", log)
    finally:
        con.close()
    result = materialize_dbt_assets(settings)
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    return HarmonisedWarehouse(settings, sample_landing / "truth_persons.parquet", failed)


def mismatches_with_truth(warehouse_path: Path, truth_path: Path, variant: str) -> dict[str, object]:
    """Every harmonised variable of participant_exits (and the exclusion reasons of
    analysis_dataset) that differs from the generator's truth, with its count and a few examples."""
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        con.execute(f"create temp view truth as select * from read_parquet('{truth_path}')")
        problems: dict[str, object] = {}
        unmatched = con.sql(
            "select count(*) from marts.participant_exits as m full outer join truth as t "
            "using (person_key, programme, cohort_year) where m.person_key is null or t.person_key is null"
        ).fetchall()[0][0]
        if unmatched:
            problems["rows in only one of mart and truth"] = unmatched
        columns = [row[0] for row in con.sql("describe marts.participant_exits").fetchall()]
        for column in columns:
            if column in KEY or column == "outcome_variant":
                continue
            truth_column = f"{column}_{variant}" if column in ("maloppnaelse", "overgang") else column
            if column in FLOAT_COLUMNS:
                differs = (
                    f"(m.{column} is null) <> (t.{truth_column} is null) "
                    f"or abs(m.{column} - t.{truth_column}) > {FLOAT_TOLERANCE}"
                )
            else:
                differs = f"m.{column}::varchar is distinct from t.{truth_column}::varchar"
            examples = con.sql(
                f"select m.programme, m.cohort_year, m.{column}, t.{truth_column} "
                f"from marts.participant_exits as m join truth as t using (person_key, programme, cohort_year) "
                f"where {differs}"
            ).fetchall()
            if examples:
                problems[column] = (len(examples), examples[:3])
        for column in ("excluded_reason", "excluded_reasons", "excluded_reason_1aar", "excluded_reasons_1aar"):
            examples = con.sql(
                f"select m.programme, m.{column}, t.{column} from marts.analysis_dataset as m "
                f"join truth as t using (person_key, programme, cohort_year) where m.{column} is distinct from t.{column}"
            ).fetchall()
            if examples:
                problems[column] = (len(examples), examples[:3])
        variant_in_mart = {
            row[0] for row in con.sql("select distinct outcome_variant from marts.participant_exits").fetchall()
        }
        if variant_in_mart != {variant}:
            problems["outcome_variant"] = variant_in_mart
        return problems
    finally:
        con.close()


@pytest.fixture(scope="module")
def table8_warehouse(harmonised, tmp_path_factory) -> Settings:
    """The module's warehouse rebuilt from the outcome recode on with outcome variant table8_literal."""
    settings = copy_warehouse(harmonised, tmp_path_factory.mktemp("table8") / "home")
    result = run_dbt(
        settings,
        "build",
        "--select",
        "int_participants__outcome+",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"outcome_variant": "table8_literal"}),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return settings


@pytest.mark.parametrize("variant", OUTCOME_VARIANTS)
def test_every_harmonised_variable_equals_the_generators_truth(variant, harmonised, request):
    settings = harmonised.settings if variant == "report_text" else request.getfixturevalue("table8_warehouse")
    problems = mismatches_with_truth(settings.warehouse_path, harmonised.truth_persons_path, variant)
    assert problems == {}


def test_dagster_build_passes_every_dbt_check_and_writes_the_docs(harmonised):
    assert harmonised.failed_checks == []
    assert (harmonised.settings.reports_dir / "dbt_docs" / "index.html").stat().st_size > 0


def test_both_variants_differ_exactly_on_the_two_swapped_end_reasons(harmonised, table8_warehouse):
    swapped = {"Arbeidssøker på lønnstilskudd (NAV)", "Arbeidssøker på andre tiltak i regi av NAV"}
    con = duckdb.connect(str(table8_warehouse.warehouse_path), read_only=True)
    try:
        con.execute(f"attach '{harmonised.settings.warehouse_path}' as report_text (read_only)")
        differing = con.sql(
            "select distinct t8.avslutningsaarsak from marts.participant_exits as t8 "
            "join report_text.marts.participant_exits as rt using (person_key, programme, cohort_year) "
            "where t8.maloppnaelse is distinct from rt.maloppnaelse"
        ).fetchall()
    finally:
        con.close()
    assert {row[0] for row in differing} <= swapped
    assert differing, "the sample should contain at least one of the two swapped end reasons"


@pytest.fixture(scope="module")
def every_scheme_warehouse(harmonised, tmp_path_factory) -> Settings:
    """The module's warehouse rebuilt from the analysis dataset on with js_scope `alle`."""
    settings = copy_warehouse(harmonised, tmp_path_factory.mktemp("js_scope_alle") / "home")
    result = run_dbt(
        settings,
        "build",
        "--select",
        "analysis_dataset+",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"js_scope": "alle"}),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return settings


def test_rows_outside_the_js_scope_are_counted_and_js_scope_alle_brings_them_back(harmonised, every_scheme_warehouse):
    truth = str(harmonised.truth_persons_path)
    con = duckdb.connect(str(every_scheme_warehouse.warehouse_path), read_only=True)
    try:
        con.execute(f"attach '{harmonised.settings.warehouse_path}' as ordning_a (read_only)")
        other_schemes = dict(
            con.sql(
                f"select cohort_year, count(*) from read_parquet('{truth}') "
                "where programme = 'jobbsjansen' and js_scheme <> 'ordning_a' group by all"
            ).fetchall()
        )
        counted = dict(
            con.sql(
                "select cohort_year, sum(n_rows) from ordning_a.marts.exclusions "
                "where step = 'excluded' and reason = 'outside_js_scope' and outcome = 'maloppnaelse' group by all"
            ).fetchall()
        )
        counted_under_alle = con.sql(
            "select count(*) from marts.exclusions where reason = 'outside_js_scope'"
        ).fetchall()[0][0]
        # Under `alle` each such row is out only for the reasons it has besides the scope.
        reasons_back = con.sql(
            f"""
            select count(*) filter (where a.excluded_reasons is not distinct from
                       nullif(regexp_replace(t.excluded_reasons, '^outside_js_scope;?', ''), '')),
                   count(*) filter (where a.complete_case),
                   count(*)
            from read_parquet('{truth}') as t
            join marts.analysis_dataset as a using (person_key, programme, cohort_year)
            where t.programme = 'jobbsjansen' and t.js_scheme <> 'ordning_a'
            """
        ).fetchall()[0]
        modelled = {
            scope: con.sql(
                f"select count(*) from {schema}.analysis_dataset where complete_case and js_scope = '{scope}'"
            ).fetchall()[0][0]
            for scope, schema in (("ordning_a", "ordning_a.marts"), ("alle", "marts"))
        }
    finally:
        con.close()
    assert other_schemes, "the sample should hold rows of a scheme other than Ordning A"
    assert counted == other_schemes
    assert counted_under_alle == 0
    matching, complete, total = reasons_back
    assert matching == total == sum(other_schemes.values())
    assert complete > 0
    assert modelled["alle"] == modelled["ordning_a"] + complete


def test_the_js_scope_of_the_environment_is_a_var_of_every_dbt_command(tmp_path):
    from orchestration.transformation.project import dbt_vars

    default = Settings.from_env({"IWH_HOME": str(tmp_path)})
    every_scheme = Settings.from_env({"IWH_HOME": str(tmp_path), "IWH_JS_SCOPE": "alle"})
    assert json.loads(dbt_vars(default)[1])["js_scope"] == "ordning_a"
    assert json.loads(dbt_vars(every_scheme)[1]) == {"outcome_variant": "report_text", "js_scope": "alle"}


def test_exclusions_reconcile_from_delivered_to_modelled_rows(harmonised):
    con = duckdb.connect(str(harmonised.settings.warehouse_path), read_only=True)
    try:
        per_year = con.sql(
            """
            select outcome, programme, cohort_year,
                   sum(n_rows) filter (where step = 'delivered') as delivered,
                   sum(n_rows) filter (where step in ('quarantined', 'not_an_exit', 'excluded')) as excluded,
                   sum(n_rows) filter (where step = 'modelled') as modelled
            from marts.exclusions group by all order by all
            """
        ).fetchall()
        loaded = dict(
            ((programme, year), n)
            for programme, year, n in con.sql(
                """
                select 'jobbsjansen', cohort_year, count(*) from raw.jobbsjansen_individrapportering group by all
                union all
                select 'intro', cohort_year, count(*) from raw.nir_deltakere group by all
                """
            ).fetchall()
        )
        modelled_in_truth = dict(
            ((outcome, programme, year), n)
            for outcome, programme, year, n in con.sql(
                f"""
                select 'maloppnaelse', programme, cohort_year, count(*) filter (where excluded_reason is null)
                from read_parquet('{harmonised.truth_persons_path}') group by all
                union all
                select 'arbeid_utdanning_1aar', programme, cohort_year,
                       count(*) filter (where excluded_reason_1aar is null)
                from read_parquet('{harmonised.truth_persons_path}') group by all
                """
            ).fetchall()
        )
    finally:
        con.close()
    assert {row[0] for row in per_year} == {"maloppnaelse", "arbeid_utdanning_1aar"}
    for outcome, programme, year, delivered, excluded, modelled in per_year:
        assert delivered == (modelled or 0) + (excluded or 0), (outcome, programme, year)
        assert delivered == loaded[(programme, year)], (outcome, programme, year)
        assert (modelled or 0) == modelled_in_truth[(outcome, programme, year)], (outcome, programme, year)


def test_a_build_after_a_new_cohort_reuses_what_does_not_read_it_and_equals_a_full_build(harmonised, tmp_path):
    """The module's build without its last Jobbsjansen cohort, then that cohort delivered: the
    rebuild through Dagster (dbt's state selection, reuse.py) leaves the seeds and the
    municipality models as they were and gives the tables a full `dbt build` gives."""
    from warehouse_content import content_checksums

    from orchestration.transformation.assets import MANIFEST

    incremental = copy_warehouse(harmonised, tmp_path / "incremental")
    full = copy_warehouse(harmonised, tmp_path / "full")
    with duckdb.connect(str(incremental.warehouse_path)) as con:
        con.execute(
            "delete from raw.jobbsjansen_individrapportering where cohort_year = "
            "(select max(cohort_year) from raw.jobbsjansen_individrapportering)"
        )
    assert materialize_dbt_assets(incremental).success, "the build without the cohort"
    docs = incremental.reports_dir / "dbt_docs" / "index.html"
    docs_written = docs.stat().st_mtime_ns
    with duckdb.connect(str(incremental.warehouse_path)) as con:
        con.execute(f"attach '{harmonised.settings.warehouse_path}' as delivered (read_only)")
        # As ingestion loads it: every row stamped with the time of its load.
        con.execute(
            "insert into raw.jobbsjansen_individrapportering "
            "select * replace (current_localtimestamp() as _loaded_at) from ("
            "select * from delivered.raw.jobbsjansen_individrapportering except "
            "select * from raw.jobbsjansen_individrapportering)"
        )
    result = materialize_dbt_assets(incremental)
    assert result.success

    materialized = result.get_asset_materialization_events()
    reused = {event.asset_key.path[-1] for event in materialized if "reused" in event.materialization.metadata}
    rebuilt = {event.asset_key.path[-1] for event in materialized} - reused
    assert {"utdanning_spor", "land_regioner", "stg_ssb__statbank", "stg_nir__deltakere"} <= reused
    assert {
        "stg_jobbsjansen__individrapportering",
        "int_participants__spor",
        "participant_exits",
        "analysis_dataset",
    } <= rebuilt
    relations = [node for node in MANIFEST["nodes"].values() if node["resource_type"] in ("model", "seed")]
    assert len(materialized) == len(relations), "every model and seed has its event"
    ran = {
        result["unique_id"]
        for result in json.loads((incremental.home / "dbt" / "target" / "run_results.json").read_text())["results"]
    }
    assert {unique_id.split(".")[-1] for unique_id in ran if unique_id.startswith(("model.", "seed."))} == rebuilt
    tests_of_reused = {
        unique_id
        for unique_id, node in MANIFEST["nodes"].items()
        if node["resource_type"] == "test"
        and all(parent.split(".")[-1] in reused for parent in node["depends_on"]["nodes"])
    }
    assert tests_of_reused and not tests_of_reused & ran, "the tests of what was reused did not run again"
    checks = result.get_asset_check_evaluations()
    assert checks and all(e.passed for e in checks), "the blocking checks of the rebuilt models ran and passed"
    assert docs.stat().st_mtime_ns == docs_written, "a partial build documents the same project and columns"

    assert run_dbt(full, "build", "--exclude-resource-type", "unit_test").returncode == 0
    schemas = ("staging", "intermediate", "marts")
    assert content_checksums(incremental.warehouse_path, schemas) == content_checksums(full.warehouse_path, schemas)
    assert content_checksums(incremental.warehouse_path, schemas) == content_checksums(
        harmonised.settings.warehouse_path, schemas
    )


def test_dbt_unit_tests_pass(harmonised, tmp_path):
    settings = copy_warehouse(harmonised, tmp_path / "home")
    result = run_dbt(settings, "test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-6000:]
    assert "PASS=" in result.stdout


def test_unmapped_labels_fail_checks_by_name(harmonised, tmp_path):
    settings = copy_warehouse(harmonised, tmp_path / "home")
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.execute("update raw.nir_deltakere set statsborgerskapforste = 'Atlantis' where _row_number = 2")
        con.execute("update raw.nir_deltakere set avslutningsaarsak = 'Pensjonert' where _row_number = 3")
        con.execute("update raw.nir_tiltak set tiltak = 'Dykkerkurs' where _row_number = 2")
    finally:
        con.close()
    recoded_labels = [
        "stg_nir__deltakere",
        "stg_nir__tiltak",
        "int_participants__exits",
        "int_participants__region",
        "int_participants__outcome",
        "int_participants__tiltak_mottatt",
    ]
    run_dbt(settings, "build", "--select", *recoded_labels, "--exclude-resource-type", "unit_test")
    run_results = json.loads((settings.home / "dbt_target" / "run_results.json").read_text())
    # Severity is warn (ingestion quarantines a delivered label outside its seed, and this only holds
    # the two together), so "failing" is either status; what matters is that the named check counts
    # the unknown label.
    failing = {
        r["unique_id"].split(".")[2]: r["failures"] for r in run_results["results"] if r["status"] in ("fail", "warn")
    }
    for name in ("unmapped_country_label", "unmapped_end_reason", "unmapped_measure_label"):
        assert failing.get(name, 0) >= 1, (name, failing)


def test_country_seed_covers_every_country_the_generator_writes():
    seed = {
        row["landnavn"].casefold(): row["region"] for row in csv.DictReader((SEEDS_DIR / "land_regioner.csv").open())
    }
    generator_countries = Path(__file__).resolve().parents[1] / "iwh_synth" / "data" / "land.csv"
    missing, other_region = [], []
    for row in csv.DictReader(generator_countries.open(), delimiter=";"):
        for spelling in (row["landnavn_nir"], row["landnavn_jobbsjansen"]):
            if spelling.casefold() not in seed:
                missing.append(spelling)
            elif seed[spelling.casefold()] != row["region"]:
                other_region.append((spelling, seed[spelling.casefold()], row["region"]))
    assert missing == [] and other_region == []


def test_dbt_tests_are_asset_checks_and_unmapped_labels_block():
    from dagster import AssetKey

    from orchestration.transformation.assets import dbt_warehouse_assets
    from orchestration.transformation.translator import is_critical

    checks = {spec.name: spec for spec in dbt_warehouse_assets.check_specs}
    for name in ("unmapped_country_label", "unmapped_end_reason", "unmapped_measure_label", "exclusions_reconcile"):
        assert checks[name].blocking and is_critical(checks[name]), name
    upstream = {key for asset_key in dbt_warehouse_assets.keys for key in dbt_warehouse_assets.asset_deps[asset_key]}
    assert AssetKey(["raw", "nir_deltakere"]) in upstream
    assert AssetKey(["quality", "quarantine"]) in upstream
    assert AssetKey(["marts", "participant_exits"]) in dbt_warehouse_assets.keys
