"""The audit: figures grouped into typed records, and the checks an auditor would run on them.

``run_audit(documents, figures)`` is the entry point (the store calls it after every run); each
rule is one function in a module of its family (elections, parts, rates, funds, totals,
incomplete, crossdoc), and its severity, messages and cue words are data in ``rules/audit.yaml``.
"""

from extract.audit.rules import AuditRulesError, UnknownAuditRule, load_audit_rules
from extract.audit.run import AUDIT_TABLES, CHECKS, RECORD_TABLES, audit, run_audit

__all__ = [
    "AUDIT_TABLES",
    "CHECKS",
    "RECORD_TABLES",
    "AuditRulesError",
    "UnknownAuditRule",
    "audit",
    "load_audit_rules",
    "run_audit",
]
