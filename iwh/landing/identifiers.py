"""National identifiers at the door: validated with python-stdnum, then replaced by person keys.

Rules applied (landing-zone.md):
- fødselsnummer (and D-/H-numbers, which share its format): 11 digits with valid mod-11
  control digits. stdnum also rejects birth dates it cannot place; the contract asks only for
  length and control digits, so such numbers are accepted.
- DUF number: exactly 12 digits. python-stdnum has no DUF validator. SSB's KOSTRA controls
  apply a mod-11 rule to the last two digits, but UDI has not published the algorithm (FHI's
  NinCheck calls it confidential) and the contract demands only 12 digits, so only length and
  digits are checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.no import fodselsnummer

from iwh.pseudonym import person_key

FNR_LENGTH = 11
DUF_LENGTH = 12


@dataclass(frozen=True)
class KeyedIdentifier:
    person_key: str | None
    problem: str | None  # why the identifier is invalid; never contains the identifier


def fnr_problem(digits: str) -> str | None:
    try:
        fodselsnummer.validate(digits)
    except InvalidLength:
        return f"wrong length ({len(digits)} characters, expected {FNR_LENGTH} digits)"
    except InvalidFormat:
        return "not all digits"
    except InvalidChecksum:
        return "invalid control digits"
    except InvalidComponent:
        return None  # valid control digits; the date part is outside what the contract checks
    return None


def duf_problem(digits: str) -> str | None:
    if not digits.isdigit() or not digits.isascii():
        return "not all digits"
    if len(digits) != DUF_LENGTH:
        return f"wrong length ({len(digits)} digits, expected {DUF_LENGTH})"
    return None


_PROBLEM = {"fnr": fnr_problem, "duf": duf_problem}


def key_identifiers(values: Iterable[str], id_type: str, key: str) -> dict[str, KeyedIdentifier]:
    """Person key (or the problem) for each distinct delivered identifier value."""
    problem_of = _PROBLEM[id_type]
    keyed = {}
    for value in values:
        digits = fodselsnummer.compact(value)
        problem = problem_of(digits)
        keyed[value] = KeyedIdentifier(person_key=None if problem else person_key(digits, key), problem=problem)
    return keyed
