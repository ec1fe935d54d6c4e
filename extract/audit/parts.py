"""Parts and wholes: a 其中 figure and its total, a subset's coverage and the whole's, adopted ≤ proposed."""

from __future__ import annotations

from collections.abc import Iterator

from extract.audit.context import AuditContext
from extract.records import DocView
from schemas.figures import Figure
from schemas.findings import Finding

NOT_COUNTS = ("percent", "")


def _total_of(ctx: AuditContext, view: DocView, part: Figure) -> Figure | None:
    """The nearest figure of ``part``'s metric (or a parent metric) before the 其中 that opens it,
    itself no sub-count, within ``max_part_distance`` characters."""
    metrics = {part.metric, *ctx.rules.parents.get(part.metric, [])}
    place, word = view.place(part), view.subset_word_at(part)
    q = (part.qualifier or "").strip()
    # Only where the extractor marked it (qualifier 其中…) may the total stand in an earlier sentence.
    same_sentence_only = not any(q.startswith(p) for p in ctx.rules.records.subset_prefixes)
    best = None
    for g in view.figures:
        if g.start >= part.start:
            break
        gp = view.place(g)
        in_sentence = place is not None and gp is not None and gp.slot == place.slot
        if in_sentence and gp is not None and gp.pos > word:
            continue  # after the 其中: a sibling, not the total
        if same_sentence_only and not in_sentence:
            continue
        if (
            g.metric in metrics
            and g.value is not None
            and g.status == part.status
            and g.unit_class == part.unit_class
            and not view.is_subset(g)
            and not view.nested(g)
            and part.start - g.end <= ctx.rules.tolerance.max_part_distance
        ):
            best = g
    return best


def qizhong_total(ctx: AuditContext) -> Iterator[Finding]:
    """parts.qizhong_total: a 其中 (of which) figure ≤ the nearest preceding total of its metric."""
    for view in ctx.views.values():
        for part in view.figures:
            if (
                part.value is None
                or part.unit_class in NOT_COUNTS
                or part.metric in ctx.rules.vague_metrics
                or not view.is_subset(part)
            ):
                continue
            if view.place(part) is not None and view.subset_word_at(part) < 0:
                continue  # the qualifier says 其中 but the text does not: the total is not known
            total = _total_of(ctx, view, part)
            if total is None or not ctx.exceeds(part, total):
                continue
            assert total.value is not None
            show = ctx.shower([part, total])
            yield ctx.finding(
                "parts.qizhong_total",
                view.doc_id,
                [part, total],
                f"{show(part.value)} > {show(total.value)}",
                part=part.surface,
                whole=total.surface,
            )


SUBSET_FIELDS = ("count", "enterprises_covered", "workers_covered")


def subset_coverage(ctx: AuditContext) -> Iterator[Finding]:
    """parts.subset_coverage: a contract record of one scope covers no more than the whole's record."""
    built = ctx.records.of("contracts")
    for i, sub in enumerate(built):
        scope, kind = sub.draft.keys["scope"], sub.draft.keys["kind"]
        if scope == "all" or kind is None:
            continue
        whole = next(
            (
                w
                for w in reversed(built[:i])
                if w.draft.doc_id == sub.draft.doc_id
                and w.draft.keys["scope"] == "all"
                and w.draft.keys["kind"] == kind
                and w.draft.status == sub.draft.status
            ),
            None,
        )
        if whole is None:
            continue
        for name in SUBSET_FIELDS:
            part, total = sub.fields.get(name), whole.fields.get(name)
            if part is None or total is None or part.value is None or total.value is None:
                continue
            if not ctx.exceeds(part, total):
                continue
            show = ctx.shower([part, total])
            yield ctx.finding(
                "parts.subset_coverage",
                sub.draft.doc_id,
                [part, total],
                f"{show(part.value)} > {show(total.value)}",
                record_id=sub.record_id,
                part=part.surface,
                whole=total.surface,
                scope=scope,
            )


def adopted_proposed(ctx: AuditContext) -> Iterator[Finding]:
    """parts.adopted_proposed: what was adopted ≤ what was proposed (pairs from ``part_pairs``)."""
    pairs = {p.part: p.whole for p in ctx.rules.part_pairs}
    for view in ctx.views.values():
        for part in view.figures:
            whole_metric = pairs.get(part.metric)
            if whole_metric is None or part.value is None:
                continue
            candidates = [
                g for g in view.figures if g.metric == whole_metric and g.value is not None and g.status == part.status
            ]
            same = [g for g in candidates if view.same_sentence(g, part)]
            before = [
                g
                for g in candidates
                if g.start < part.start and part.start - g.end <= ctx.rules.tolerance.max_part_distance
            ]
            pool = same or before
            if not pool:
                continue
            whole = min(pool, key=lambda g: abs(g.start - part.start))
            if not ctx.exceeds(part, whole):
                continue
            assert whole.value is not None
            show = ctx.shower([part, whole])
            yield ctx.finding(
                "parts.adopted_proposed",
                view.doc_id,
                [part, whole],
                f"{show(part.value)} > {show(whole.value)}",
                part=part.surface,
                whole=whole.surface,
            )
