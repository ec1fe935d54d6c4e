"""``run_audit``: the store's documents and figures in, the record tables and the findings out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from extract.audit import crossdoc, elections, funds, incomplete, parts, rates, totals
from extract.audit.context import AuditContext
from extract.audit.rules import UnknownAuditRule, default_audit_rules
from extract.records import DocView, build_records, figures_from_frame
from schemas.audit_rules import AuditRules
from schemas.findings import FINDING_COLUMNS, SEVERITY_ORDER, Finding

log = logging.getLogger(__name__)

Check = Callable[[AuditContext], Iterator[Finding]]

# One function per rule, in the order they run. When two checks flag the very same figures the
# earlier one is kept, so the more specific checks come first.
CHECKS: dict[str, Check] = {
    "votes.candidate_sum": elections.candidate_sum,
    "ballots.valid_invalid": elections.valid_invalid,
    "ballots.returned_issued": elections.returned_issued,
    "meeting.present_expected": elections.present_expected,
    "election.elected_names": elections.elected_names,
    "funds.balance": funds.balance,
    "funds.subitems": funds.subitems,
    "totals.running": totals.running,
    "rates.recomputed": rates.recomputed,
    "parts.qizhong_total": parts.qizhong_total,
    "parts.adopted_proposed": parts.adopted_proposed,
    "parts.subset_coverage": parts.subset_coverage,
    "incomplete.placeholder": incomplete.placeholder,
    "incomplete.no_unit": incomplete.no_unit,
    "cross.same_year": crossdoc.same_year,
    "cross.prior_actual": crossdoc.prior_actual,
}

RECORD_TABLES = (
    "contracts",
    "membership",
    "funds",
    "assistance",
    "elections",
    "election_candidates",
    "activities",
)
AUDIT_TABLES = (*RECORD_TABLES, "findings", "record_errors")


def check_registry(rules: AuditRules) -> None:
    """Every rule in ``audit.yaml`` has a check, and every check a rule."""
    missing, extra = set(CHECKS) - set(rules.rules), set(rules.rules) - set(CHECKS)
    if missing or extra:
        raise UnknownAuditRule(
            f"audit.yaml and the checks disagree: no entry for {sorted(missing)}, no check for {sorted(extra)}"
        )


def _documents(documents: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if documents is None or documents.empty or "doc_id" not in documents.columns:
        return {}
    return {str(row["doc_id"]): row for row in documents.to_dict("records")}


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, frozenset[str]]] = set()
    out = []
    for f in findings:
        key = (f.doc_id, frozenset(f.figure_ids))
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def audit(
    documents: pd.DataFrame | None,
    figures: pd.DataFrame,
    rules: AuditRules | None = None,
) -> tuple[AuditContext, list[Finding]]:
    """The context (views, records) and the findings, as models."""
    rules = rules or default_audit_rules()
    check_registry(rules)
    figs, figure_errors = figures_from_frame(figures)
    meta = _documents(documents)
    by_doc: dict[str, list[Any]] = {}
    for f in figs:
        by_doc.setdefault(f.doc_id, []).append(f)
    views = {doc_id: DocView(doc_id, doc_figs, rules, meta.get(doc_id)) for doc_id, doc_figs in by_doc.items()}
    records = build_records(views.values(), rules)
    records.errors[:0] = figure_errors
    # by document, its failed figure rows first (a stable sort), as findings are: every table's order then
    # depends only on each document, and an audit run over groups of documents gives the same order
    records.errors.sort(key=lambda e: e.doc_id)
    ctx = AuditContext(rules, views, records, meta)
    findings: list[Finding] = []
    for rule_id, check in CHECKS.items():
        if not rules.rules[rule_id].enabled:
            continue
        try:
            findings.extend(check(ctx))
        except Exception:  # one broken check must not stop the audit of a store
            log.exception("audit check %s failed", rule_id)
    findings = _dedupe(findings)
    findings.sort(key=lambda f: (f.doc_id, SEVERITY_ORDER[f.severity], min(s for s, _ in f.spans), f.rule))
    return ctx, findings


def run_audit(
    documents: pd.DataFrame,
    figures: pd.DataFrame,
    *,
    rules: AuditRules | None = None,
) -> dict[str, pd.DataFrame]:
    """Audit the ``documents`` and ``figures`` tables: one frame per table of ``AUDIT_TABLES``.

    ``contracts`` … ``activities`` hold the typed records (each row naming its figure ids and spans),
    ``findings`` what does not add up, ``record_errors`` the records (or figure rows) that failed
    validation, with the pydantic message.

    >>> import pandas as pd
    >>> out = run_audit(pd.DataFrame(), pd.DataFrame(columns=["figure_id"]))
    >>> sorted(out) == sorted(AUDIT_TABLES), len(out["findings"])
    (True, 0)
    """
    ctx, findings = audit(documents, figures, rules)
    frames = ctx.records.frames()
    frames["findings"] = pd.DataFrame([f.row() for f in findings], columns=list(FINDING_COLUMNS))
    return {name: frames[name] for name in AUDIT_TABLES}
