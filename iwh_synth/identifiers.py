"""Fake but well-formed national identifiers: fødselsnummer and DUF numbers.

Every person gets an identifier no other person in the sample has. Fødselsnummer carry the
person's birth date and sex (odd ninth digit = man) and valid mod-11 control digits; DUF
numbers are registration year + serial + two mod-11 control digits (UDI's scheme).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

FNR_WEIGHTS_K1 = np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])
FNR_WEIGHTS_K2 = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])
# UDI's DUF check: weights applied to the serial digits followed by the year digits.
DUF_WEIGHTS = np.array([4, 6, 3, 2, 7, 5, 4, 6, 3, 2])

EPOCH = dt.date(1900, 1, 1)


def fnr_is_valid(fnr: str) -> bool:
    digits = np.array([int(c) for c in fnr])
    if digits.size != 11:
        return False
    k1 = (11 - int(digits[:9] @ FNR_WEIGHTS_K1) % 11) % 11
    k2 = (11 - int(digits[:10] @ FNR_WEIGHTS_K2) % 11) % 11
    return k1 == digits[9] and k2 == digits[10]


def duf_is_valid(duf: str) -> bool:
    if len(duf) != 12 or not duf.isdigit():
        return False
    digits = np.array([int(c) for c in duf[4:10] + duf[:4]])
    return f"{int(digits @ DUF_WEIGHTS) % 11:02d}" == duf[10:]


# (11 - sum mod 11) mod 11 for every weighted digit sum that can occur; 10 means "no valid digit".
_CHECK_DIGIT = (11 - np.arange(1024) % 11) % 11


def _control_digits(first_nine: np.ndarray) -> np.ndarray:
    digits = _digits(first_nine, 9)
    k1 = _CHECK_DIGIT[digits @ FNR_WEIGHTS_K1]
    k2 = _CHECK_DIGIT[digits @ FNR_WEIGHTS_K2[:9] + k1 * FNR_WEIGHTS_K2[9]]
    return k1.astype(np.int64) * 10 + k2


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) array of the decimal digits of non-negative integers."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10


class FnrAllocator:
    """Hands out distinct valid fødselsnummer for given birth dates and sexes.

    For each birth date the valid individual numbers (the three digits after the date) are
    listed in a seeded random order, separately for women (even third digit) and men (odd);
    the k-th person born on a date gets the k-th number, rotated by a per-date offset so
    that different dates do not share the same first numbers. A full date spills over to
    the next day.
    """

    def __init__(self, rng: np.random.Generator, first_birth_year: int, last_birth_year: int):
        self.first_day = (dt.date(first_birth_year, 1, 1) - EPOCH).days
        last_day = (dt.date(last_birth_year, 12, 31) - EPOCH).days
        days = np.arange(self.first_day, last_day + 1)
        dates = np.array([EPOCH + dt.timedelta(days=int(d)) for d in days])
        years = np.array([d.year for d in dates])
        ddmmyy = np.array([d.day * 10000 + d.month * 100 + d.year % 100 for d in dates])
        self.ddmmyy = ddmmyy

        # Candidates in a seeded order, so the k-th person born on a date gets a random-looking
        # number. Whether a candidate is valid depends on the date only through its two partial
        # check sums mod 11 and its century, so dates fall into 242 classes sharing one list.
        order = rng.permutation(1000)
        date_digits = _digits(ddmmyy, 6)
        k1_residue = (date_digits @ FNR_WEIGHTS_K1[:6]) % 11
        k2_residue = (date_digits @ FNR_WEIGHTS_K2[:6]) % 11
        self.date_class = (k1_residue * 11 + k2_residue + 121 * (years >= 2000)).astype(np.int64)
        class_k1 = np.tile(np.repeat(np.arange(11), 11), 2)
        class_k2 = np.tile(np.arange(11), 22)
        class_after_2000 = np.repeat([False, True], 121)
        self.numbers: dict[int, np.ndarray] = {}
        self.start: dict[int, np.ndarray] = {}
        self.capacity: dict[int, np.ndarray] = {}
        self.next_slot: dict[int, np.ndarray] = {}
        self.offset: dict[int, np.ndarray] = {}
        for parity in (0, 1):
            candidates = order[order % 2 == parity]
            candidate_digits = _digits(candidates, 3)
            # Individual numbers 000-499 are used for 1900-1999, 500-999 for 2000-2039, and
            # 900-999 also for 1940-1999 (all birth years here are after 1940).
            century_ok = np.where(
                class_after_2000[:, None],
                candidates[None, :] >= 500,
                (candidates[None, :] < 500) | (candidates[None, :] >= 900),
            )
            k1 = _CHECK_DIGIT[class_k1[:, None] + candidate_digits @ FNR_WEIGHTS_K1[6:]]
            k2 = _CHECK_DIGIT[class_k2[:, None] + candidate_digits @ FNR_WEIGHTS_K2[6:9] + k1 * FNR_WEIGHTS_K2[9]]
            valid = century_ok & (k1 < 10) & (k2 < 10)
            _, column = np.nonzero(valid)
            self.numbers[parity] = candidates[column].astype(np.int16)
            class_capacity = valid.sum(axis=1)
            class_start = np.concatenate([[0], np.cumsum(class_capacity)[:-1]])
            self.capacity[parity] = class_capacity[self.date_class]
            self.start[parity] = class_start[self.date_class]
            self.next_slot[parity] = np.zeros(days.size, dtype=np.int64)
            self.offset[parity] = rng.integers(0, 1 << 30, days.size)

    def allocate(self, birth_day: np.ndarray, is_man: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Identifiers for persons born on `birth_day` (days since 1900-01-01).

        Returns the fødselsnummer strings and the birth days actually used: when a date has
        no number left, the person moves to the next day (rarely across New Year, at large
        scales), and the caller takes the birth year from the day used.
        """
        day_index = birth_day.astype(np.int64) - self.first_day
        day_count = self.ddmmyy.size
        fnr = np.empty(birth_day.size, dtype="<U11")
        for parity in (0, 1):
            pending = np.flatnonzero(is_man.astype(int) == parity)
            if pending.size > int((self.capacity[parity] - self.next_slot[parity]).sum()):
                raise ValueError("more persons than distinct fødselsnummer in the birth-date range")
            while pending.size:
                days_pending = day_index[pending]
                order = np.argsort(days_pending, kind="stable")
                pending, days_pending = pending[order], days_pending[order]
                unique_days, first_pos, counts = np.unique(days_pending, return_index=True, return_counts=True)
                rank = np.arange(pending.size) - np.repeat(first_pos, counts)
                slot = self.next_slot[parity][days_pending] + rank
                fits = slot < self.capacity[parity][days_pending]
                placed = pending[fits]
                if placed.size:
                    placed_days = days_pending[fits]
                    rotated = (slot[fits] + self.offset[parity][placed_days]) % self.capacity[parity][placed_days]
                    individual = self.numbers[parity][self.start[parity][placed_days] + rotated].astype(np.int64)
                    first_nine = self.ddmmyy[placed_days].astype(np.int64) * 1000 + individual
                    fnr[placed] = np.char.zfill((first_nine * 100 + _control_digits(first_nine)).astype(str), 11)
                used = np.minimum(
                    counts, np.maximum(self.capacity[parity][unique_days] - self.next_slot[parity][unique_days], 0)
                )
                self.next_slot[parity][unique_days] += used
                pending = pending[~fits]
                day_index[pending] = (day_index[pending] + 1) % day_count
        return fnr, day_index + self.first_day


def allocate_duf(rng: np.random.Generator, registration_year: np.ndarray) -> np.ndarray:
    """Distinct DUF numbers: yyyy + 6-digit serial + 2 control digits."""
    serial = np.empty(registration_year.size, dtype=np.int64)
    for year in np.unique(registration_year):
        who = np.flatnonzero(registration_year == year)
        serial[who] = rng.choice(1_000_000, size=who.size, replace=False)
    digits = np.concatenate([_digits(serial, 6), _digits(registration_year.astype(np.int64), 4)], axis=1)
    control = (digits @ DUF_WEIGHTS) % 11
    first_ten = registration_year.astype(np.int64) * 1_000_000 + serial
    return np.char.add(np.char.zfill(first_ten.astype(str), 10), np.char.zfill(control.astype(str), 2))
