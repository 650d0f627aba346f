"""The harmonised variables' categories (harmonisation.md), shared by the quality suites and the models.

The dbt seeds map delivered codes and labels onto these; the marts hold exactly these values.
The generator keeps its own copy on purpose: it plays an independent writer of the contract.
"""

from __future__ import annotations

REGIONS = (
    "Afrika sør for Sahara",
    "Nord-Afrika",
    "Europa",
    "Latin-Amerika og Karibia",
    "Sør-Asia",
    "Sørøst-Asia",
    "Vest-Asia",
    "Asia for øvrig",
    "Nord-Amerika",
    "Statsløs",
)
REFERENCE_REGION = "Europa"

NORSK_TIERS = ("Under A1", "A1", "A2", "B1", "B2")

TILTAK_GROUPS = (
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
TILTAK_COLUMNS = tuple(f"tiltak_{group}" for group in TILTAK_GROUPS)
