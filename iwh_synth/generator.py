"""`generate`: a complete synthetic landing zone plus the ground truth it was drawn from."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from iwh.settings import DEMO_PSEUDONYM_KEY, SYNTHETIC_MARKER, SettingsError
from iwh_synth import calendar
from iwh_synth.catalogue import load_countries
from iwh_synth.context import unit_context
from iwh_synth.context_files import write_centrality_file, write_klass_file, write_statbank_files
from iwh_synth.environment import YearEnvironment
from iwh_synth.followup import FollowupDeliveries
from iwh_synth.geography import FIRST_YEAR, LAST_YEAR, Geography
from iwh_synth.identifiers import FnrAllocator, allocate_duf
from iwh_synth.intro import INTRO_EXITS, NIR_COLUMNS, NIR_TILTAK_COLUMNS, draw_intro_chunk
from iwh_synth.jobbsjansen import (
    OSLO,
    Participations,
    Project,
    draw_participations,
    draw_year_report,
    load_projects,
    report_columns,
    rows_of_year,
)
from iwh_synth.truth import TruthModel, build_truth_model
from iwh_synth.truth_files import TruthPersonsWriter, truth_document
from iwh_synth.writers import DateFormatter, DelimitedWriter, XlsxWriter, integers_as_text, tenths_as_text

DEFAULT_YEARS = [2017, 2018, 2019, 2020]
# Persons are drawn and written this many at a time, which bounds memory at any scale.
CHUNK_ROWS = 100_000
# Independent random streams, so one part of the sample does not shift when another changes.
STREAMS = {
    "fnr": 1,
    "duf": 2,
    "intro_units": 3,
    "jobbsjansen": 4,
    "effects": 5,
    "accounts": 6,
    "jobbsjansen_report": 7,
    "intro": 8,
    "statbank": 9,
    "followup": 10,
    "followup_effects": 11,
}
XLSX_YEAR = 2019
WINDOWS_1252_UNTIL = 2018
DOUBLE_BOM_YEAR = 2020
DECIMAL_COMMA_YEAR = 2018
SHUFFLED_COLUMNS_YEAR = 2019
# The column order of the 2019 NIR extract (a different export tool that year).
NIR_2019_COLUMNS = [
    "AvsluttetDato",
    "Avsl_Kommunenavn",
    "DatoForForsteVedtakIntro",
    "GjennomforingsfristBeregnetFra",
    "PROVE_NORSK_LES_Resultat",
    "Kjonn",
    "Avsl_Kommunenummer",
    "Fodselsnummer",
    "Fodselsaar",
    "PROVE_NORSK_MUNTLIG_Resultat",
    "Avslutningsaarsak",
    "StatsborgerskapForste",
    "AntallTimerDeltattSamf",
    "SporForste",
    "AntallDagerFravaerIntro",
    "AntallTimerDeltattNKNV",
    "PROVE_NORSK_SKRIV_Resultat",
    "AntallTimerDeltattNorsk",
    "SporSiste",
    "AntallTimerFravaerIntro",
    "PROVE_NORSK_LYTT_Resultat",
]
JOBBSJANSEN_NUMERIC_COLUMNS = {
    "v1_4",
    "v1_5",
    "v1_7",
    "v1_8",
    "v2_1",
    "v2_2",
    "v2_3",
    "v2_9",
    "v4_1",
    "v4_3",
    "v5_1",
    "v5_2",
    "v5_3",
}
INTRO_PARTICIPANTS_PER_EXIT = (1.25, 1.75)
# Share of (mostly small) municipalities asked to settle few or no refugees in the year;
# settlement fell sharply after 2017, which is why far fewer municipalities had exits in 2020.
SETTLEMENT_PAUSE_SHARE = {2017: 0.0, 2018: 0.0, 2019: 0.0, 2020: 0.32}
PAUSED_VOLUME_FACTOR = 0.1
JOBBSJANSEN_SALARY_MEDIAN_1000KR = 40.0
LAYOUT_DIRECTORIES = ("jobbsjansen", "nir", "regnskap", "ssb", "register")

TRUTH_FILES = ("truth.json", "truth_persons.parquet")


class SampleError(SettingsError):
    """The sample cannot be written (printed without a traceback by the CLI)."""


def _rng(seed: int, stream: str, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[stream], *parts])


def generate(
    out_dir: Path,
    years: list[int] | None = None,
    scale: float = 1.0,
    seed: int = 2022,
    truth: str = "default",
    pseudonym_key: str | None = None,
    progress: Callable[[str], None] | None = None,
    followup_years: list[int] | None = None,
) -> dict:
    """Write a synthetic landing zone for `years` into `out_dir`, with truth.json and truth_persons.parquet.

    The follow-up one year after exit is delivered for `followup_years` (default: every year but
    the latest, whose follow-up has not arrived yet); the draw does not depend on it, so a sample
    written with the latest year included holds the late delivery of one written without it.

    Returns a summary: counts per source and year, the paths written, and the time taken.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    years = sorted(set(years or DEFAULT_YEARS))
    if not years or years[0] < FIRST_YEAR or years[-1] > LAST_YEAR:
        raise SampleError(f"years must lie within {FIRST_YEAR}-{LAST_YEAR}, got {years}")
    if not scale > 0:
        raise SampleError(f"scale must be positive, got {scale}")
    try:
        model = build_truth_model(truth)
    except ValueError as error:
        raise SampleError(str(error)) from error
    followup_years = sorted(set(years[:-1] if followup_years is None else followup_years))
    if not set(followup_years) <= set(years):
        raise SampleError(f"follow-up years {followup_years} must be among the cohort years {years}")
    out_dir = Path(out_dir)
    _prepare_output_dir(out_dir)
    key = pseudonym_key or DEMO_PSEUDONYM_KEY
    # Marked first, so that even an interrupted sample is known to be synthetic and may be rewritten.
    _write_marker(out_dir, seed, scale, years, model.name, key == DEMO_PSEUDONYM_KEY)

    geography = Geography()
    countries = load_countries()
    projects = load_projects(geography)
    dates = DateFormatter()
    contexts = {year: unit_context(geography, year) for year in range(FIRST_YEAR, LAST_YEAR + 1)}
    fnr_allocator = FnrAllocator(_rng(seed, "fnr"), 1950, 2003)

    intro_counts = {
        year: _intro_chunk_counts(_rng(seed, "intro_units", year), geography, year, scale) for year in years
    }
    participations = draw_participations(_rng(seed, "jobbsjansen"), projects, years, scale, countries)
    js_identifiers = _jobbsjansen_identifiers(seed, participations, fnr_allocator)
    js_rows = {year: rows_of_year(participations, year) for year in years}
    environments, kostra, project_accounts = _environments(
        seed, model, geography, projects, participations, js_rows, intro_counts, contexts, years
    )
    say(f"drew units, projects and effects ({time.perf_counter() - started:.1f} s)")

    summary: dict = {
        "out_dir": str(out_dir),
        "seed": seed,
        "scale": scale,
        "years": years,
        "truth_model": model.name,
        "counts": {"jobbsjansen": {}, "nir_deltakere": {}, "nir_tiltak": {}},
        "followup_years": followup_years,
        "paths": {},
    }
    truth_writer = TruthPersonsWriter(out_dir / "truth_persons.parquet", key)
    followup = FollowupDeliveries(out_dir, followup_years, model, lambda *parts: _rng(seed, "followup", *parts))
    for year in years:
        leavers = _write_jobbsjansen_year(
            seed,
            year,
            out_dir,
            js_rows[year],
            participations,
            projects,
            geography,
            environments[year],
            model,
            countries,
            js_identifiers,
            truth_writer,
            followup,
            with_edge_cases=year == years[0],
        )
        summary["counts"]["jobbsjansen"][year] = {"rows": int(js_rows[year].size), "leavers": leavers}
        say(f"jobbsjansen {year}: {js_rows[year].size} rows, {leavers} leavers ({time.perf_counter() - started:.1f} s)")
    for year in years:
        exits, measures = _write_intro_year(
            seed,
            year,
            out_dir,
            intro_counts[year],
            environments[year],
            model,
            countries,
            fnr_allocator,
            dates,
            truth_writer,
            followup,
        )
        summary["counts"]["nir_deltakere"][year] = exits
        summary["counts"]["nir_tiltak"][year] = measures
        say(f"nir {year}: {exits} exits, {measures} measures ({time.perf_counter() - started:.1f} s)")
    truth_writer.close()
    summary["counts"]["register_status"] = followup.close()

    _write_accounts(out_dir / "regnskap", years, kostra, project_accounts)
    ssb_dir = out_dir / "ssb"
    write_statbank_files(ssb_dir, geography, years, contexts, _rng(seed, "statbank"))
    write_centrality_file(ssb_dir, geography, years, contexts)
    write_klass_file(ssb_dir, geography, years)

    document = truth_document(model, seed, scale, years, environments, key == DEMO_PSEUDONYM_KEY)
    document["followup"] = followup.truth_section(environments)
    (out_dir / "truth.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )

    summary["paths"] = {
        "landing_dir": str(out_dir),
        "truth_json": str(out_dir / "truth.json"),
        "truth_persons": str(out_dir / "truth_persons.parquet"),
        "files": sorted(str(path.relative_to(out_dir)) for path in out_dir.rglob("*") if path.is_file()),
    }
    summary["seconds"] = round(time.perf_counter() - started, 2)
    counts = summary["counts"]
    summary["lines"] = (
        [
            f"{year}: Jobbsjansen {counts['jobbsjansen'][year]['rows']} reported ({counts['jobbsjansen'][year]['leavers']} leavers), "
            f"introduction programme {counts['nir_deltakere'][year]} exits ({counts['nir_tiltak'][year]} measures)"
            for year in years
        ]
        + [
            f"{year}: status one year after exit {rows} persons (register follow-up)"
            for year, rows in counts["register_status"].items()
        ]
        + [f"truth model {model.name}, seed {seed}, scale {scale:g}, {summary['seconds']:.1f} s"]
    )
    say(f"sample written to {out_dir} in {summary['seconds']:.1f} s")
    return summary


def _prepare_output_dir(out_dir: Path) -> None:
    """Refuse to write into a directory that holds anything but an earlier synthetic sample."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SampleError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / SYNTHETIC_MARKER).is_file():
            raise SampleError(
                f"{out_dir} is not empty and has no {SYNTHETIC_MARKER} marker: it may hold real deliveries, "
                "so the synthetic sample will not be written there. Choose an empty directory."
            )
        for name in LAYOUT_DIRECTORIES:
            shutil.rmtree(out_dir / name, ignore_errors=True)
        for name in TRUTH_FILES:
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_marker(out_dir: Path, seed: int, scale: float, years: list[int], model: str, demo_key: bool) -> None:
    key_note = (
        f"Person keys use the documented demo key ({DEMO_PSEUDONYM_KEY})."
        if demo_key
        else "Person keys use a key given by the user (not recorded here)."
    )
    (out_dir / SYNTHETIC_MARKER).write_text(
        "Synthetic landing zone written by iwh_synth: fake persons, not real deliveries.\n"
        f"seed={seed} scale={scale:g} years={years[0]}-{years[-1]} truth={model}\n"
        f"{key_note}\n",
        encoding="utf-8",
    )


def _intro_chunk_counts(rng: np.random.Generator, geography: Geography, year: int, scale: float) -> np.ndarray:
    """Exits per (chunk, unit): how many of each municipality's exits each written chunk holds."""
    units = geography.units[year]
    volume = np.array([geography.traits.intro_volume[group].sum() for group in units.members])
    volume = volume * np.exp(rng.normal(0.0, 0.25, volume.size))
    smallness = np.clip(1.0 - np.log10(units.population / 3000) / 2, 0.0, 1.0)
    paused = rng.random(volume.size) < 2 * SETTLEMENT_PAUSE_SHARE[year] * smallness
    volume[paused] *= PAUSED_VOLUME_FACTOR
    total = round(INTRO_EXITS[year] * scale)
    chunks = max(1, math.ceil(total / CHUNK_ROWS))
    sizes = np.full(chunks, total // chunks)
    sizes[: total % chunks] += 1
    return np.array([rng.multinomial(size, volume / volume.sum()) for size in sizes])


def _jobbsjansen_identifiers(seed: int, participations: Participations, fnr_allocator: FnrAllocator) -> np.ndarray:
    rng = _rng(seed, "duf")
    birth_year = participations.exit_year - participations.alder_at_exit
    first = calendar.day_number(birth_year, np.ones_like(birth_year), np.ones_like(birth_year))
    length = calendar.day_number(birth_year + 1, np.ones_like(birth_year), np.ones_like(birth_year)) - first
    birth_day = first + (rng.random(birth_year.size) * length).astype(np.int64)
    fnr, used_day = fnr_allocator.allocate(birth_day, participations.is_man)
    participations.alder_at_exit = participations.exit_year - calendar.split(used_day)[0]
    arrival_year = participations.exit_year - participations.botid_at_exit
    duf = allocate_duf(rng, np.maximum(arrival_year, 2000))
    return np.where(participations.uses_duf, duf, fnr)


def _environments(
    seed,
    model: TruthModel,
    geography: Geography,
    projects: list[Project],
    participations,
    js_rows,
    intro_counts,
    contexts,
    years,
):
    """Accounts, salary per participant and planted effects for every year."""
    accounts_rng = _rng(seed, "accounts")
    effects_rng = _rng(seed, "effects")
    followup_effects_rng = _rng(seed, "followup_effects")
    base_count = len(geography.base)
    programme_effect = (
        _centred(effects_rng.normal(0.0, model.project_sd, base_count)) if model.project_sd else np.zeros(base_count)
    )
    project_effect = (
        _centred(effects_rng.normal(0.0, model.project_sd, len(projects))) + model.jobbsjansen_project_mean
        if model.project_sd
        else np.zeros(len(projects))
    )
    project_salary_level = np.exp(
        np.log(JOBBSJANSEN_SALARY_MEDIAN_1000KR) + accounts_rng.normal(0.0, 0.25, len(projects))
    )

    environments, kostra, project_accounts = {}, {}, {}
    for year in years:
        units = geography.units[year]
        n_units = units.codes.size
        exits = intro_counts[year].sum(axis=0)
        participants = np.where(
            exits > 0, np.maximum(1, np.rint(exits * accounts_rng.uniform(*INTRO_PARTICIPANTS_PER_EXIT, n_units))), 0
        ).astype(np.int64)
        salary_level = geography.traits.intro_salary_per_participant[units.carrier] * np.exp(
            accounts_rng.normal(0.0, 0.08, n_units)
        )
        salary_tenths = np.rint(participants * salary_level * 10).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            intro_salary = np.where(participants > 0, (salary_tenths / 10) / np.maximum(participants, 1), np.nan)
        kostra[year] = (units, exits > 0, salary_tenths, participants)

        municipality_effect = (
            _centred(effects_rng.normal(0.0, math.sqrt(model.municipality_year_variance), n_units))
            if model.municipality_year_variance
            else np.zeros(n_units)
        )
        programme_year_effect = (
            _centred(effects_rng.normal(0.0, math.sqrt(model.project_year_variance), n_units))
            if model.project_year_variance
            else np.zeros(n_units)
        )
        followup_variance = model.followup.municipality_year_variance
        followup_municipality_effect = (
            _centred(followup_effects_rng.normal(0.0, math.sqrt(followup_variance), n_units))
            if followup_variance
            else np.zeros(n_units)
        )
        environment = YearEnvironment(
            year=year,
            units=units,
            context=contexts[year],
            intro_salary_per_participant=intro_salary,
            municipality_effect=municipality_effect,
            intro_programme_effect=programme_effect[units.carrier],
            intro_programme_year_effect=programme_year_effect,
            spor_registration=geography.traits.spor_registration[units.carrier],
            test_registration=geography.traits.test_registration[units.carrier],
            followup_municipality_effect=followup_municipality_effect,
        )
        rows = js_rows[year]
        counts = np.bincount(participations.project[rows], minlength=len(projects))
        year_accounts = []
        for index, project in enumerate(projects):
            if not project.active(year) or counts[index] == 0:
                continue
            prosjekt_id = project.prosjekt_id(geography, year)
            salary_kr = int(
                np.rint(counts[index] * project_salary_level[index] * np.exp(accounts_rng.normal(0.0, 0.08)) * 1000)
            )
            environment.project_salary_per_participant[prosjekt_id] = salary_kr / counts[index] / 1000
            environment.project_effect[prosjekt_id] = float(project_effect[index])
            if model.project_year_variance:
                environment.project_year_effect[prosjekt_id] = float(
                    effects_rng.normal(0.0, math.sqrt(model.project_year_variance))
                )
            kommunenummer = OSLO if project.district else project.kommunenummer(geography, year)
            year_accounts.append((prosjekt_id, kommunenummer, salary_kr, int(counts[index])))
        project_accounts[year] = year_accounts
        environments[year] = environment
    return environments, kostra, project_accounts


def _centred(effects: np.ndarray) -> np.ndarray:
    """Planted effects with mean exactly zero, so the sample's overall shares do not drift with the draw."""
    return effects - effects.mean()


def _write_jobbsjansen_year(
    seed,
    year,
    out_dir,
    rows,
    participations,
    projects,
    geography,
    environment,
    model,
    countries,
    identifiers,
    truth_writer,
    followup,
    with_edge_cases,
) -> int:
    draw = draw_year_report(
        _rng(seed, "jobbsjansen_report", year),
        year,
        rows,
        participations,
        projects,
        geography,
        environment,
        model,
        countries,
        identifiers,
        with_edge_cases,
    )
    columns = report_columns(year)
    if year == XLSX_YEAR:
        relative = f"jobbsjansen/individrapportering_{year}.xlsx"
        writer = XlsxWriter(
            out_dir / relative,
            columns,
            JOBBSJANSEN_NUMERIC_COLUMNS,
            created=f"{year + 1}-01-15T09:00:00Z",
            rows=len(draw.columns[columns[0]]),
        )
    elif year <= WINDOWS_1252_UNTIL:
        relative = f"jobbsjansen/individrapportering_{year}.csv"
        writer = DelimitedWriter(out_dir / relative, columns, encoding="cp1252", line_terminator="\r\n")
    else:
        relative = f"jobbsjansen/individrapportering_{year}.csv"
        writer = DelimitedWriter(out_dir / relative, columns, byte_order_marks=2 if year == DOUBLE_BOM_YEAR else 1)
    writer.write(draw.columns)
    writer.close()
    followup.add(year, 0, draw.truth, draw.latent, environment)
    truth_writer.write(draw.truth, relative)
    return int(draw.truth["cohort_year"].size)


def _write_intro_year(
    seed, year, out_dir, chunk_counts, environment, model, countries, fnr_allocator, dates, truth_writer, followup
) -> tuple[int, int]:
    deltakere_path = f"nir/nir_deltakere_{year}.csv"
    columns = NIR_2019_COLUMNS if year == SHUFFLED_COLUMNS_YEAR else NIR_COLUMNS
    deltakere = DelimitedWriter(out_dir / deltakere_path, columns)
    tiltak = DelimitedWriter(out_dir / f"nir/nir_tiltak_{year}.csv", NIR_TILTAK_COLUMNS)
    first_row = 2
    for chunk, counts in enumerate(chunk_counts):
        rng = _rng(seed, "intro", year, chunk)
        unit_index = rng.permutation(np.repeat(np.arange(counts.size), counts))
        drawn = draw_intro_chunk(
            rng,
            year,
            unit_index,
            environment,
            model,
            countries,
            fnr_allocator,
            dates,
            first_row,
            with_edge_cases=chunk == 0,
        )
        deltakere.write(drawn.deltakere)
        tiltak.write(drawn.tiltak)
        followup.add(year, 1 + chunk, drawn.truth, drawn.latent, environment)
        truth_writer.write(drawn.truth, deltakere_path)
        first_row += unit_index.size
    deltakere.close()
    tiltak.close()
    return deltakere.rows, tiltak.rows


def _write_accounts(regnskap_dir: Path, years: list[int], kostra, project_accounts) -> None:
    for year in years:
        units, has_exits, salary_tenths, participants = kostra[year]
        writer = DelimitedWriter(
            regnskap_dir / f"kostra_f275_{year}.csv",
            ["kommunenummer", "kommunenavn", "lonnsutgifter_1000kr", "antall_deltakere_intro"],
        )
        writer.write(
            {
                "kommunenummer": units.codes[has_exits].astype(object),
                "kommunenavn": units.names[has_exits].astype(object),
                "lonnsutgifter_1000kr": tenths_as_text(salary_tenths[has_exits], decimal_comma=False),
                "antall_deltakere_intro": integers_as_text(participants[has_exits]),
            }
        )
        writer.close()
        writer = DelimitedWriter(
            regnskap_dir / f"jobbsjansen_prosjekter_{year}.csv",
            ["prosjekt", "kommunenummer", "lonnsutgifter_kr", "antall_deltakere"],
        )
        writer.write_lines(
            [f"{prosjekt};{code};{salary};{count}" for prosjekt, code, salary, count in project_accounts[year]]
        )
        writer.close()
