"""Candidate figures: every number in a text with what is written around it.

The grammar of a candidate (qualifier, number, range, scale, unit, qualifier) is built here from
the units rules; nothing is decided about what the number means.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import regex

from extract.numbers import ARABIC_NUMBER, CHINESE_DECIMAL, CHINESE_NUMERAL, normal_decimal, parse_number
from extract.patterns import compile_short
from schemas.rules import Units


# Not frozen: one is made per number, and a frozen dataclass's __init__ costs 8x a plain one's.
@dataclass(slots=True)
class Candidate:
    """A number found in the (normalised) text; offsets are into that text."""

    start: int  # the surface: number, scale, unit and attached qualifiers
    end: int
    num_start: int
    num_end: int
    value: Decimal | None
    value_max: Decimal | None
    unit: str
    unit_classes: tuple[str, ...]
    approx: bool
    time: bool
    chinese: bool  # written in Chinese numerals
    placeholder: bool

    @property
    def bare(self) -> bool:
        return not self.unit


_HAN = regex.compile(r"\p{Han}")
# spaces a range may hold around its joiner (2 - 3次); not tabs or line breaks: cells of a table row
_SPACE = "[ \u00a0\u3000]*"

# A Chinese numeral glued to a preceding numeral character belongs to a longer word (十有四).
_CN_GUARD = "零〇○一二三四五六七八九十百千万亿两"


# The candidate pattern's groups, in order, and the positions of those whose span is read.
_GROUPS = ("before", "pct", "num", "scale1", "join", "num2", "scale2", "mid", "scale3", "unit", "after")
_BEFORE, _PCT, _NUM, _SCALE1, _NUM2, _SCALE3 = (
    _GROUPS.index(g) + 1 for g in ("before", "pct", "num", "scale1", "num2", "scale3")
)


def _alternation(words: list[str]) -> str:
    return "|".join(regex.escape(w) for w in sorted(set(words), key=len, reverse=True))


class CandidateFinder:
    """Finds numbers with their unit, scale, range and approximation words."""

    def __init__(self, units: Units) -> None:
        self.unit_of: dict[str, tuple[str, tuple[str, ...], bool]] = {}
        self.times: dict[str, int] = {}  # units written as another: 成 → % times 10
        for u in units.units:
            for spelling in [u.unit, *u.aliases]:
                self.unit_of[spelling] = (u.as_unit or u.unit, tuple(u.classes), u.time)
                if u.as_unit:
                    self.times[spelling] = u.times
        self.scales = units.scales
        placeholder = "|".join(f"(?:{p})" for p in units.placeholders)
        number = rf"(?:{ARABIC_NUMBER}|{CHINESE_DECIMAL}|{CHINESE_NUMERAL}|{placeholder})"
        scale = f"(?:{_alternation(list(self.scales))})"
        after_num = f"(?:{_alternation([w for w in units.approx_after if len(w) == 1])})"
        self.pattern = regex.compile(
            rf"""
            (?P<before>(?:{_alternation(units.approx_before)})\s*)?
            (?<![0-9.A-Za-z{_CN_GUARD}])(?<!\d,)
            (?:(?P<pct>百分之)(?P<num>百(?![分万亿])|{number})|(?P<num>{number}))
            (?:[ \u00a0]?(?P<scale1>{scale}{{1,2}}))?
            (?:{_SPACE}(?P<join>{_alternation(units.range_joiners)}){_SPACE}(?P<num2>{number})(?P<scale2>{scale}{{0,2}}))?
            (?![0-9.])
            (?:[ \u00a0]?(?P<mid>{after_num}))?
            (?P<scale3>{scale}{{0,2}})
            (?:[ \u00a0]?(?P<unit>{_alternation(list(self.unit_of))}))?
            (?P<after>{_alternation(units.approx_after)})?
            """,
            regex.VERBOSE,
        )
        order = sorted(self.pattern.groupindex, key=self.pattern.groupindex.__getitem__)
        if tuple(order) != _GROUPS:  # _read unpacks the groups by position
            raise RuntimeError(f"candidate pattern groups changed: {order}")
        self.placeholder = compile_short(placeholder)
        self.chinese = compile_short(CHINESE_NUMERAL)
        unit_words = f"(?P<scale>{scale}{{0,2}})(?P<unit>{_alternation(list(self.unit_of))}|%|％)"
        labels = _alternation(units.table_unit_labels) if units.table_unit_labels else "(?!)"
        self.stated_unit = regex.compile(rf"(?:{labels})\s*[:：]\s*{unit_words}")
        self.bracket_unit = regex.compile(rf"[(（]\s*{unit_words}\s*[)）]")

    def table_unit(self, label: str, above: str = "") -> tuple[Decimal, str, tuple[str, ...]] | None:
        """The unit a table gives a bare cell: ``(万人)`` in its row label (or header), else the last
        ``单位：万元`` line in ``above`` (the text over the table), as (multiplier, unit, classes).

        >>> from extract.rules import load_rules
        >>> finder = CandidateFinder(load_rules().units)
        >>> finder.table_unit("在岗职工(万人)"), finder.table_unit("会员", "单位：元")
        ((Decimal('10000'), '人', ('person', 'person_time')), (Decimal('1'), '元', ('money',)))
        >>> finder.table_unit("地区") is None
        True
        """
        hit = self.bracket_unit.search(label)
        if hit is None:
            hits = list(self.stated_unit.finditer(above))
            hit = hits[-1] if hits else None
        if hit is None:
            return None
        unit_text = hit.group("unit")
        unit, classes = ("%", ("percent",)) if unit_text in ("%", "％") else self.unit_of[unit_text][:2]
        multiplier = Decimal(1)
        for ch in hit.group("scale"):
            multiplier *= self.scales[ch]
        return multiplier, unit, classes

    def __call__(self, text: str) -> list[Candidate]:
        # every match first, then each read: the engine's scan and the reading each run in one go
        hits = list(self.pattern.finditer(text))
        found: list[Candidate] = []
        for cand in map(self._read, hits):
            # a candidate may end past its match (9成4 takes the 4): the next match inside it is none
            if cand is not None and (not found or cand.start >= found[-1].end):
                found.append(cand)
        return found

    def _read(self, hit: regex.Match[str]) -> Candidate | None:
        # groups() by position: a group by name costs 2.5x the whole tuple in ``regex``
        before, pct, num, scale1, _, num2, scale2, mid, scale3, unit_text, after = hit.groups()
        chinese = bool(self.chinese.match(num))
        placeholder = bool(self.placeholder.fullmatch(num))
        classes: tuple[str, ...]
        if pct:
            unit, classes, time = "%", ("percent",), False
            if unit_text:  # 百分之九十人: the unit is not the figure's; stop before it
                unit_text = None
        elif unit_text:
            unit, classes, time = self.unit_of[unit_text]
        else:
            unit, classes, time = "", (), False
        if (chinese or placeholder) and not unit:
            return None  # 一些, 十有四上墙, XX镇: a Chinese numeral or placeholder counts only with its unit
        scale = (scale1 or "") + scale3
        if scale and not unit and not mid and _HAN.match(hit.string, hit.end()):
            # 3万 glued to a word is a name (万名干部); standing apart (会员41万，) it is a figure
            # whose measure word the text left out
            return None
        value = None if placeholder else self._value(num, scale, pct)
        times = self.times.get(unit_text or "", 1)
        tail = 0
        if times > 1 and value is not None:
            value *= times
            digit = parse_number(hit.string[hit.end() : hit.end() + 1]) if hit.end() < len(hit.string) else None
            if digit is not None and 0 < digit < times:  # 9成4: four more tenths' tenths
                value += digit
                tail = 1
        value_max = None
        if num2:
            value_max = self._value(num2, (scale2 or "") + scale3, pct)
            if value is None or value_max is None or value_max <= value:
                value_max = None
        num_start, num_end = hit.span(_NUM)
        start = hit.start(_BEFORE) if before else hit.start(_PCT) if pct else num_start
        end = hit.end()
        if not unit_text and not after and not mid:
            end = max(
                hit.end(_NUM2) if num2 else num_end,
                hit.end(_SCALE1) if scale1 else 0,
                hit.end(_SCALE3) if scale3 else 0,
            )
        return Candidate(
            start=start,
            end=end + tail,
            num_start=num_start,
            num_end=num_end,
            value=value,
            value_max=value_max,
            unit=unit,
            unit_classes=classes,
            approx=bool(before or mid or after),
            time=time,
            chinese=chinese,
            placeholder=placeholder,
        )

    def _value(self, num: str, scale: str, pct: str | None) -> Decimal | None:
        if pct and num == "百":
            return Decimal(100)
        if not scale and num.isascii() and num.isdigit():
            return Decimal(num)  # the common case, already in normal form
        value = parse_number(num)
        if value is None:
            return None
        for ch in scale:
            value *= self.scales[ch]
        return normal_decimal(value)
