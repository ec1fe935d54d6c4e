"""Money: income − expenditure = balance, and sub-items against their totals, per funds record."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from extract.audit.context import AuditContext
from extract.records import Built
from schemas.figures import Figure
from schemas.findings import Finding


def _known(f: Figure | None) -> bool:
    return f is not None and f.value is not None and not f.approx


def _balance_kind(ctx: AuditContext, built: Built, f: Figure) -> str:
    view = ctx.views[built.draft.doc_id]
    before = view.label(f)
    if any(c in before for c in ctx.rules.records.surplus_cues):
        return "surplus"
    if any(c in before for c in ctx.rules.records.closing_cues):
        return "closing"
    return "plain"


def _options(
    kind: str, income: Figure | None, spent: Figure | None, prior: Figure | None, surplus: Figure | None
) -> list[tuple[str, list[Figure], Decimal]]:
    """The ways a balance of ``kind`` can be computed from what the record states."""
    out: list[tuple[str, list[Figure], Decimal]] = []
    both = income is not None and spent is not None
    if kind in ("surplus", "plain") and both:
        assert income is not None and spent is not None and income.value is not None and spent.value is not None
        out.append(("surplus", [income, spent], income.value - spent.value))
    if kind in ("closing", "plain") and prior is not None:
        assert prior.value is not None
        if both:
            assert income is not None and spent is not None and income.value is not None
            assert spent.value is not None
            out.append(("closing", [prior, income, spent], prior.value + income.value - spent.value))
        if surplus is not None:
            assert surplus.value is not None
            out.append(("closing", [prior, surplus], prior.value + surplus.value))
    return out


def balance(ctx: AuditContext) -> Iterator[Finding]:
    """funds.balance: income − expenditure = the year's balance (本年结余).

    With a prior balance (上年结余) stated, the closing balance (滚存结余) = prior + income −
    expenditure, or prior + the year's balance. A balance not marked either way may be either.
    """
    for built in ctx.records.of("funds"):
        income, spent, prior = (
            f if _known(f := built.fields.get(name)) else None for name in ("income", "expenditure", "prior_balance")
        )
        stated_all = [f for f in built.items.get("balances", []) if _known(f)]
        kinds = {f.figure_id: _balance_kind(ctx, built, f) for f in stated_all}
        surplus = next((f for f in stated_all if kinds[f.figure_id] == "surplus"), None)
        for stated in stated_all:
            assert stated.value is not None
            kind = kinds[stated.figure_id]
            options = _options(kind, income, spent, prior, surplus if stated is not surplus else None)
            if not options:
                continue
            if any(abs(value - stated.value) <= ctx.tolerance([*figs, stated]) for _, figs, value in options):
                continue
            show = ctx.shower([g for _, figs, _ in options for g in figs] + [stated], [v for _, _, v in options])
            lines = []
            for _, figs, value in options:
                terms = show(figs[0].value) + "".join(
                    f" − {show(g.value)}" if g.metric == "funds.expenditure" else f" + {show(g.value)}"
                    for g in figs[1:]
                )
                lines.append(f"{terms} = {show(value)} ≠ {show(stated.value)}")
            side = options[0][0]
            zh, en = ctx.label(side)
            figures = list({g.figure_id: g for _, figs, _ in options for g in figs}.values())
            yield ctx.finding(
                "funds.balance",
                built.draft.doc_id,
                [*figures, stated],
                "; ".join(lines),
                record_id=built.record_id,
                side_zh=zh,
                side_en=en,
            )


def subitems(ctx: AuditContext) -> Iterator[Finding]:
    """funds.subitems: stated sub-items ≤ their total.

    When the list holds a remainder item (其他收入) the items must add up to the total exactly.
    """
    for built in ctx.records.of("funds"):
        view = ctx.views[built.draft.doc_id]
        for side in ("income", "expenditure"):
            total = built.fields.get(side)
            items = built.draft.top_items(f"{side}_items")
            if not _known(total) or not items or not all(_known(f) for f in items):
                continue
            assert total is not None and total.value is not None
            s = sum((f.value for f in items if f.value is not None), Decimal(0))
            room = ctx.tolerance([*items, total])
            remainder = any(any(c in view.label(f) for c in ctx.rules.records.remainder_cues) for f in items)
            show = ctx.shower([*items, total], [s])
            terms = " + ".join(show(f.value) for f in items)
            if s > total.value + room:
                arithmetic = f"{terms} = {show(s)} > {show(total.value)}"
            elif remainder and abs(s - total.value) > room:
                arithmetic = f"{terms} = {show(s)} ≠ {show(total.value)}"
            else:
                continue
            zh, en = ctx.label(side)
            yield ctx.finding(
                "funds.subitems",
                built.draft.doc_id,
                [*items, total],
                arithmetic,
                record_id=built.record_id,
                side_zh=zh,
                side_en=en,
                total=total.surface,
            )
