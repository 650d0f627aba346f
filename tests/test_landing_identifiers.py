"""The vectorised identifier screen agrees with python-stdnum on every kind of number."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
from test_landing_fixtures import valid_fnr

from iwh.landing.identifiers import compact_sql, duf_problem, fnr_problem, key_identifiers, valid_sql
from iwh.pseudonym import person_key


def _candidates() -> list[str]:
    rng = random.Random(11)
    valid = [
        valid_fnr(rng.randint(1, 28), rng.randint(1, 12), rng.randint(0, 99), rng.randint(0, 899)) for _ in range(3000)
    ]
    d_numbers = [
        valid_fnr(rng.randint(41, 68), rng.randint(1, 12), rng.randint(0, 99), rng.randint(0, 899)) for _ in range(500)
    ]
    h_numbers = [
        valid_fnr(rng.randint(1, 28), rng.randint(41, 52), rng.randint(0, 99), rng.randint(0, 899)) for _ in range(500)
    ]
    one_digit_off = [
        v[:i] + str((int(v[i]) + rng.randint(1, 9)) % 10) + v[i + 1 :]
        for v in valid[:2000]
        for i in [rng.randrange(11)]
    ]
    random_digits = ["".join(rng.choice("0123456789") for _ in range(11)) for _ in range(3000)]
    odd_shapes = [
        "",
        "1234567890",
        "123456789012",
        "1510869508a",
        "151086 95088",
        "151086-95088",
        "15108695088",
        "１５１０８６９５０８８",
    ]
    return valid + d_numbers + h_numbers + one_digit_off + random_digits + odd_shapes


def test_fnr_screen_matches_stdnum():
    candidates = _candidates()
    con = duckdb.connect()
    con.register("candidates", pa.table({"value": pa.array(candidates, pa.string())}))
    screened = con.execute(f"select value, {valid_sql(compact_sql('value'), 'fnr')} from candidates").fetchall()

    disagreements = [
        v for v, passed in screened if bool(passed) != (fnr_problem(v.replace(" ", "").replace("-", "")) is None)
    ]
    assert disagreements == []
    assert sum(1 for _, passed in screened if passed) > 4000


def test_duf_screen_is_twelve_digits():
    con = duckdb.connect()
    values = ["002955636951", "00295563695", "0029556369510", "00295563695x", "0029 5563 6951"]
    screened = con.execute(
        "select v, " + valid_sql(compact_sql("v"), "duf") + " from unnest(?) as t(v)", [values]
    ).fetchall()
    assert screened == [
        ("002955636951", True),
        ("00295563695", False),
        ("0029556369510", False),
        ("00295563695x", False),
        ("0029 5563 6951", True),
    ]
    assert [duf_problem(v) for v in ("00295563695", "00295563695x")] == [
        "wrong length (11 digits, expected 12)",
        "not all digits",
    ]


def test_keys_are_hmac_of_the_digits_and_problems_never_quote_the_number():
    keys, problems = key_identifiers(
        ["15108695088", "15108695077", "1510869508"], [True, False, False], "fnr", "secret"
    )
    assert keys[0] == person_key("15108695088", "secret")
    assert len(keys[0]) == 32
    assert list(zip(keys[1:], problems[1:])) == [
        (None, "invalid control digits"),
        (None, "wrong length (10 characters, expected 11 digits)"),
    ]
    assert problems[0] is None
