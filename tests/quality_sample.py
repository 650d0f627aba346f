"""A small hand-made warehouse in the shapes of docs/architecture.md, for fast quality tests.

Deterministic: every count the tests assert follows from the constants here. Two cohort
years of introduction-programme exits in three municipalities, plus a few Jobbsjansen
leavers; every value valid and every variable filled except where a test degrades it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
YEARS = (2018, 2019)
# kommunenummer, kommunenavn, exits per year
MUNICIPALITIES = (("0301", "Oslo", 30), ("4601", "Bergen", 25), ("5001", "Trondheim", 6))
JOBBSJANSEN_LEAVERS_PER_YEAR = 8
END_REASONS = ("Arbeid", "Annet", "Ordinær utdanning - videregående skole", "Ingen aktivitet")
COUNTRIES = (("Syria", "Vest-Asia"), ("Eritrea", "Afrika sør for Sahara"), ("Afghanistan", "Sør-Asia"))
TILTAK_COLUMNS = (
    "norskopplaering",
    "samfunnskunnskap",
    "sprakpraksis",
    "yrkesrettet_kurs",
    "ordinaert_arbeid",
    "arbeidspraksis_skjermet",
    "arbeidspraksis_ordinaer",
    "amo_kurs",
    "sosialt_nettverk",
    "helsefremmende",
    "barn_familie",
    "kultur_fritid",
    "realkompetanse",
    "grunnskolefag",
    "fag_vgo",
)


QUARANTINE_COLUMNS = [
    "source",
    "cohort_year",
    "source_file",
    "file_sha256",
    "row_number",
    "column_name",
    "reason",
    "detail",
    "value",
    "loaded_at",
]


def quarantine_row(nir_row: pd.Series, column_name: str, reason: str, detail: str) -> dict:
    return {
        "source": "nir_deltakere",
        "cohort_year": nir_row["cohort_year"],
        "source_file": nir_row["_source_file"],
        "file_sha256": nir_row["_file_sha256"],
        "row_number": nir_row["_row_number"],
        "column_name": column_name,
        "reason": reason,
        "detail": detail,
        "value": None,
        "loaded_at": pd.Timestamp("2024-01-01"),
    }


def person_key(programme: str, year: int, index: int) -> str:
    return hashlib.sha256(f"{programme}-{year}-{index}".encode()).hexdigest()[:32]


def nir_file(year: int) -> str:
    return f"nir/nir_deltakere_{year}.csv"


def _nir_rows() -> list[dict]:
    rows = []
    for year in YEARS:
        row_number = 2
        for kommunenummer, kommunenavn, exits in MUNICIPALITIES:
            for _ in range(exits):
                index = row_number - 2
                land = COUNTRIES[index % len(COUNTRIES)][0]
                rows.append(
                    {
                        "person_key": person_key("intro", year, index),
                        "kjonn": "MK"[index % 2],
                        "fodselsaar": str(year - 25 - index % 20),
                        "statsborgerskapforste": land,
                        "datoforforstevedtakintro": f"{year - 3}-03-01",
                        "gjennomforingsfristberegnetfra": f"{year - 2}-03-01",
                        "avsluttetdato": f"{year}-06-{1 + index % 28:02d}",
                        "avsl_kommunenummer": kommunenummer,
                        "avsl_kommunenavn": kommunenavn,
                        "avslutningsaarsak": END_REASONS[index % len(END_REASONS)],
                        "sporforste": str(1 + index % 3),
                        "sporsiste": None,
                        "cohort_year": year,
                        "_source_file": nir_file(year),
                        "_file_sha256": hashlib.sha256(nir_file(year).encode()).hexdigest(),
                        "_row_number": row_number,
                        "_loaded_at": pd.Timestamp("2024-01-01"),
                        "_extra_columns": None,
                    }
                )
                row_number += 1
    return rows


def _jobbsjansen_rows() -> list[dict]:
    rows = []
    for year in YEARS:
        source_file = f"jobbsjansen/individrapportering_{year}.csv"
        for i in range(JOBBSJANSEN_LEAVERS_PER_YEAR):
            rows.append(
                {
                    "person_key": person_key("jobbsjansen", year, i),
                    "id_type": "fnr",
                    "v1_1": "Bærum",
                    "v1_7": "2",
                    "v1_8": str(1 + i % 12),
                    "v2_5": COUNTRIES[i % len(COUNTRIES)][0],
                    "v4_1": str(1 + i % 8),
                    "cohort_year": year,
                    "_source_file": source_file,
                    "_file_sha256": hashlib.sha256(source_file.encode()).hexdigest(),
                    "_row_number": i + 2,
                    "_loaded_at": pd.Timestamp("2024-01-01"),
                    "_extra_columns": None,
                }
            )
    return rows


def _tiltak_rows(nir: pd.DataFrame) -> pd.DataFrame:
    measures = nir[["person_key", "cohort_year"]].copy()
    measures["tiltak"] = "Norskopplæring"
    measures["_source_file"] = measures["cohort_year"].map(lambda year: f"nir/nir_tiltak_{year}.csv")
    measures["_file_sha256"] = measures["_source_file"].map(lambda name: hashlib.sha256(name.encode()).hexdigest())
    measures["_row_number"] = measures.groupby("cohort_year").cumcount() + 2
    return measures


def _participant_exits(nir: pd.DataFrame, jobbsjansen: pd.DataFrame) -> pd.DataFrame:
    regions = dict(COUNTRIES)
    intro = pd.DataFrame(
        {
            "person_key": nir["person_key"],
            "programme": "intro",
            "cohort_year": nir["cohort_year"],
            "kommunenummer": nir["avsl_kommunenummer"],
            "kommunenavn": nir["avsl_kommunenavn"],
            "landnavn": nir["statsborgerskapforste"],
            "region": nir["statsborgerskapforste"].map(regions),
            "kjonn_mann": (nir["kjonn"] == "M").astype(int),
            "alder": nir["cohort_year"] - nir["fodselsaar"].astype(int),
            "botid": 3.3,
            "varighet_mnd": 27,
            "fravaer_andel": 0.05,
            "fravaer_hoy": [index % 2 for index in range(len(nir))],
            "spor": pd.to_numeric(nir["sporforste"]).astype("Int64"),
            "norsk_score": 2.0,
            "norsk_tier": "A2",
            "avslutningsaarsak": nir["avslutningsaarsak"],
            "maloppnaelse": nir["avslutningsaarsak"].map(
                {"Arbeid": 1, "Ordinær utdanning - videregående skole": 1, "Annet": 0, "Ingen aktivitet": 0}
            ),
            "maloppnaelse_3": None,
            "outcome_variant": "report_text",
            "source_file": nir["_source_file"],
            "source_row": nir["_row_number"],
        }
    )
    js = pd.DataFrame(
        {
            "person_key": jobbsjansen["person_key"],
            "programme": "jobbsjansen",
            "cohort_year": jobbsjansen["cohort_year"],
            "kommunenummer": "3024",
            "kommunenavn": "Bærum",
            "landnavn": jobbsjansen["v2_5"],
            "region": jobbsjansen["v2_5"].map(regions),
            "kjonn_mann": 0,
            "alder": 37,
            "botid": 9.0,
            "varighet_mnd": 14,
            "fravaer_andel": None,
            "fravaer_hoy": 0,
            "spor": 3,
            "norsk_score": 3.0,
            "norsk_tier": "B1",
            "avslutningsaarsak": jobbsjansen["v4_1"],
            "maloppnaelse": (jobbsjansen["v4_1"].astype(int) <= 3).astype(int),
            "maloppnaelse_3": jobbsjansen["v4_1"]
            .astype(int)
            .map(lambda code: 1 if code <= 3 else 3 if code == 6 else 2),
            "outcome_variant": "report_text",
            "source_file": jobbsjansen["_source_file"],
            "source_row": jobbsjansen["_row_number"],
        }
    )
    exits = pd.concat([intro, js], ignore_index=True)
    exits["ordning"] = (exits["programme"] == "jobbsjansen").astype(int)
    for group in TILTAK_COLUMNS:
        exits[f"tiltak_{group}"] = 1 if group == "norskopplaering" else 0
    return exits


def build(path: Path, degrade=None) -> Path:
    """Write the sample warehouse to ``path``; ``degrade(frames)`` may edit the raw frames first."""
    frames = {
        "nir_deltakere": pd.DataFrame(_nir_rows()),
        "jobbsjansen_individrapportering": pd.DataFrame(_jobbsjansen_rows()),
    }
    frames["nir_tiltak"] = _tiltak_rows(frames["nir_deltakere"])
    frames["quarantine"] = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if degrade is not None:
        degrade(frames)
    frames["participant_exits"] = _participant_exits(frames["nir_deltakere"], frames["jobbsjansen_individrapportering"])
    con = duckdb.connect(str(path))
    try:
        for schema in ("raw", "seeds", "marts", "quality"):
            con.execute(f"create schema if not exists {schema}")
        for seed in SEEDS_DIR.glob("*.csv"):
            con.execute(f"create table seeds.{seed.stem} as select * from read_csv('{seed}', header = true)")
        for name in ("nir_deltakere", "jobbsjansen_individrapportering", "nir_tiltak"):
            frame = frames[name]
            con.register("frame", frame)
            con.execute(f"create table raw.{name} as select * from frame")
            con.unregister("frame")
        con.register("frame", frames["participant_exits"])
        con.execute("create table marts.participant_exits as select * from frame")
        con.unregister("frame")
        con.execute(
            """
            create table quality.quarantine (
                source varchar, cohort_year integer, source_file varchar, file_sha256 varchar, row_number integer,
                column_name varchar, reason varchar, detail varchar, value varchar, loaded_at timestamp)
            """
        )
        con.register("frame", frames["quarantine"])
        con.execute("insert into quality.quarantine by name select * from frame")
        con.unregister("frame")
        con.execute(
            """
            create table quality.load_log as
            select 'nir_deltakere' as source, cohort_year, _source_file as source_file, _file_sha256 as file_sha256,
                   count(*) as rows_delivered, 0 as rows_quarantined, max(_loaded_at) as loaded_at, 'load-1' as run_id
            from raw.nir_deltakere group by all
            """
        )
        con.execute(
            """
            create table marts.exclusions as
            select 'maloppnaelse' as outcome, programme, cohort_year, source_file, 1 as step_order, 'delivered' as step,
                   null::varchar as reason, count(*) as n_rows, 'report_text' as outcome_variant
            from marts.participant_exits group by all
            """
        )
    finally:
        con.close()
    return path
