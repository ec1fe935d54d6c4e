"""Across documents of one organisation: one figure with two values in one year, and this year's
"prior" figure against last year's report.

A figure is matched on (organisation, year, metric, qualifier, unit class). A document that states
two different values for one key is ambiguous and is left out of the comparison.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from extract.audit.context import AuditContext, fmt
from schemas.figures import Figure
from schemas.findings import Finding

Key = tuple[str, int, str, str, str]


def _org_year(ctx: AuditContext, doc_id: str) -> tuple[str, int] | None:
    meta: dict[str, Any] = ctx.documents.get(doc_id, {})
    org, year = meta.get("organisation"), ctx.views[doc_id].period_year if doc_id in ctx.views else None
    if not isinstance(org, str) or not org.strip() or year is None:
        return None
    return org.strip(), year


def _index(ctx: AuditContext, statuses: set[str], year_shift: int = 0) -> dict[Key, dict[str, list[Figure]]]:
    """key → doc_id → the figures of that key in the document."""
    skip = set(ctx.rules.vague_metrics)
    out: dict[Key, dict[str, list[Figure]]] = defaultdict(lambda: defaultdict(list))
    for doc_id, view in ctx.views.items():
        oy = _org_year(ctx, doc_id)
        if oy is None:
            continue
        org, year = oy
        for f in view.figures:
            if f.status in statuses and f.metric not in skip and f.value is not None:
                out[(org, year + year_shift, f.metric, (f.qualifier or "").strip(), f.unit_class)][doc_id].append(f)
    return out


def _single(figures: list[Figure]) -> Figure | None:
    """The one value a document states for a key; None when it states more than one."""
    values = {f.value for f in figures}
    return figures[0] if len(values) == 1 else None


def _differ(ctx: AuditContext, a: Figure, b: Figure) -> bool:
    assert a.value is not None and b.value is not None
    room = ctx.tolerance([a, b]) + ctx.slack(a) + ctx.slack(b)
    return abs(a.value - b.value) > room


def same_year(ctx: AuditContext) -> Iterator[Finding]:
    """cross.same_year: two documents of one organisation give one figure of one year two values."""
    index = _index(ctx, set(ctx.rules.cross.statuses))
    for (org, year, _metric, _q, _u), docs in index.items():
        if len(docs) < 2:
            continue
        singles = [(doc, f) for doc in sorted(docs) if (f := _single(docs[doc])) is not None]
        if len(singles) < 2:
            continue
        first_doc, first = singles[0]
        for doc, f in singles[1:]:
            if not _differ(ctx, f, first):
                continue
            assert f.value is not None and first.value is not None
            yield ctx.finding(
                "cross.same_year",
                doc,
                [f, first],
                f"{fmt(f.value)} ≠ {fmt(first.value)}",
                org=org,
                year=str(year),
                other_doc=first_doc,
                value=f.surface,
                other_value=first.surface,
            )


def prior_actual(ctx: AuditContext) -> Iterator[Finding]:
    """cross.prior_actual: this year's prior figure = last year's actual of the same organisation."""
    priors = _index(ctx, {"prior"}, year_shift=-1)
    actuals = _index(ctx, {"actual"})
    for key, docs in priors.items():
        last_year = actuals.get(key)
        if not last_year:
            continue
        reported = [(doc, f) for doc in sorted(last_year) if (f := _single(last_year[doc])) is not None]
        if len({f.value for _, f in reported}) != 1:
            continue
        actual_doc, actual = reported[0]
        org, year = key[0], key[1]
        for doc in sorted(docs):
            f = _single(docs[doc])
            if f is None or doc == actual_doc or not _differ(ctx, f, actual):
                continue
            assert f.value is not None and actual.value is not None
            yield ctx.finding(
                "cross.prior_actual",
                doc,
                [f, actual],
                f"{fmt(f.value)} ≠ {fmt(actual.value)}",
                org=org,
                year=str(year + 1),
                prior_year=str(year),
                other_doc=actual_doc,
                value=f.surface,
                other_value=actual.surface,
            )
