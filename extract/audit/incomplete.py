"""Incomplete figures: placeholders where a number should be (XXX元), and numbers that lost their unit."""

from __future__ import annotations

from collections.abc import Iterator

from extract.audit.context import AuditContext
from schemas.findings import Finding

PLACEHOLDER_FLAG = "placeholder"
NO_UNIT_FLAG = "no_unit"


def placeholder(ctx: AuditContext) -> Iterator[Finding]:
    """incomplete.placeholder: a figure flagged ``placeholder`` (or with no value) is reported, as info."""
    for view in ctx.views.values():
        for f in view.figures:
            if PLACEHOLDER_FLAG in f.flags or f.value is None:
                yield ctx.finding("incomplete.placeholder", view.doc_id, [f], f"{f.surface} = ?", surface=f.surface)


def no_unit(ctx: AuditContext) -> Iterator[Finding]:
    """incomplete.no_unit: a figure flagged ``no_unit`` is reported, as info."""
    for view in ctx.views.values():
        for f in view.figures:
            if NO_UNIT_FLAG in f.flags:
                yield ctx.finding("incomplete.no_unit", view.doc_id, [f], f"{f.surface.strip()} (?)", surface=f.surface)
