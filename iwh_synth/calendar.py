"""Dates as day numbers (days since 1900-01-01), converted with numpy in bulk."""

from __future__ import annotations

import numpy as np

EPOCH = np.datetime64("1900-01-01", "D")


def day_number(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    months = (np.asarray(year) - 1970) * 12 + (np.asarray(month) - 1)
    first_of_month = months.astype("datetime64[M]").astype("datetime64[D]")
    return (first_of_month - EPOCH).astype(np.int64) + np.asarray(day) - 1


def split(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = EPOCH + days.astype("timedelta64[D]")
    months = dates.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def first_day_of_year(year: int) -> int:
    return int(day_number(np.array([year]), np.array([1]), np.array([1]))[0])


def whole_months(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whole calendar months from start to end; a month counts once its day of month is reached."""
    start_year, start_month, start_day = split(start)
    end_year, end_month, end_day = split(end)
    return (end_year - start_year) * 12 + (end_month - start_month) - (end_day < start_day).astype(np.int64)
