"""Running totals: base + increase = cumulative (在去年45家的基础上，今年又增加5家，累计50家)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from extract.audit.context import AuditContext
from extract.records import DocView
from schemas.figures import Figure
from schemas.findings import Finding

NOT_COUNTS = ("percent", "")


def _last_cue(text: str, cues: list[str]) -> int:
    """Where the last of ``cues`` ends in ``text`` (-1: none)."""
    return max((text.rfind(c) + len(c) for c in cues if c in text), default=-1)


def _chains(ctx: AuditContext, view: DocView) -> Iterator[tuple[Figure, list[Figure], Figure]]:
    rules = ctx.rules.totals
    seen: set[tuple[str, int]] = set()
    for f in view.figures:
        place = view.place(f)
        if place is None or place.slot in seen:
            continue
        seen.add(place.slot)
        group = sorted(view.sentence_of(f), key=lambda g: view.places[g.figure_id].pos)
        for i, base in enumerate(group):
            if base.unit_class in NOT_COUNTS or base.value is None:
                continue
            if not any(
                c in view.after(base)[: rules.base_window + max(map(len, rules.base_cues))] for c in rules.base_cues
            ):
                continue
            increases: list[Figure] = []
            for g in group[i + 1 :]:
                if g.unit_class != base.unit_class:
                    continue
                before = view.before(g)
                inc, cum = _last_cue(before, rules.increase_cues), _last_cue(before, rules.cumulative_cues)
                if inc < 0 and cum < 0:
                    break
                if inc > cum:
                    increases.append(g)
                    continue
                if increases:
                    yield base, increases, g
                break


def running(ctx: AuditContext) -> Iterator[Finding]:
    """totals.running: a base, the increases after it and the cumulative figure they reach add up."""
    for view in ctx.views.values():
        for base, increases, cumulative in _chains(ctx, view):
            parts = [base, *increases]
            if any(f.value is None or f.approx for f in [*parts, cumulative]):
                continue
            total = sum((f.value for f in parts if f.value is not None), Decimal(0))
            assert cumulative.value is not None
            if abs(total - cumulative.value) <= ctx.tolerance([*parts, cumulative]):
                continue
            show = ctx.shower([*parts, cumulative], [total])
            arithmetic = " + ".join(show(f.value) for f in parts) + f" = {show(total)} ≠ {show(cumulative.value)}"
            yield ctx.finding("totals.running", view.doc_id, [*parts, cumulative], arithmetic)
