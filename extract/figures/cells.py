"""Table cells: where a number standing alone in a tab-separated row sits, what heads its column,
what labels its row, and the unit its table gives it.

Rows are tab-separated lines: a .docx table as read, or a table flattened into text that
``extract.text.tables`` gave its rows back. The rule extractor asks these for every bare number.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import regex

from extract.figures.candidates import Candidate, CandidateFinder

__all__ = ["cell_unit", "column_year", "not_a_cell_figure", "table_cell", "table_context"]

_NUMBER_CHARS = " \u3000.,%+-*"
_YEAR_CELL = regex.compile(r"(?:19[5-9]\d|20[0-4]\d)")
_YEAR_IN_CELL = regex.compile(r"((?:19[5-9]|20[0-4])\d)\s*年?(?:末|底|度)?")
# how far above a table cell its table's "单位：万元" line may stand
TABLE_UNIT_REACH = 2000


def cell_unit(
    finder: CandidateFinder, text: str, cand: Candidate, line_start: int, line_end: int, header: str
) -> tuple[Decimal, str, tuple[str, ...]] | None:
    """The unit of a bare table cell, nearest statement first: its row's label (在岗职工(万人));
    a header row above (``(个) | 单位数 | (万人)``), a cell without a unit taking the one to its
    left (a merged parent header); the nearest row above whose label states one, when it is
    the table's first row (a yearbook's sub-rows, #国有单位, share its unit); the table's
    单位：万元 line. A header row no wider than the row's numbers stands over the numbers
    alone: the label column's header is merged above it (地区 over two header rows)."""
    cells = _cells(text[line_start:line_end])
    found = finder.table_unit(" ".join(c for c in cells if _is_label(c)))
    if found is not None:
        return found
    column = _column(text, cand, line_start, line_end)
    for row_start, above in _rows_above(text, line_start):
        if _is_header_row(above):
            for j in range(min(_over(column, cells, above), len(above) - 1), -1, -1):
                hit = finder.table_unit(above[j])
                if hit is not None:
                    return hit
        else:
            hit = finder.table_unit(" ".join(c for c in above if _is_label(c)))
            if hit is not None:  # a parent row's unit, only from the table's first row
                return hit if _opens_table(text, row_start) else None
    return finder.table_unit(header, text[max(0, line_start - TABLE_UNIT_REACH) : line_start])


def table_cell(text: str, cand: Candidate) -> tuple[int, int] | None:
    """(line start, column) when the candidate fills a whole cell of a tab-separated row."""
    line_start = text.rfind("\n", 0, cand.start) + 1
    line_end = text.find("\n", cand.end)
    line_end = len(text) if line_end < 0 else line_end
    if text.find("\t", line_start, line_end) < 0:  # no copy of the line for the common case
        return None
    before = text[line_start : cand.start]
    after = text[cand.end : line_end]
    cell_before = before.rsplit("\t", 1)[-1]
    cell_after = after.split("\t", 1)[0]
    if cell_before.strip() not in ("", "-", "−", "+") or cell_after.strip():  # a sign is the cell's
        return None
    return line_start, before.count("\t")


def table_context(text: str, cand: Candidate) -> tuple[str, str, int, int] | None:
    """(column header, row label, line start, line end) for a number standing alone in a table cell.

    The header is the nearest line above with the same number of cells whose cell in this column
    holds no digit.
    """
    cell = table_cell(text, cand)
    if cell is None:
        return None
    line_start, column = cell
    line_end = text.find("\n", cand.end)
    line_end = len(text) if line_end < 0 else line_end
    n_cells = text.count("\t", line_start, line_end) + 1
    row_label = text[line_start:line_end].split("\t", 1)[0].strip()
    if not row_label:  # a row reshaped from one cell per line (extract.text.tables): its label cells
        row_label = " ".join(c.strip() for c in text[line_start:line_end].split("\t") if _is_label(c))
    pos = line_start - 1
    for _ in range(40):  # tables are short; do not wander into the prose above
        if pos <= 0:
            break
        prev_start = text.rfind("\n", 0, pos) + 1
        cells = text[prev_start:pos].split("\t")
        if len(cells) == n_cells and not any(ch.isdigit() for ch in cells[column]):
            # The line above the header, when it is prose, is the table's caption.
            cap_end = prev_start - 1
            cap_start = text.rfind("\n", 0, max(cap_end, 0)) + 1
            caption = text[cap_start:cap_end] if cap_end > 0 and "\t" not in text[cap_start:cap_end] else ""
            return f"{caption.strip()[-20:]}，{cells[column].strip()}", row_label, line_start, line_end
        if "\t" not in text[prev_start:pos] and text[prev_start:pos].strip():
            break
        pos = prev_start - 1
    return "", row_label, line_start, line_end  # no header found: the row label alone


def not_a_cell_figure(text: str, cand: Candidate) -> str | None:
    """Why a bare number alone in a table cell is no figure: a row of years heading the columns,
    or the row's number (序号) before its label."""
    cell = table_cell(text, cand)
    if cell is None or cand.value is None:
        return None
    line_start, column = cell
    line_end = text.find("\n", cand.end)
    cells = [c.strip() for c in text[line_start : line_end if line_end >= 0 else len(text)].split("\t")]
    numbers = [c for c in cells if c and not _is_label(c)]
    if numbers and all(_YEAR_CELL.fullmatch(c) for c in numbers):
        return "a year heading a table column"
    filled = [i for i, c in enumerate(cells) if c]
    if filled and filled[0] == column and cand.value == int(cand.value) < 1000:
        after = [cells[i] for i in filled[1:2]]
        if after and _is_label(after[0]):
            return "the row's number in a table (序号)"
    return None


def _opens_table(text: str, line_start: int) -> bool:
    """Whether the row at ``line_start`` is its table's first row of numbers (the line above it is
    a header row, prose, or nothing)."""
    if line_start <= 0:
        return True
    prev_start = text.rfind("\n", 0, line_start - 1) + 1
    above = text[prev_start : line_start - 1].split("\t")
    return len(above) < 2 or _is_header_row(above)


def _is_header_row(cells: list[str]) -> bool:
    """A row of labels, or of labels and years (指标 | 1995 | 2000): no cell counts anything."""
    return not any(c.strip() and not _is_label(c) and not _YEAR_CELL.fullmatch(c.strip()) for c in cells)


def _cells(line: str) -> list[str]:
    """A row's cells without the empty ones its leading and trailing separators leave."""
    cells = line.split("\t")
    start, end = 0, len(cells)
    while start < end and not cells[start].strip():
        start += 1
    while end > start and not cells[end - 1].strip():
        end -= 1
    return cells[start:end]


def _column(text: str, cand: Candidate, line_start: int, line_end: int) -> int:
    """The candidate's cell among its row's :func:`_cells` (leading empty cells not counted)."""
    line = text[line_start:line_end]
    lead = len(line) - len(line.lstrip("\t \u3000"))
    return text.count("\t", line_start, cand.start) - line.count("\t", 0, lead)


def _rows_above(text: str, line_start: int) -> Iterator[tuple[int, list[str]]]:
    """The table rows over the row at ``line_start``, nearest first, as (start, :func:`_cells`);
    they end at a line without a tab (tables are short: at most 40, so prose is never wandered into)."""
    pos = line_start - 1
    for _ in range(40):
        if pos <= 0:
            return
        row_start = text.rfind("\n", 0, pos) + 1
        line = text[row_start:pos]
        if "\t" not in line:
            return
        yield row_start, _cells(line)
        pos = row_start - 1


def _over(column: int, cells: list[str], header: list[str]) -> int:
    """The cell of ``header`` over ``column`` of ``cells``: a header row no wider than the row's
    numbers stands over the numbers alone (the label column's header is merged above it)."""
    numbers = [i for i, c in enumerate(cells) if c.strip() and not _is_label(c)]
    return column - numbers[0] if numbers and len(header) <= len(numbers) else column


def _is_label(cell: str) -> bool:
    """A cell that names rather than counts: it holds a character that is no digit or separator."""
    return any(not (ch.isdigit() or ch in _NUMBER_CHARS) for ch in cell.strip())


def column_year(text: str, cand: Candidate, line_start: int, line_end: int) -> tuple[int, int] | None:
    """The year heading a cell's column and the latest year of that header row (2019 | 2020 | 2021),
    from the nearest header row above that names years, aligned as :func:`cell_unit` aligns."""
    cells = _cells(text[line_start:line_end])
    column = _column(text, cand, line_start, line_end)
    for _, above in _rows_above(text, line_start):
        if _is_header_row(above):
            years = [_year_in(c) for c in above]
            if sum(y is not None for y in years) >= 2:
                i = _over(column, cells, above)
                mine = years[i] if 0 <= i < len(years) else None
                return None if mine is None else (mine, max(y for y in years if y is not None))
    return None


def _year_in(cell: str) -> int | None:
    hit = _YEAR_IN_CELL.fullmatch(cell.strip())
    return int(hit.group(1)) if hit else None
