"""Load and check every rules file once, at start: a bad file fails here, never mid-run.

Each file is parsed with ``yaml.safe_load`` and validated by its model in ``schemas.rules``;
references between files (metric ids, units) are checked after all are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from extract.resources import rules_root
from schemas.rules import (
    DocumentRules,
    DomainTerms,
    Furniture,
    MetricRule,
    MetricRules,
    NonFigures,
    Qualifiers,
    Refinement,
    StatusRules,
    Taxonomy,
    Units,
)


class RulesError(Exception):
    """Any problem with the rules data; the message names the file and the rule."""


class RulesFileError(RulesError):
    """A rules file is missing or is not valid YAML."""


class RuleValidationError(RulesError):
    """A rules file does not match its model."""


class DuplicateRuleId(RulesError):
    """Two rules share one id."""


class UnknownMetric(RulesError):
    """A rule names a metric id that the taxonomy does not define."""


class UnknownUnit(RulesError):
    """A rule names a unit that units.yaml does not define."""


# The model of every rules file, by the ``kind`` the file declares (tests check each file).
RULE_MODELS: dict[str, type[BaseModel]] = {
    "taxonomy": Taxonomy,
    "units": Units,
    "metric_rules": MetricRules,
    "nonfigures": NonFigures,
    "status": StatusRules,
    "qualifiers": Qualifiers,
    "furniture": Furniture,
    "documents": DocumentRules,
    "domain_terms": DomainTerms,
}


class UnitMismatch(RulesError):
    """A rule accepts a unit that its metric's unit class cannot have."""


@dataclass(frozen=True)
class RuleSet:
    """Every rules file, validated. Stages receive the parts they need from here."""

    root: str
    taxonomy: Taxonomy
    units: Units
    metric_rules: tuple[MetricRule, ...]
    refinements: tuple[Refinement, ...]
    nonfigures: NonFigures
    status: StatusRules
    qualifiers: Qualifiers
    furniture: Furniture
    documents: DocumentRules
    domain_terms: DomainTerms
    jieba_dict: str


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Traversable) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)


def _load(path: Traversable, model: type[BaseModel]) -> BaseModel:
    try:
        data = read_yaml(path)
    except FileNotFoundError as exc:
        raise RulesFileError(f"{path}: missing rules file") from exc
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err["loc"]
            rule_id = _rule_id_at(data, loc)
            where = ".".join(str(p) for p in loc)
            lines.append(f"{path}: {where}{f' (rule {rule_id})' if rule_id else ''}: {err['msg']}")
        raise RuleValidationError("\n".join(lines)) from exc


def _rule_id_at(data: object, loc: tuple[int | str, ...]) -> str | None:
    """The ``id`` of the innermost mapping on the path to an error, to name the rule."""
    found = None
    node = data
    for part in loc:
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "id" in node:
            found = str(node["id"])
    return found


def load_rules(root: Path | Traversable | None = None) -> RuleSet:
    """Load the whole rule set from ``root`` (default: the packaged rules)."""
    base = root if root is not None else rules_root()
    taxonomy = _load(base / "taxonomy.yaml", Taxonomy)
    units = _load(base / "units.yaml", Units)
    pattern_dir = base / "patterns"
    pattern_files = sorted((p for p in pattern_dir.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    metric_rules: list[MetricRule] = []
    refinements: list[Refinement] = []
    for path in pattern_files:
        loaded = _load(path, MetricRules)
        metric_rules.extend(loaded.rules)  # type: ignore[attr-defined]
        refinements.extend(loaded.refinements)  # type: ignore[attr-defined]
    ruleset = RuleSet(
        root=str(base),
        taxonomy=taxonomy,  # type: ignore[arg-type]
        units=units,  # type: ignore[arg-type]
        metric_rules=tuple(metric_rules),
        refinements=tuple(refinements),
        nonfigures=_load(base / "lexicons" / "nonfigures.yaml", NonFigures),  # type: ignore[arg-type]
        status=_load(base / "lexicons" / "status.yaml", StatusRules),  # type: ignore[arg-type]
        qualifiers=_load(base / "lexicons" / "qualifiers.yaml", Qualifiers),  # type: ignore[arg-type]
        furniture=_load(base / "furniture.yaml", Furniture),  # type: ignore[arg-type]
        documents=_load(base / "documents.yaml", DocumentRules),  # type: ignore[arg-type]
        domain_terms=_load(base / "lexicons" / "domain_terms.yaml", DomainTerms),  # type: ignore[arg-type]
        jieba_dict=(base / "jieba_user.dict").read_text(encoding="utf-8"),
    )
    check_references(ruleset)
    return ruleset


def check_references(rules: RuleSet) -> None:
    """Ids unique across files; every metric and unit a rule names exists."""
    unit_classes = {u.unit: set(u.classes) for u in rules.units.units}
    seen: dict[str, str] = {}
    for rule in [*rules.metric_rules, *rules.refinements, *rules.nonfigures.rules, *rules.furniture.rules]:
        if rule.id in seen:
            raise DuplicateRuleId(f"rule id {rule.id!r} is used twice ({seen[rule.id]} and {type(rule).__name__})")
        seen[rule.id] = type(rule).__name__
    for rule in rules.metric_rules:
        if rule.metric not in rules.taxonomy.metrics:
            raise UnknownMetric(f"patterns: rule {rule.id}: metric {rule.metric!r} is not in taxonomy.yaml")
        metric = rules.taxonomy.metrics[rule.metric]
        accepted = {metric.unit_class, *metric.also}
        for unit in rule.units:
            if unit not in unit_classes:
                raise UnknownUnit(f"patterns: rule {rule.id}: unit {unit!r} is not in units.yaml")
            if rule.metric != "other" and not accepted & unit_classes[unit]:
                raise UnitMismatch(
                    f"patterns: rule {rule.id}: unit {unit!r} cannot measure {rule.metric} "
                    f"(unit class {metric.unit_class}; add it to the metric's `also` in taxonomy.yaml)"
                )
    for ref in rules.refinements:
        for metric_id in (ref.from_metric, ref.to_metric):
            if metric_id not in rules.taxonomy.metrics:
                raise UnknownMetric(f"patterns: refinement {ref.id}: metric {metric_id!r} is not in taxonomy.yaml")
