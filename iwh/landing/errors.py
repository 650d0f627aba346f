"""The one error type a delivery can cause, with a message that names file, row and column."""

from __future__ import annotations

import re

# Any run of 6+ digits (or an 11-digit number written "ddmmyy nnnnn") could be, or be part of,
# a national identifier; text quoted from a delivery is passed through this before it is shown.
_DIGIT_RUN = re.compile(r"\d{6}[ -]?\d{5,6}|\d{6,}")


def redact(text: str) -> str:
    """Text from a delivery made safe for messages and logs: long digit runs are masked."""
    return _DIGIT_RUN.sub("<number>", text)


class DeliveryError(Exception):
    """A file-level problem: the partition is not loaded and what was loaded before stays.

    The message never contains a cell value that could be an identifier.
    """

    def __init__(self, source_file: str, problem: str, row: int | None = None, column: str | None = None):
        self.source_file = source_file
        self.problem = problem
        self.row = row
        self.column = column
        where = [source_file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {problem}")
