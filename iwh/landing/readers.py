"""Readers: a delivered .csv or .xlsx file → a table of text cells in a scratch DuckDB.

The result is the table `delivered` with columns c0 … c<n-1> (VARCHAR, as delivered) and
`_row_number` (the row as a spreadsheet shows it: header = 1). Everything the contract
allows is absorbed here — UTF-8 with any number of BOMs or Windows-1252, `;` or `,`,
quoted cells, .xlsx — and everything it does not allow is a DeliveryError naming the row
and column. Messages never quote cell values.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from iwh.landing.errors import DeliveryError, redact

UTF8_BOM = b"\xef\xbb\xbf"
ZIP_MAGIC = b"PK\x03\x04"
DELIVERED_TABLE = "delivered"

# A well-formed UTF-8 multi-byte sequence. Windows-1252 text practically never contains one,
# so a file that has them but fails to decode as UTF-8 is broken, not Windows-1252.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True)
class DeliveredFile:
    header: tuple[str, ...]  # delivered column names, trimmed; "" where a column has no name
    row_count: int  # non-blank data rows in `delivered`
    encoding: str  # how the file was read: "utf-8", "utf-8 (BOM)", "windows-1252", "xlsx"
    separator: str | None


def column_ids(count: int) -> list[str]:
    return [f"c{i}" for i in range(count)]


def read_delivery(
    path: Path, relative_path: str, scratch: duckdb.DuckDBPyConnection, fixed_widths: Mapping[str, int]
) -> DeliveredFile:
    """Read one delivered file into `scratch` as table `delivered`.

    fixed_widths maps a case-folded column name to its digit width: a numeric .xlsx cell in
    such a column lost its leading zeros to Excel and gets them back.
    """
    data = path.read_bytes()
    if not data.strip().strip(UTF8_BOM).strip():
        raise DeliveryError(relative_path, "the file is empty")
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, relative_path, scratch, fixed_widths)
    if data.startswith(ZIP_MAGIC):
        raise DeliveryError(relative_path, "this is a zip/.xlsx workbook, not CSV text; deliver it as .xlsx or CSV")
    return _read_csv(path, data, relative_path, scratch)


# --- CSV ---------------------------------------------------------------------------------


def _read_csv(path: Path, data: bytes, relative_path: str, scratch: duckdb.DuckDBPyConnection) -> DeliveredFile:
    bom_count = 0
    while data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        bom_count += 1
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DeliveryError(
            relative_path,
            "NUL bytes: this is not a CSV text file (binary, or UTF-16?)",
            row=data.count(b"\n", 0, nul) + 1,
        )
    separator = _detect_separator(data, relative_path)
    text, encoding = _decode(data, relative_path, separator)
    if bom_count:
        encoding = "utf-8 (BOM)"
    text = text.rstrip()
    header_line, _, body = text.partition("\n")
    header = tuple(_clean_name(name) for name in next(csv.reader([header_line.rstrip("\r")], delimiter=separator)))
    if not body.strip():
        raise DeliveryError(relative_path, "the file has a header but no data rows")

    readable_as_is = path if encoding == "utf-8" else None
    # Empty lines are skipped by DuckDB's reader and would shift the row numbers after them
    # (a line of spaces is rejected by it, which also leads to the exact parser).
    has_empty_line = "\n\n" in text or "\n\r\n" in text
    row_count = None if has_empty_line else _parse_with_duckdb(text, header, separator, scratch, readable_as_is)
    if row_count is None:
        row_count = _parse_exactly(text, header, separator, relative_path, scratch)
    if row_count == 0:
        raise DeliveryError(relative_path, "the file has a header but no data rows")
    return DeliveredFile(header=header, row_count=row_count, encoding=encoding, separator=separator)


def _detect_separator(data: bytes, relative_path: str) -> str:
    # Separators are ASCII, so the header line can be inspected before the encoding is known.
    header_line = data.split(b"\n", 1)[0].decode("latin-1")
    for candidate in (";", ","):
        if len(next(csv.reader([header_line], delimiter=candidate))) > 1:
            return candidate
    raise DeliveryError(
        relative_path,
        "the header row is a single column: the separator must be ';' (or ',')",
        row=1,
    )


def _decode(data: bytes, relative_path: str, separator: str) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        if _UTF8_MULTIBYTE.search(data):
            row, column = _locate(data, utf8_error.start, separator)
            raise DeliveryError(
                relative_path,
                "undecodable bytes: the file is UTF-8 elsewhere but this byte sequence is not UTF-8",
                row=row,
                column=column,
            ) from None
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as cp1252_error:
        row, column = _locate(data, cp1252_error.start, separator)
        raise DeliveryError(
            relative_path, "undecodable bytes: neither UTF-8 nor Windows-1252", row=row, column=column
        ) from None


def _locate(data: bytes, offset: int, separator: str) -> tuple[int, str]:
    """Row number and column name of a byte offset (assuming no multi-line cells before it)."""
    row = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    column_index = data[line_start:offset].count(separator.encode())
    header_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    header = [_clean_name(n) for n in next(csv.reader([header_line.rstrip("\r")], delimiter=separator))]
    column = header[column_index] if column_index < len(header) else f"#{column_index + 1}"
    return row, redact(column or f"#{column_index + 1}")


def _clean_name(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def _parse_with_duckdb(
    text: str, header: Sequence[str], separator: str, scratch: duckdb.DuckDBPyConnection, path: Path | None
) -> int | None:
    """Fast path. Returns the row count, or None when the exact parser must decide.

    path is the delivered file when DuckDB can read it as it is (UTF-8 without BOM);
    otherwise the decoded text is handed over as a UTF-8 copy.
    """
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in column_ids(len(header)))
    with tempfile.TemporaryDirectory(prefix="iwh-landing-") as tmp:
        if path is None:
            path = Path(tmp) / "delivery.csv"
            # The last line ends as the others do: DuckDB's strict parser rejects a file of CRLF
            # lines whose last line ends in a bare LF.
            path.write_text(text + ("\r\n" if "\r\n" in text else "\n"), encoding="utf-8")
        try:
            scratch.execute(
                f"""
                create or replace table delivered_scan as
                select * from read_csv(
                    ?, delim = ?, quote = '"', escape = '"', header = false, skip = 1,
                    auto_detect = false, columns = {{{columns}}}, strict_mode = true, null_padding = false,
                    store_rejects = true, rejects_table = 'delivered_rejects', rejects_scan = 'delivered_reject_scans'
                )
                """,
                [str(path), separator],
            )
        except duckdb.InvalidInputException:
            # A file DuckDB cannot scan at all (mixed line endings, say) is still the contract's
            # CSV if Python's csv module reads it.
            scratch.execute("drop table if exists delivered_rejects")
            scratch.execute("drop table if exists delivered_reject_scans")
            return None
    rejected = scratch.execute("select count(*) from delivered_rejects").fetchall()[0][0]
    scratch.execute("drop table if exists delivered_rejects")
    scratch.execute("drop table if exists delivered_reject_scans")
    scanned = scratch.execute("select count(*) from delivered_scan").fetchall()[0][0]
    # A quoted cell spanning lines makes physical lines and rows differ; only the exact parser
    # can then tell the spreadsheet row numbers (and it words the message of a rejected row).
    if rejected or scanned != text.count("\n"):
        scratch.execute("drop table delivered_scan")
        return None
    all_empty = " and ".join(f"nullif(trim({c}), '') is null" for c in column_ids(len(header)))
    scratch.execute(f"delete from delivered_scan where {all_empty}")
    # rowid is the position in the file (deleting blank rows does not renumber the others).
    scratch.execute(
        f"create view {DELIVERED_TABLE} as select (rowid + 2)::integer as _row_number, * from delivered_scan"
    )
    return scratch.execute("select count(*) from delivered_scan").fetchall()[0][0]


def _parse_exactly(
    text: str, header: Sequence[str], separator: str, relative_path: str, scratch: duckdb.DuckDBPyConnection
) -> int:
    """Python's csv module: slower, but knows each record's row and field count exactly."""
    width = len(header)
    reader = csv.reader(io.StringIO(text), delimiter=separator, quotechar='"', doublequote=True, strict=True)
    records: list[list[str]] = []
    row_numbers: list[int] = []
    row = 0
    try:
        for row, record in enumerate(reader, start=1):
            if row == 1:
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != width:
                problem = f"{len(record)} fields where the header has {width}: a truncated or ragged row" + (
                    " (unquoted decimal commas in a ','-separated file?)" if separator == "," else ""
                )
                raise DeliveryError(relative_path, problem, row=row)
            records.append(record)
            row_numbers.append(row)
    except csv.Error:
        raise DeliveryError(
            relative_path, "malformed quoting: text after a closing quote, or a quote that is never closed", row=row + 1
        ) from None
    _store(scratch, header, records, row_numbers)
    return len(records)


def _store(
    scratch: duckdb.DuckDBPyConnection,
    header: Sequence[str],
    records: Sequence[Sequence[object]],
    row_numbers: Sequence[int],
) -> None:
    arrays = {"_row_number": pa.array(row_numbers, pa.int32())}
    for index, column in enumerate(column_ids(len(header))):
        arrays[column] = pa.array([record[index] for record in records], pa.string())
    delivered_rows = pa.table(arrays)
    scratch.register("delivered_arrow", delivered_rows)
    scratch.execute(f"create or replace table {DELIVERED_TABLE} as select * from delivered_arrow")
    scratch.unregister("delivered_arrow")


# --- XLSX --------------------------------------------------------------------------------


def _read_xlsx(
    path: Path, relative_path: str, scratch: duckdb.DuckDBPyConnection, fixed_widths: Mapping[str, int]
) -> DeliveredFile:
    # Calamine, pandas' fast Excel engine: at scale 100 it read a 78,000-row questionnaire in 2.5 s,
    # openpyxl's read-only mode in about 20 s. Only .xlsx deliveries pay for the import.
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

    unreadable = (CalamineError, PasswordError, XmlError, ZipError, OSError, ValueError)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except unreadable as error:
        raise DeliveryError(
            relative_path, f"not a readable .xlsx workbook ({type(error).__name__}: truncated or not Excel?)"
        ) from None
    try:
        if not workbook.sheet_names:
            raise DeliveryError(relative_path, "the workbook has no sheets")
        # The empty area above and left of the data is kept, so row numbers are the sheet's own.
        rows = iter(workbook.get_sheet_by_index(0).to_python(skip_empty_area=False))
    except unreadable as error:
        raise DeliveryError(relative_path, f"the first sheet cannot be read ({type(error).__name__})") from None
    finally:
        workbook.close()
    header_cells = next(rows, None)
    if header_cells is None:
        raise DeliveryError(relative_path, "the first sheet is empty")
    header = _xlsx_header(header_cells, relative_path)
    widths = [fixed_widths.get(name.casefold()) for name in header]
    records, row_numbers = _xlsx_records(rows, header, widths, relative_path)
    if not records:
        raise DeliveryError(relative_path, "the first sheet has a header but no data rows")
    _store(scratch, header, records, row_numbers)
    return DeliveredFile(header=header, row_count=len(records), encoding="xlsx", separator=None)


def _xlsx_header(cells: Sequence[object], relative_path: str) -> tuple[str, ...]:
    names = ["" if cell is None else _clean_name(str(cell)) for cell in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise DeliveryError(relative_path, "the header row is empty", row=1)
    return tuple(names)


def _xlsx_records(
    rows: Iterable[Sequence[object]],
    header: Sequence[str],
    widths: Sequence[int | None],
    relative_path: str,
) -> tuple[list[list[str | None]], list[int]]:
    width = len(header)
    records: list[list[str | None]] = []
    row_numbers: list[int] = []
    for row, cells in enumerate(rows, start=2):
        values = [_xlsx_text(cell, widths[i] if i < width else None) for i, cell in enumerate(cells)]
        beyond_header = [i for i, v in enumerate(values[width:], start=width) if v not in (None, "")]
        if beyond_header:
            raise DeliveryError(
                relative_path, "a value in a column that has no header", row=row, column=f"#{beyond_header[0] + 1}"
            )
        values = (values + [None] * width)[:width]
        if all(v is None or not v.strip() for v in values):
            continue
        records.append(values)
        row_numbers.append(row)
    return records, row_numbers


def _xlsx_text(cell: object, width: int | None) -> str | None:
    """A cell as the text a CSV export would hold: 7 not 7.0, dates as ISO; an empty cell is None."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, bool):
        return str(int(cell))
    if isinstance(cell, int | float):
        if isinstance(cell, float) and not cell.is_integer():
            return repr(cell)
        digits = str(int(cell))
        return digits.zfill(width) if width else digits
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(sep=" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)
