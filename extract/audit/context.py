"""What every check receives (``AuditContext``), and the arithmetic helpers they share.

Numbers are compared as ``Decimal``. A figure written with a scale or decimals (7.6万元, 92.3%) was
rounded by its writer: a result may be off by half a unit of the last digit of the most precise
such figure involved, and no more. Counts and amounts written in full (48票, 38650元) are exact.
A figure marked approximate (余, 约, 近) is never used for an equality and gets ``approx_relative``
slack in an inequality.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from extract.records import DocView, Draft, Records
from schemas.audit_rules import TEMPLATE_FIELDS, AuditRules
from schemas.figures import Figure
from schemas.findings import Finding

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def written_number(
    surface: str, decimal_marks: Iterable[str], thousands_marks: Iterable[str] = ()
) -> tuple[Decimal, int] | None:
    """The first Arabic number written in ``surface`` and its count of decimals.

    >>> written_number("1386.52万元", ["."])
    (Decimal('1386.52'), 2)
    >>> written_number("2,156,300.00元", ["."], [","])
    (Decimal('2156300.00'), 2)
    >>> written_number("92。3%", [".", "。"]), written_number("五位", ["."])
    ((Decimal('92.3'), 1), None)
    """
    marks, thousands = set(decimal_marks), set(thousands_marks)
    digits: list[str] = []
    decimals = -1
    for i, ch in enumerate(surface):
        if ch.isascii() and ch.isdigit():
            digits.append(ch)
            if decimals >= 0:
                decimals += 1
        elif ch in marks and digits and decimals < 0:
            digits.append(".")
            decimals = 0
        elif ch in thousands and digits and decimals < 0 and _three_digits(surface[i + 1 : i + 5]):
            continue
        elif digits:
            break
    if not digits:
        return None
    text = "".join(digits).rstrip(".")
    return Decimal(text), max(decimals, 0)


def _three_digits(text: str) -> bool:
    """Exactly three digits follow (a thousands group): '300.', '300元', not '3000'."""
    head = text[:3]
    return len(head) == 3 and head.isascii() and head.isdigit() and not (text[3:4].isascii() and text[3:4].isdigit())


def fmt(value: Decimal) -> str:
    """A number as a person writes it: no exponent, no trailing zeros.

    >>> fmt(Decimal("13865200.0")), fmt(Decimal("60.00")), fmt(Decimal("0.125"))
    ('13865200', '60', '0.125')
    """
    text = format(value.normalize(), "f")
    return text


@dataclass
class AuditContext:
    """The loaded rules, each document's figures, the records built from them, and document metadata."""

    rules: AuditRules
    views: dict[str, DocView]
    records: Records
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- numbers ---
    def resolution(self, f: Figure) -> Decimal:
        """Half a unit of the last digit written, in value units; 0 for a count written in full."""
        if f.value is None:
            return ZERO
        written = written_number(f.surface, self.rules.text.decimal_marks, self.rules.text.thousands_marks)
        if written is None or written[0] == 0:
            return ZERO
        number, decimals = written
        scale = f.value / number
        if decimals == 0 and scale <= 1:
            return ZERO
        return scale * Decimal(10) ** -decimals / 2

    def tolerance(self, figures: Iterable[Figure]) -> Decimal:
        """Room for rounding: half a unit of the last digit of the most precise rounded figure involved.

        A statement that writes 962.40万元 beside 120万元 means 120.00万元: the figures of one sum
        are taken to be as precise as the finest of them.
        """
        rounded = [r for f in figures if (r := self.resolution(f)) > 0]
        return min(rounded, default=ZERO)

    def slack(self, f: Figure) -> Decimal:
        """Extra room for an approximate figure (4500余人, 约3.2万人)."""
        if not f.approx or f.value is None:
            return ZERO
        return abs(f.value) * Decimal(str(self.rules.tolerance.approx_relative))

    def exceeds(self, part: Figure, whole: Figure, extra: Sequence[Figure] = ()) -> bool:
        """``part`` is more than ``whole`` beyond rounding and approximation."""
        assert part.value is not None and whole.value is not None
        room = self.tolerance([part, whole, *extra]) + self.slack(part) + self.slack(whole)
        return part.value > whole.value + room

    def shower(self, figures: Iterable[Figure], extra: Iterable[Decimal] = ()) -> Any:
        """A formatter for the numbers of one arithmetic line: 万 for money when every value allows."""
        figs = list(figures)
        values = [f.value for f in figs if f.value is not None] + list(extra)
        for scale in self.rules.display_scales:
            factor = Decimal(scale.factor)
            if (
                figs
                and all(f.unit in scale.units for f in figs)
                and max((abs(v) for v in values), default=ZERO) >= factor
                and all((v * 100 / factor) == (v * 100 / factor).to_integral_value() for v in values)
            ):
                return lambda v, factor=factor, suffix=scale.suffix: f"{fmt(v / factor)}{suffix}"
        return fmt

    # --- words ---
    def label(self, key: str) -> tuple[str, str]:
        lab = self.rules.labels.get(key)
        return (lab.zh, lab.en) if lab else (key, key)

    def record_id(self, draft: Draft) -> str | None:
        for b in self.records.built:
            if b.draft is draft:
                return b.record_id
        return None

    # --- findings ---
    def finding(
        self,
        rule_id: str,
        doc_id: str,
        figures: Sequence[Figure],
        arithmetic: str,
        record_id: str | None = None,
        **fields: str,
    ) -> Finding:
        """A finding of ``rule_id`` with its messages filled from ``fields``."""
        rule = self.rules.rules[rule_id]
        values = dict.fromkeys(TEMPLATE_FIELDS, "")
        if figures:
            values["metric_zh"], values["metric_en"] = self.label(figures[0].metric)
        values["arithmetic"] = arithmetic
        values.update(fields)
        ordered = list(figures)
        return Finding(
            doc_id=doc_id,
            rule=rule_id,
            severity=rule.severity,
            message_zh=rule.message_zh.format_map(values),
            message_en=rule.message_en.format_map(values),
            arithmetic=arithmetic,
            figure_ids=tuple(f.figure_id for f in ordered),
            figure_docs=tuple(f.doc_id for f in ordered),
            spans=tuple((f.start, f.end) for f in ordered),
            surfaces=tuple(f.surface for f in ordered),
            record_id=record_id,
        )
