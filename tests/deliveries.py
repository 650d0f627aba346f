"""Changing a landing zone the way a data owner does: a corrected re-delivery of one file."""

from __future__ import annotations

from pathlib import Path

CORRECTED_FILE = Path("nir") / "nir_deltakere_2019.csv"


def correct_one_end_reason(landing: Path, old: str = ";Arbeid;", new: str = ";Annet;") -> Path:
    """Re-deliver NIR 2019 with one participant's end reason corrected (same format, same rows)."""
    path = landing / CORRECTED_FILE
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    text = raw.decode(encoding)
    assert old in text, f"{CORRECTED_FILE} has no {old!r} to correct"
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path
