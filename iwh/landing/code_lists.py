"""Code lists kept as dbt seeds, read by ingestion as the CSV files they are.

A label outside its seed is quarantined at the door, and the seed stays the one code list an
analyst extends: ingestion reads the seed's file (never dbt), and a partition whose seeds
changed since it was loaded counts as changed, so its quarantine is decided again.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from iwh.landing.contract import CodeList

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def seed_path(code_list: CodeList, seeds_dir: Path | None = None) -> Path:
    return (seeds_dir or SEEDS_DIR) / f"{code_list.seed}.csv"


def read(code_lists: Iterable[CodeList], seeds_dir: Path | None = None) -> Mapping[CodeList, tuple[str, ...]]:
    """The labels of each code list, as the seed spells them."""
    labels: dict[CodeList, tuple[str, ...]] = {}
    for code_list in code_lists:
        path = seed_path(code_list, seeds_dir)
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle)
            if code_list.column not in (rows.fieldnames or ()):
                raise ValueError(f"seed {path} has no column {code_list.column!r}")
            labels[code_list] = tuple(sorted({row[code_list.column].strip() for row in rows if row[code_list.column]}))
    return labels


def fingerprint(code_lists: Iterable[CodeList], seeds_dir: Path | None = None) -> str:
    """SHA-256 over the seed files a source's code lists live in; "" when it has none."""
    seeds = sorted({code_list.seed for code_list in code_lists})
    if not seeds:
        return ""
    digest = hashlib.sha256()
    for seed in seeds:
        digest.update(seed.encode() + b"\0")
        digest.update(seed_path(CodeList(seed, ""), seeds_dir).read_bytes())
    return digest.hexdigest()
