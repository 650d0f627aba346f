"""The SSB statbank exports, the centrality file and the KLASS municipality history."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iwh_synth.context import UnitContext
from iwh_synth.geography import LAST_YEAR, Geography
from iwh_synth.writers import DelimitedWriter

# (table, title/statistikkvariabel, UnitContext field, decimals)
STATBANK_TABLES = (
    ("11342", "Folkemengde", "folkemengde", 0),
    ("06445", "Sysselsatte i prosent av befolkningen", "andel_sysselsatte", 1),
    ("11715", "Uføretrygdede i prosent av befolkningen", "andel_uforetrygdede", 1),
    ("09588", "Nettoinnflytting per 1000", "nettoinnflytting", 1),
    ("09817", "Andel innvandrere", "andel_innvandrere", 1),
    ("07984", "Andel sysselsatte i utvalgte næringer", "andel_utvalgte_naeringer", 1),
    ("10540", "Registrerte helt ledige i prosent av arbeidsstyrken", "andel_ledige", 1),
)
# SSB's missing-value symbols appear only in tables the models do not use, so a recovery
# test is never short of the context its truth was drawn from. Shares of published cells.
SYMBOLS = {
    "06445": (("..", 0.01),),
    "11715": (("..", 0.01), ("...", 0.03)),
    "10540": (("..", 0.01), (":", 0.005)),
}
NOT_YET_AVAILABLE_YEAR = 2020
CANNOT_OCCUR = "."


def _format_value(value: float, decimals: int) -> str:
    if decimals == 0:
        return str(int(value))
    return f"{value:.{decimals}f}".replace(".", ",")


def write_statbank_files(
    ssb_dir: Path, geography: Geography, years: list[int], contexts: dict[int, UnitContext], rng: np.random.Generator
) -> list[Path]:
    """One long-format file per table: every code that existed in any of the years, every year.

    A code in a year where it did not exist gets SSB's `.` (cannot occur), as the statbank
    does when a table spans a municipal reform.
    """
    last_valid: dict[str, tuple[int, str]] = {}
    value_index: dict[tuple[str, int], int] = {}
    for year in years:
        for index, (code, name) in enumerate(zip(geography.units[year].codes, geography.units[year].names)):
            value_index[(code, year)] = index
            if code not in last_valid or last_valid[code][0] < year:
                last_valid[code] = (year, name)
    paths = []
    for table, title, field, decimals in STATBANK_TABLES:
        lines = []
        for code in sorted(last_valid):
            name = last_valid[code][1]
            # Discontinued codes carry their last year in the label, as in the statbank.
            valid_until = geography.last_valid_year(code)
            if valid_until < LAST_YEAR:
                name = f"{name} (-{valid_until})"
            for year in years:
                if (code, year) in value_index:
                    value = _format_value(getattr(contexts[year], field)[value_index[(code, year)]], decimals)
                    for symbol, share in SYMBOLS.get(table, ()):
                        if symbol == "..." and year != NOT_YET_AVAILABLE_YEAR:
                            continue
                        if rng.random() < share:
                            value = symbol
                else:
                    value = CANNOT_OCCUR
                lines.append(f'"{code} {name}";"{title}";"{year}";{value}')
        path = ssb_dir / f"{table}.csv"
        writer = DelimitedWriter(path, ["region", "statistikkvariabel", "år", f"{table}: {title}"], quote_header=True)
        writer.write_lines(lines)
        writer.close()
        paths.append(path)
    return paths


def write_centrality_file(
    ssb_dir: Path, geography: Geography, years: list[int], contexts: dict[int, UnitContext]
) -> Path:
    path = ssb_dir / "sentralitet.csv"
    writer = DelimitedWriter(path, ["kommunenummer", "år", "sentralitet"])
    writer.write_lines(
        [
            f"{code};{year};{contexts[year].sentralitet[index]}"
            for year in years
            for index, code in enumerate(geography.units[year].codes)
        ]
    )
    writer.close()
    return path


def write_klass_file(ssb_dir: Path, geography: Geography, years: list[int]) -> Path:
    appearing = {
        (code, name) for year in years for code, name in zip(geography.units[year].codes, geography.units[year].names)
    }
    path = ssb_dir / "klass_131_kommuner.csv"
    writer = DelimitedWriter(path, ["code", "name", "validFrom", "validTo"])
    writer.write_lines([";".join(row) for row in geography.klass_rows(appearing)])
    writer.close()
    return path
