"""truth_persons.parquet (each exit's true harmonised values) and truth.json (the model)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iwh.pseudonym import person_key
from iwh_synth.environment import YearEnvironment
from iwh_synth.truth import REFERENCE_REGION, REFERENCE_SD, TruthModel

INT8_COLUMNS = (
    "ordning",
    "kjonn_mann",
    "fravaer_hoy",
    "spor",
    "maloppnaelse",
    "maloppnaelse_report_text",
    "maloppnaelse_table8_literal",
    "maloppnaelse_3",
    "latent_spor",
)
TILTAK_COLUMNS = (
    "tiltak_norskopplaering",
    "tiltak_samfunnskunnskap",
    "tiltak_sprakpraksis",
    "tiltak_yrkesrettet_kurs",
    "tiltak_ordinaert_arbeid",
    "tiltak_arbeidspraksis_skjermet",
    "tiltak_arbeidspraksis_ordinaer",
    "tiltak_amo_kurs",
    "tiltak_sosialt_nettverk",
    "tiltak_helsefremmende",
    "tiltak_barn_familie",
    "tiltak_kultur_fritid",
    "tiltak_realkompetanse",
    "tiltak_grunnskolefag",
    "tiltak_fag_vgo",
    "tiltak_annet",
)
SCHEMA = pa.schema(
    [
        ("person_key", pa.string()),
        ("programme", pa.string()),
        ("cohort_year", pa.int32()),
        ("ordning", pa.int8()),
        ("js_scheme", pa.string()),
        ("kommunenummer", pa.string()),
        ("kommunenavn", pa.string()),
        ("prosjekt_id", pa.string()),
        ("landnavn", pa.string()),
        ("region", pa.string()),
        ("kjonn_mann", pa.int8()),
        ("alder", pa.int32()),
        ("botid", pa.float64()),
        ("varighet_mnd", pa.int32()),
        ("fravaer_andel", pa.float64()),
        ("fravaer_hoy", pa.int8()),
        ("spor", pa.int8()),
        ("norsk_score", pa.float64()),
        ("norsk_tier", pa.string()),
        *[(column, pa.int8()) for column in TILTAK_COLUMNS],
        ("avslutningsaarsak", pa.string()),
        ("maloppnaelse", pa.int8()),
        ("maloppnaelse_report_text", pa.int8()),
        ("maloppnaelse_table8_literal", pa.int8()),
        ("maloppnaelse_3", pa.int8()),
        ("overgang", pa.string()),
        ("overgang_report_text", pa.string()),
        ("overgang_table8_literal", pa.string()),
        ("outcome_variant", pa.string()),
        ("excluded_reason", pa.string()),
        ("excluded_reasons", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int32()),
        ("latent_spor", pa.int8()),
        ("latent_norsk_score", pa.float64()),
        ("p_maloppnaelse", pa.float64()),
        ("status_1aar", pa.string()),
        ("arbeid_utdanning_1aar", pa.int8()),
        ("yrkesinntekt_1aar_kategori", pa.string()),
        ("sosialhjelp_1aar", pa.int8()),
        ("oppfolging_status", pa.string()),
        ("excluded_reason_1aar", pa.string()),
        ("excluded_reasons_1aar", pa.string()),
        ("p_arbeid_utdanning_1aar", pa.float64()),
        ("p_arbeid_utdanning_1aar_gitt_exit", pa.float64()),
    ]
)
# Integer columns where these markers stand for a value the written files leave missing.
MISSING_MARKERS = {
    "kjonn_mann": -1,
    "alder": -1,
    "varighet_mnd": -1,
    "fravaer_hoy": -1,
    "spor": 0,
    "arbeid_utdanning_1aar": -1,
    "sosialhjelp_1aar": -1,
}


class TruthPersonsWriter:
    """Appends chunks of truth rows; identifiers become person keys and are never stored."""

    def __init__(self, path: Path, key: str):
        self.key = key
        self.writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")

    def write(self, truth: dict[str, np.ndarray], source_file: str) -> None:
        if truth["cohort_year"].size == 0:
            return
        columns = dict(truth)
        identifiers = columns.pop("identifier")
        columns["person_key"] = np.array([person_key(identifier, self.key) for identifier in identifiers], dtype=object)
        # `maloppnaelse` is the default variant, as in marts.participant_exits.
        columns["maloppnaelse"] = columns["maloppnaelse_report_text"]
        columns["overgang"] = columns["overgang_report_text"]
        columns["outcome_variant"] = np.full(identifiers.size, "report_text", dtype=object)
        columns["source_file"] = np.full(identifiers.size, source_file, dtype=object)
        arrays = [_arrow_column(name, columns[name], field.type) for name, field in zip(SCHEMA.names, SCHEMA)]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=SCHEMA))

    def close(self) -> None:
        self.writer.close()


def _arrow_column(name: str, values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_string(arrow_type):
        text = pa.array(np.asarray(values, dtype=object), type=arrow_type, from_pandas=True)
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, arrow_type), text)
    if pa.types.is_floating(arrow_type):
        data = np.asarray(values, dtype=float)
        return pa.array(data, type=arrow_type, mask=np.isnan(data))
    if values.dtype == object:
        return pa.array(values, type=arrow_type, from_pandas=True)
    data = values.astype(np.int64)
    mask = data == MISSING_MARKERS[name] if name in MISSING_MARKERS else None
    return pa.array(data, type=arrow_type, mask=mask)


def truth_document(
    model: TruthModel,
    seed: int,
    scale: float,
    years: list[int],
    environments: dict[int, YearEnvironment],
    demo_key: bool,
) -> dict:
    """Everything a recovery test needs: the model, its variances and every planted unit effect."""
    municipality_year = {}
    programme = {}
    project_year = {}
    for year in years:
        environment = environments[year]
        for index, code in enumerate(environment.units.codes):
            if model.municipality_year_variance:
                municipality_year[f"{code}-{year}"] = float(environment.municipality_effect[index])
            if model.project_sd:
                programme[f"intro-{code}"] = float(environment.intro_programme_effect[index])
            if model.project_year_variance:
                project_year[f"intro-{code}-{year}"] = float(environment.intro_programme_year_effect[index])
        for prosjekt_id in environment.project_salary_per_participant:
            if model.project_sd:
                programme[prosjekt_id] = environment.project_effect[prosjekt_id]
            if model.project_year_variance:
                project_year[f"{prosjekt_id}-{year}"] = environment.project_year_effect[prosjekt_id]
    variance = {
        "kommune_aar": model.municipality_year_variance,
        "prosjekt": model.project_sd**2,
        "prosjekt_aar": model.project_year_variance,
    }
    return {
        "model": model.name,
        "seed": seed,
        "scale": scale,
        "years": years,
        "pseudonym_key": "demo key" if demo_key else "user-supplied key (not recorded)",
        "outcome": "maloppnaelse (report_text variant); excluded end reasons carry no outcome",
        "link": "logit",
        "coefficient_scale": "raw units of the harmonised variables (alder in years, context variables as published)",
        "reference_category": {"region": REFERENCE_REGION, "spor_dummies": "spor 1 (liten eller ingen skolegang)"},
        "coefficients": dict(model.coefficients),
        "standardised_report_values": model.standardised_report_values,
        "reference_sd": REFERENCE_SD if model.standardised_report_values or model.context_variables else {},
        "context_variables": list(model.context_variables),
        "random_effects": {
            level: {"variance": value, "icc": value / (value + math.pi**2 / 3)}
            for level, value in variance.items()
            if value
        },
        "project_effect_mean": {"jobbsjansen": model.jobbsjansen_project_mean, "intro": 0.0}
        if model.project_sd
        else {},
        "unit_key_format": {
            "kommune_aar": "<kommunenummer>-<year>",
            "prosjekt": "prosjekt_id: Jobbsjansen v1_1 or 'Oslo - <v1_2>', intro 'intro-<kommunenummer>'",
            "prosjekt_aar": "<prosjekt_id>-<year>",
        },
        "unit_effects": {
            "kommune_aar": municipality_year,
            "prosjekt": programme,
            "prosjekt_aar": project_year,
        },
        "linear_predictor": (
            "Intercept + sum(coefficient * covariate) + kommune_aar effect + prosjekt effect + prosjekt_aar effect; "
            "covariates use the person's true values (latent_spor, latent_norsk_score in truth_persons when the files hide them)"
        ),
    }
