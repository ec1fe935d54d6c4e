"""Rates: a stated rate against the rate recomputed from the counts of its sentence.

Two ways to find the counts: the "N of M" shape (15家企业中已建会9家，建会率90%), read from the text
and whatever the metrics; and, for the rates ``rates.definitions`` lists, the one numerator and the
one denominator figure standing before the rate in its sentence (受理58起，调处结案55起，结案率94.8%).
A rate of a scoped population (已建会企业职工入会率) is not members ÷ all workers, so rates such as
入会率 are left to the first way. Rounding: a rate written with d
decimals may be off by half a unit of its last digit; 以上/以下 make it a floor/ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import regex

from extract.audit.context import HUNDRED, AuditContext, fmt, written_number
from extract.records import DocView
from schemas.figures import Figure
from schemas.findings import Finding

NOT_COUNTS = ("percent", "money", "usd", "")


def _check(ctx: AuditContext, view: DocView, num: Figure, den: Figure, rate: Figure) -> Finding | None:
    assert num.value is not None and den.value is not None and rate.value is not None
    if den.value <= 0:
        return None
    recomputed = num.value / den.value * HUNDRED
    written = written_number(rate.surface, ctx.rules.text.decimal_marks, ctx.rules.text.thousands_marks)
    decimals = written[1] if written else 0
    half = Decimal(5) * Decimal(10) ** -(decimals + 1)
    room = half + (
        recomputed * Decimal(str(ctx.rules.tolerance.approx_relative)) if num.approx or den.approx else Decimal(0)
    )
    text = ctx.rules.text
    floor = any(c in rate.surface for c in text.lower_bound)
    ceiling = any(c in rate.surface for c in text.upper_bound)
    if rate.approx and not (floor or ceiling):
        room += Decimal(str(ctx.rules.tolerance.rate_approx_points))
    if floor:
        bad, sign = recomputed < rate.value - room, "<"
    elif ceiling:
        bad, sign = recomputed > rate.value + room, ">"
    else:
        bad, sign = abs(recomputed - rate.value) > room, "≠"
    if not bad:
        return None
    shown = recomputed.quantize(Decimal(10) ** -max(decimals, 1), rounding=ROUND_HALF_UP)
    arithmetic = f"{fmt(num.value)} / {fmt(den.value)} = {shown}% {sign} {fmt(rate.value)}%"
    return ctx.finding(
        "rates.recomputed",
        view.doc_id,
        [num, den, rate],
        arithmetic,
        stated=rate.surface,
        recomputed=f"{shown}%",
    )


def _of_shape(ctx: AuditContext, view: DocView, of: regex.Pattern[str]) -> Iterator[tuple[Figure, Figure, Figure]]:
    """(part, base, rate) where the text reads: base …中 … part … rate%."""
    seen: set[str] = set()
    for f in view.figures:
        place = view.place(f)
        if place is None or place.slot in seen:
            continue
        seen.add(place.slot)  # type: ignore[arg-type]
        group = sorted(view.sentence_of(f), key=lambda g: view.places[g.figure_id].pos)
        for i, base in enumerate(group):
            if base.value is None or base.unit_class in NOT_COUNTS or not of.search(view.after(base)):
                continue
            part = next((g for g in group[i + 1 :] if g.unit_class == base.unit_class), None)
            if part is None or part.value is None:
                continue
            j = group.index(part)
            rate = next((g for g in group[j + 1 :] if g.unit_class == "percent"), None)
            if rate is not None and rate.value is not None:
                yield part, base, rate


def _by_metrics(ctx: AuditContext, view: DocView) -> Iterator[tuple[Figure, Figure, Figure]]:
    """(numerator, denominator, rate) for a rate that ``rates.definitions`` lists, when its sentence
    holds exactly one figure of each before it (two, in order, when both are of one metric)."""
    defs = {d.rate: d for d in ctx.rules.rates.definitions}
    for rate in view.figures:
        d = defs.get(rate.metric)
        if d is None or rate.value is None or view.place(rate) is None:
            continue
        pos = view.places[rate.figure_id].pos
        earlier = sorted(
            (
                g
                for g in view.sentence_of(rate)
                if view.places[g.figure_id].pos < pos and g.status == rate.status and g.value is not None
            ),
            key=lambda g: view.places[g.figure_id].pos,
        )
        nums = [g for g in earlier if g.metric in d.numerator]
        dens = [g for g in earlier if g.metric in d.denominator]
        if set(d.numerator) == set(d.denominator):
            if len(nums) == 2:
                yield nums[1], nums[0], rate
        elif len(nums) == 1 and len(dens) == 1:
            yield nums[0], dens[0], rate


def recomputed(ctx: AuditContext) -> Iterator[Finding]:
    """rates.recomputed: a stated rate within rounding of the rate its counts give."""
    of = regex.compile(ctx.rules.rates.of_pattern)
    for view in ctx.views.values():
        done: set[str] = set()
        for num, den, rate in [*_of_shape(ctx, view, of), *_by_metrics(ctx, view)]:
            if rate.figure_id in done:
                continue
            done.add(rate.figure_id)
            finding = _check(ctx, view, num, den, rate)
            if finding is not None:
                yield finding
