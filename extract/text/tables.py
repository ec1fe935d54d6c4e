"""Tables flattened into text, given back their rows: cells separated by tabs, one row a line.

Real pages hold statistical tables as text in three shapes: rows with ``|`` between cells
(``全国 | 5168303 | 1166154 |``), rows with runs of dots between them (``雇员工会.....821.....828``),
and one cell per line (a label line, then a line per number). The rule extractor reads a number
alone in a tab-separated cell as a table cell (its row label naming what is counted, the unit in
it or in the table's ``单位:`` line). This stage rewrites the three shapes into that form by
substituting characters one for one (``|`` → tab, a dot run → a tab and spaces, a line break
inside a row → a tab), so the offset map of the text is untouched.
"""

from __future__ import annotations

import regex

from extract.text.normalise import MappedText

__all__ = ["reshape_tables"]

# a cell that is a number only (a sign, thousands commas, a decimal, a percent), or a placeholder
_NUMBER_CELL = regex.compile(r"[ \t\u3000]*[-+]?(?:\d[\d,]*(?:\.\d+)?%?|\*{2,}|…{1,2})[ \t\u3000]*")
_PIPE = regex.compile(r"[|｜]")
_HAN = regex.compile(r"\p{Han}")
# a line holding one number and nothing else (a pipe may close it): a cell of a one-per-line table
_NUMBER_LINE = regex.compile(r"^[ \t\u3000]*[-+]?\d[\d,]*(?:\.\d+)?%?[ \t\u3000|｜]*$", regex.MULTILINE)
_DOTS = regex.compile(r"(?<=\S)(?:\.{2,}|…{2,}|·{2,})(?=\S)")
#: a block of one cell per line needs this many number lines, and this share of its lines
MIN_NUMBER_LINES = 6
MIN_NUMBER_SHARE = 0.3
MAX_CELL_CHARS = 60


def _is_number(cell: str) -> bool:
    return _NUMBER_CELL.fullmatch(cell) is not None


def reshape_tables(mapped: MappedText) -> MappedText:
    """``mapped`` with its flattened tables as tab-separated rows (same length, same map).

    >>> reshape_tables(MappedText("地区 | 人数 |\\n全国 | 120 | 35 |", tuple(range(24)))).text
    '地区 \\t 人数 \\t\\n全国 \\t 120 \\t 35 \\t'
    >>> reshape_tables(MappedText("总人口(万人) |\\n" + "".join(f"{n} |\\n" for n in range(6)), tuple(range(37)))).text
    '总人口(万人) \\t\\t0 \\t\\t1 \\t\\t2 \\t\\t3 \\t\\t4 \\t\\t5 \\t\\n'
    >>> reshape_tables(MappedText("雇员工会.....821.....828", tuple(range(22)))).text
    '雇员工会\\t    821\\t    828'
    """
    text = mapped.text
    piped = "|" in text or "｜" in text
    dotted = ".." in text or "……" in text or "··" in text
    cell_lines = len(_NUMBER_LINE.findall(text)) >= MIN_NUMBER_LINES
    if not (piped or dotted or cell_lines):  # most documents: no table to reshape, told in C
        return mapped
    chars = list(text)
    lines = _lines(text)
    # a text with a row of numbers between pipes is a table: its header and label rows too
    if piped and any(len(cells := _PIPE.split(text[s:e])) >= 2 and any(map(_is_number, cells)) for s, e in lines):
        for hit in _PIPE.finditer(text):
            chars[hit.start()] = "\t"
    for start, end in lines if dotted else ():
        if _DOTS.search(text, start, end) and _is_number(_DOTS.split(text[start:end])[-1].split("(")[0]):
            for hit in _DOTS.finditer(text, start, end):
                chars[hit.start()] = "\t"
                for i in range(hit.start() + 1, hit.end()):
                    chars[i] = " "
    if cell_lines:
        _join_cell_lines(text, lines, chars)
    new = "".join(chars)
    return mapped if new == text else MappedText(new, mapped.index)


def _lines(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for hit in regex.finditer("\n", text):
        spans.append((start, hit.start()))
        start = hit.end()
    spans.append((start, len(text)))
    return spans


def _join_cell_lines(text: str, lines: list[tuple[int, int]], chars: list[str]) -> None:
    """In a block of short lines most of which hold one number, each row's lines become one line:
    its label lines (back to the nearest one in Han script: 总人口(万人) above Total Population),
    then its numbers; their line breaks become tabs. A line of several cells ends a block."""
    kinds = []
    for start, end in lines:
        cells = [c for c in regex.split(r"[|｜\t]", text[start:end]) if c.strip()]
        if not cells:
            kinds.append("gap")
        elif len(cells) > 1 or len(cells[0]) > MAX_CELL_CHARS:
            kinds.append("other")
        else:
            kinds.append("num" if _is_number(cells[0]) else "label")
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and kinds[j] != "other":
            j += 1
        block = kinds[i:j]
        numbers = block.count("num")
        if numbers >= MIN_NUMBER_LINES and numbers >= MIN_NUMBER_SHARE * len(block):
            _join_rows(text, lines[i:j], block, chars)
        i = j + 1


def _join_rows(text: str, lines: list[tuple[int, int]], kinds: list[str], chars: list[str]) -> None:
    for k, kind in enumerate(kinds):
        if kind != "num" or k == 0:
            continue
        start = lines[k][0]
        chars[start - 1] = "\t"  # a number continues the line above
        if kinds[k - 1] == "label":  # the first number of a row: its label lines join it
            m = k - 1
            while m > 0 and kinds[m - 1] == "label" and not _HAN.search(text, *lines[m]):
                chars[lines[m][0] - 1] = "\t"
                m -= 1
