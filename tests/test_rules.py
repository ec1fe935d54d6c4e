"""Every rules file loads and validates; ids are unique; references resolve; derived data is current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from extract.build_dict import build_dict
from extract.rules import (
    RULE_MODELS,
    DuplicateRuleId,
    RulesFileError,
    RuleValidationError,
    UnknownMetric,
    UnknownUnit,
    load_rules,
)
from tests.conftest import ROOT, SHARED

RULES = ROOT / "rules"
YAML_FILES = sorted(RULES.rglob("*.yaml"))


def _extra_models() -> dict[str, type]:
    """Rules files owned by other stages, validated by their own models."""
    models: dict[str, type] = {}
    try:
        from extract.ingest import IngestRules

        models["ingest"] = IngestRules
    except ImportError:  # pragma: no cover
        pass
    try:
        from schemas.audit_rules import AuditRules  # type: ignore[import-not-found]

        models["audit"] = AuditRules
    except ImportError:
        pass
    return models


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(RULES)))
def test_rules_file_validates(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    models = {**RULE_MODELS, **_extra_models()}
    assert data.get("kind") in models, f"{path.name}: unknown kind {data.get('kind')!r}"
    models[data["kind"]].model_validate(data)


def test_whole_rule_set_loads(rules) -> None:
    ids = [r.id for r in rules.metric_rules] + [r.id for r in rules.nonfigures.rules]
    assert len(ids) == len(set(ids))
    assert {r.metric for r in rules.metric_rules} <= set(rules.taxonomy.metrics)


def test_taxonomy_matches_the_shared_metric_ids(rules) -> None:
    spec = SHARED / "spec" / "metrics.yaml"
    if not spec.exists():
        pytest.skip("../shared is absent")
    shared_ids = set(yaml.safe_load(spec.read_text(encoding="utf-8"))["metrics"])
    assert set(rules.taxonomy.metrics) == shared_ids


def test_jieba_dictionary_is_current(rules) -> None:
    """rules/jieba_user.dict is generated: regenerate in memory and compare (python -m extract.build_dict)."""
    assert rules.jieba_dict == build_dict(rules)


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_regex_names_file_and_rule(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(root / "lexicons" / "nonfigures.yaml", "patterns: ['第\\s{0,3}", "patterns: ['(第\\s{0,3}")
    with pytest.raises(RuleValidationError) as err:
        load_rules(root)
    assert (
        "nonfigures.yaml" in str(err.value)
        and "ordinal-di" in str(err.value)
        and "bad regex" in str(err.value)
    )


def test_unknown_metric_is_a_named_error(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(root / "patterns" / "cb.yaml", "metric: cb.contracts,", "metric: cb.contract,")
    with pytest.raises(UnknownMetric, match="cb-contracts"):
        load_rules(root)


def test_unknown_unit_is_a_named_error(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(root / "patterns" / "cb.yaml", "units: [份, 个], priority: 1}", "units: [份儿], priority: 1}")
    with pytest.raises(UnknownUnit, match="份儿"):
        load_rules(root)


def test_duplicate_rule_id(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(root / "patterns" / "cb.yaml", "id: cb-contracts,", "id: cb-wage-contracts,")
    with pytest.raises(DuplicateRuleId, match="cb-wage-contracts"):
        load_rules(root)


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(
        root / "patterns" / "cb.yaml",
        "window: 12, units: [份, 个], priority: 1}",
        "windw: 12, units: [份, 个], priority: 1}",
    )
    with pytest.raises(RuleValidationError, match="cb-contracts"):
        load_rules(root)


def test_broken_yaml(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    (root / "units.yaml").write_text("kind: units\nunits: [\n", encoding="utf-8")
    with pytest.raises(RulesFileError, match=r"units\.yaml"):
        load_rules(root)


def test_a_new_metric_cue_needs_no_code(tmp_path: Path) -> None:
    """Adding a cue word is a data change: the extractor picks it up from the rules folder."""
    from extract.pipeline import Pipeline, extract_text

    text = "全年开展心理疏导服务45场次。"
    before = extract_text(text, "d", Pipeline(load_rules()))
    assert [f.metric for f in before] == ["other"]
    root = _copy_rules(tmp_path)
    _edit(root / "patterns" / "culture.yaml", "cues: [文体活动,", "cues: [心理疏导服务, 文体活动,")
    after = extract_text(text, "d", Pipeline(load_rules(root)))
    assert [f.metric for f in after] == ["culture.activities"]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    _edit(
        root / "patterns" / "cb.yaml",
        "window: 12, units: [份, 个], priority: 1}",
        "window: 12, units: [份, 个], window: 3, priority: 1}",
    )
    with pytest.raises(RulesFileError, match="given twice"):
        load_rules(root)
