"""Writing delivery files: delimited text in a given encoding, and a minimal .xlsx.

Both stream: rows are appended chunk by chunk, so a file's size does not bound memory.
The .xlsx is written by hand (inline strings, no shared-string table) so its bytes depend
only on its content: every zip entry carries the same fixed timestamp and the workbook
properties a fixed creation date.
"""

from __future__ import annotations

import datetime as dt
import functools
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTF8_BOM = b"\xef\xbb\xbf"
ZIP_TIMESTAMP = (2021, 1, 1, 0, 0, 0)

EPOCH = dt.date(1900, 1, 1)


class DateFormatter:
    """Formats day numbers (days since 1900-01-01) as dd.mm.yyyy or ISO by table lookup."""

    def __init__(self, first_year: int = 1990, last_year: int = 2022):
        self.first_day = (dt.date(first_year, 1, 1) - EPOCH).days
        last_day = (dt.date(last_year, 12, 31) - EPOCH).days
        dates = [EPOCH + dt.timedelta(days=d) for d in range(self.first_day, last_day + 1)]
        self.norwegian = np.array([d.strftime("%d.%m.%Y") for d in dates] + [""], dtype=object)
        self.iso = np.array([d.isoformat() for d in dates] + [""], dtype=object)
        self.missing_index = len(dates)

    def format(self, days: np.ndarray, iso: bool, missing: np.ndarray | None = None) -> np.ndarray:
        index = days.astype(np.int64) - self.first_day
        if missing is not None:
            index = np.where(missing, self.missing_index, index)
        table = self.iso if iso else self.norwegian
        return table[index]


# Wider ranges (e.g. salary totals) are few values: formatted directly instead.
MAX_TEXT_TABLE = 1 << 16


@functools.lru_cache(maxsize=8)
def _number_texts(low: int, high: int, tenths: bool, decimal_comma: bool) -> np.ndarray:
    """The text of every number in [low, high], to be looked up instead of formatted one by one."""
    separator = "," if decimal_comma else "."
    if tenths:
        return np.array([f"{value // 10}{separator}{value % 10}" for value in range(low, high + 1)], dtype=object)
    return np.array([str(value) for value in range(low, high + 1)], dtype=object)


def _lookup_text(values: np.ndarray, missing: np.ndarray | None, tenths: bool, decimal_comma: bool) -> np.ndarray:
    values = values.astype(np.int64)
    if values.size == 0:
        return np.array([], dtype=object)
    # Bounds rounded out to powers of two so that chunks of one file share the cached table.
    low = -(1 << int(-values.min()).bit_length()) if values.min() < 0 else 0
    high = (1 << int(values.max()).bit_length()) - 1
    if high - low > MAX_TEXT_TABLE:
        whole = (values // 10 if tenths else values).astype(str).astype(object)
        text = whole + ("," if decimal_comma else ".") + (values % 10).astype(str).astype(object) if tenths else whole
    else:
        text = _number_texts(low, high, tenths, decimal_comma)[values - low]
    if missing is not None:
        text[missing] = ""
    return text


def integers_as_text(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    return _lookup_text(values, missing, tenths=False, decimal_comma=False)


def tenths_as_text(tenths: np.ndarray, decimal_comma: bool, missing: np.ndarray | None = None) -> np.ndarray:
    """A non-negative value held as whole tenths (e.g. 437 → '43.7'), written with one decimal."""
    return _lookup_text(tenths, missing, tenths=True, decimal_comma=decimal_comma)


class DelimitedWriter:
    """A `;`-separated file written in chunks of columns of text."""

    def __init__(
        self,
        path: Path,
        columns: list[str],
        encoding: str = "utf-8",
        byte_order_marks: int = 0,
        line_terminator: str = "\n",
        quote_header: bool = False,
    ):
        self.path = path
        self.columns = columns
        self.encoding = encoding
        self.line_terminator = line_terminator
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "wb")
        self.handle.write(UTF8_BOM * byte_order_marks)
        header = [f'"{c}"' for c in columns] if quote_header else columns
        self.handle.write((";".join(header) + line_terminator).encode(encoding))

    def write(self, frame: dict[str, np.ndarray]) -> None:
        """Append rows given as text columns; no value may contain the separator or a line break."""
        columns = [pa.array(np.asarray(frame[column], dtype=object), type=pa.string()) for column in self.columns]
        if len(columns[0]) == 0:
            return
        # Joined in Arrow: the line strings end up back to back in one buffer, ready to write.
        lines = pc.binary_join_element_wise(*columns, ";")
        lines = pc.binary_join_element_wise(lines, pa.scalar(""), self.line_terminator)
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
        data = memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]
        self.handle.write(data if self.encoding == "utf-8" else bytes(data).decode("utf-8").encode(self.encoding))
        self.rows += len(lines)

    def write_lines(self, lines: list[str]) -> None:
        self.handle.write("".join(line + self.line_terminator for line in lines).encode(self.encoding))
        self.rows += len(lines)

    def close(self) -> None:
        self.handle.close()


def _column_letters(count: int) -> list[str]:
    letters = []
    for index in range(count):
        name = ""
        number = index + 1
        while number:
            number, remainder = divmod(number - 1, 26)
            name = chr(65 + remainder) + name
        letters.append(name)
    return letters


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Ark1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:creator>IMDi</dc:creator>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
    "</cp:coreProperties>"
)


class XlsxWriter:
    """A one-sheet workbook, header in row 1; numeric columns become number cells.

    ``rows`` (data rows to come) goes into the sheet's dimension, as Excel writes it: without
    one, openpyxl reads the whole sheet an extra time just to find its size.
    """

    def __init__(self, path: Path, columns: list[str], numeric_columns: set[str], created: str, rows: int):
        self.path = path
        self.columns = columns
        self.numeric = [column in numeric_columns for column in columns]
        self.letters = _column_letters(len(columns))
        self.expected_rows = rows
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("docProps/core.xml", _CORE.format(created=created)),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            self.archive.writestr(self._entry(name), text)
        self.sheet = self.archive.open(self._entry("xl/worksheets/sheet1.xml"), "w", force_zip64=True)
        self.sheet.write(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + f'<dimension ref="A1:{self.letters[-1]}{rows + 1}"/><sheetData>'.encode()
        )
        self._write_header()

    @staticmethod
    def _entry(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def _write_header(self) -> None:
        cells = "".join(
            f'<c r="{letter}1" t="inlineStr"><is><t>{_xml_escape(column)}</t></is></c>'
            for letter, column in zip(self.letters, self.columns)
        )
        self.sheet.write(f'<row r="1">{cells}</row>'.encode())

    def write(self, frame: dict[str, np.ndarray]) -> None:
        """Append rows; built column by column in Arrow, empty cells left out as Excel does."""
        count = len(frame[self.columns[0]])
        if count == 0:
            return
        # Row 1 is the header, so data row k sits in spreadsheet row k + 1.
        row_numbers = pa.array((np.arange(count) + self.rows + 2).astype(str).astype(object), type=pa.string())
        cells = []
        for letter, numeric, column in zip(self.letters, self.numeric, self.columns):
            values = pa.array(np.asarray(frame[column], dtype=object), type=pa.string())
            if not numeric:
                values = pc.replace_substring(
                    pc.replace_substring(pc.replace_substring(values, "&", "&amp;"), "<", "&lt;"), ">", "&gt;"
                )
            opening = f'<c r="{letter}'
            middle = '"><v>' if numeric else '" t="inlineStr"><is><t>'
            closing = "</v></c>" if numeric else "</t></is></c>"
            cell = pc.binary_join_element_wise(
                pa.scalar(opening), row_numbers, pa.scalar(middle), values, pa.scalar(closing), ""
            )
            cells.append(pc.if_else(pc.equal(values, ""), pa.scalar(""), cell))
        rows = pc.binary_join_element_wise(
            pa.scalar('<row r="'), row_numbers, pa.scalar('">'), *cells, pa.scalar("</row>"), ""
        )
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=count + 1, offset=rows.offset * 4)
        self.sheet.write(memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]])
        self.rows += count

    def close(self) -> None:
        if self.rows != self.expected_rows:
            raise ValueError(f"{self.path}: {self.rows} rows written, {self.expected_rows} announced in the dimension")
        self.sheet.write(b"</sheetData></worksheet>")
        self.sheet.close()
        self.archive.close()
