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

from collections.abc import Sequence

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.no import fodselsnummer

from iwh.pseudonym import person_key

FNR_LENGTH = 11
DUF_LENGTH = 12


def fnr_problem(digits: str) -> str | None:
    if not digits.isascii():
        return "not all digits"  # str.isdigit (and so stdnum) also accepts e.g. full-width digits
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
    if not (digits.isascii() and digits.isdigit()):
        return "not all digits"
    if len(digits) != DUF_LENGTH:
        return f"wrong length ({len(digits)} digits, expected {DUF_LENGTH})"
    return None


_PROBLEM = {"fnr": fnr_problem, "duf": duf_problem}

# stdnum.no.fodselsnummer's control-digit weights. Checking millions of rows one by one in
# Python is too slow, so the same rule runs vectorised in DuckDB; stdnum still decides (and
# words the reason) for every number this screen rejects, and a test holds the two together.
FNR_WEIGHTS = ((3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))


def compact_sql(value: str) -> str:
    """stdnum's compact(): spaces, hyphens and colons are not part of the number."""
    return f"regexp_replace({value}, '[ :-]', '', 'g')"


def _digit(digits: str, position: int) -> str:
    return f"try_cast(substr({digits}, {position}, 1) as integer)"


def valid_sql(digits: str, id_type: str) -> str:
    """SQL that is true when compacted digits form a valid identifier of id_type."""
    if id_type == "duf":
        return f"regexp_full_match({digits}, '[0-9]{{{DUF_LENGTH}}}')"
    checks = [f"regexp_full_match({digits}, '[0-9]{{{FNR_LENGTH}}}')"]
    for weights in FNR_WEIGHTS:
        total = " + ".join(f"{w} * {_digit(digits, i + 1)}" for i, w in enumerate(weights))
        checks.append(f"(11 - ({total}) % 11) % 11 = {_digit(digits, len(weights) + 1)}")
    return "(" + " and ".join(checks) + ")"


def key_identifiers(
    digits: Sequence[str], passed: Sequence[bool], id_type: str, key: str
) -> tuple[list[str | None], list[str | None]]:
    """Person keys and problems, aligned with ``digits`` (the compacted distinct delivered values)
    and ``passed`` (whether each passed the SQL screen). Plain lists rather than an object per
    identifier: a large cohort file has close to a million of them."""
    problem_of = _PROBLEM[id_type]
    problems = [None if ok else problem_of(d) for d, ok in zip(digits, passed, strict=True)]
    keys = [None if problem else person_key(d, key) for d, problem in zip(digits, problems, strict=True)]
    return keys, problems
