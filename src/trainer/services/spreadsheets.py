"""XLSX files for Excel: text that looks like a formula stays text."""
from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell


def _cell(sheet, value):
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        cell.quotePrefix = value.startswith(("=", "+", "-", "@"))
        return cell
    return value


def xlsx_bytes(sheets: Iterable[tuple[str, Iterable[Iterable[object]]]]) -> bytes:
    """Write (title, rows) sheets with a streaming workbook; the first row of each is its header."""
    book = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        for row in rows:
            sheet.append([_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
