"""read_frame: a query's result through Arrow, with the DataFrame DuckDB's own conversion gives."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from iwh.warehouse import read_frame

QUERY = """
    select * from (values
        (1, 10::bigint, 1, true, true, 'a', 0.5, 0.25::double, 'x'),
        (2, null, 2, false, null, null, null, null, 'y'),
        (3, 30::bigint, null, true, false, 'c', 2.5, 1e300, 'z')
    ) as t(id, big, small, flag, maybe, label, share, ratio, code)
    order by id
"""


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


def test_read_frame_equals_duckdbs_own_dataframe(con):
    expected = con.execute(QUERY).df()
    frame = read_frame(con, QUERY)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_integers_and_booleans_with_gaps_stay_nullable_and_others_stay_plain(con):
    frame = read_frame(con, QUERY)
    assert frame["big"].tolist() == [10, pd.NA, 30] and str(frame["big"].dtype) == "Int64"
    assert frame["small"].tolist() == [1, 2, pd.NA] and str(frame["small"].dtype) == "Int32"
    assert frame["maybe"].tolist() == [True, pd.NA, False] and str(frame["maybe"].dtype) == "boolean"
    assert frame["id"].dtype == "int32" and frame["flag"].dtype == "bool"
    assert frame["share"].dtype == "float64" and frame["share"].iloc[2] == 2.5  # DECIMAL(2,1)
    assert frame["label"].isna().tolist() == [False, True, False] and frame["code"].tolist() == ["x", "y", "z"]
