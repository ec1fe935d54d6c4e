"""Load ``rules/audit.yaml`` once: safe YAML → ``AuditRules``; a bad file fails here, naming file and rule."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from extract.resources import Traversable, rules_path
from schemas.audit_rules import AuditRules

AUDIT_RULES_FILE = "audit.yaml"


class AuditRulesError(Exception):
    """``audit.yaml`` is missing, not YAML, or does not match its model."""


class UnknownAuditRule(AuditRulesError):
    """A rule id in ``audit.yaml`` has no check in code, or a check has no entry in ``audit.yaml``."""


class UnknownAuditMetric(AuditRulesError):
    """``audit.yaml`` names a metric id that the taxonomy does not define."""


def load_audit_rules(path: Path | Traversable | None = None) -> AuditRules:
    """The audit rules from ``path`` (default: the packaged ``audit.yaml``)."""
    source = path if path is not None else rules_path(AUDIT_RULES_FILE)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AuditRulesError(f"{source}: missing audit rules file") from exc
    except yaml.YAMLError as exc:
        raise AuditRulesError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return AuditRules.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            rule = f" (rule {loc[1]})" if len(loc) > 1 and loc[0] == "rules" else ""
            lines.append(f"{source}: {'.'.join(loc)}{rule}: {err['msg']}")
        raise AuditRulesError("\n".join(lines)) from exc


@lru_cache(maxsize=1)
def default_audit_rules() -> AuditRules:
    return load_audit_rules()


def metric_ids(rules: AuditRules) -> set[str]:
    """Every metric id the audit rules name (to check against the taxonomy)."""
    r = rules.records
    ids = {
        *r.contract_covers,
        *r.membership,
        *r.assistance,
        *r.activities,
        *r.elections,
        *r.candidate_votes,
        *r.funds_metrics,
        *r.funds_income_items,
        *(k.metric for k in r.contract_kinds),
    }
    for d in rules.rates.definitions:
        ids.update([d.rate, *d.numerator, *d.denominator])
    for child, parents in rules.parents.items():
        ids.update([child, *parents])
    for pair in rules.part_pairs:
        ids.update([pair.part, pair.whole])
    ids.update(rules.vague_metrics)
    return ids


def check_metric_ids(rules: AuditRules, known: set[str]) -> None:
    """Raise when ``audit.yaml`` names a metric that is not in ``known`` (the taxonomy's ids)."""
    unknown = sorted(metric_ids(rules) - known)
    if unknown:
        raise UnknownAuditMetric(f"{AUDIT_RULES_FILE}: metric ids not in the taxonomy: {unknown}")
