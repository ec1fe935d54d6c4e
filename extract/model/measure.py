"""Out-of-fold measurement: what the hybrid does on documents its model has not seen.

The training gold is split by file into folds; for each fold a model is trained on the other
files and asked about every figure the rules extract from the fold's files. Those answers,
scored against the fold's gold, choose the ``HybridPolicy`` thresholds shipped with the model:
no threshold is ever set on the seed or on ``heldout/``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from extract.evaluate import score
from extract.figures.extractor import RuleExtractor
from extract.figures.hybrid import NEVER, Answer, HybridPolicy, ModelExtractor
from extract.ingest import read_path
from extract.model.dataset import Dataset, read_gold, text_for
from extract.model.predict import FigureModel
from extract.rules import RuleSet
from extract.text.documents import DocumentPreparer

log = logging.getLogger(__name__)

# The thresholds tried; NEVER switches a step off. The rule-confidence cut-offs sit between the
# confidences the rules give (0.95 less 0.02 per character between cue and number, less 0.2
# without a measure word). They stop at 0.9: every figure opened to the model costs its context's
# segmenting and classifying, and below 0.9 already opens about 38 % of the figures, near the
# hybrid's time budget (30 % over the rules, bench/MODEL.md).
FALLBACK_MIN = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, NEVER)
RULE_CONFIDENCE_BELOW = (0.0, 0.6, 0.7, 0.8, 0.85, 0.9)
OVERRIDE_MIN = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, NEVER)
# The hybrid leaves status to the rules: out of fold the model's status added next to nothing to
# full F1 (bench/MODEL.md), for a second classifier pass that costs a third more time per open
# figure. (``--extractor model`` still uses it.)
STATUS_MIN = (NEVER,)


def answers_for(
    gold_files: Iterable[Path], rules: RuleSet, model: FigureModel
) -> tuple[list[Answer], list[dict[str, Any]]]:
    """The model's answers for every figure the rules find in the files, and the files' gold."""
    rule_extractor = RuleExtractor(rules)
    extractor = ModelExtractor(rules, model, hybrid=True, rule_extractor=rule_extractor)
    preparer = DocumentPreparer(rules)
    answers: list[Answer] = []
    gold: list[dict[str, Any]] = []
    for gold_file in gold_files:
        txt = text_for(gold_file)
        for raw in read_path(txt).documents:
            for doc in preparer(raw, stem=txt.stem):
                answers.extend(extractor.answers(doc, rule_extractor(doc)))
        gold.extend(read_gold(gold_file))
    return answers, gold


def hybrid_rows(answers: Sequence[Answer], policy: HybridPolicy) -> list[dict[str, Any]]:
    """The figure rows the hybrid would write under ``policy`` (enough columns to score them)."""
    rows = []
    for a in answers:
        f = a.figure
        metric, status = f.metric, f.status
        if a.metric is not None and policy.metric_open(f) and policy.takes_metric(f, a.metric):
            metric = a.metric.label
        if a.status is not None and policy.metric_open(f) and policy.takes_status(f, a.status, a.status_cue):
            status = a.status.label
        rows.append({"doc_id": f.doc_id, "value": f.value, "unit": f.unit, "metric": metric, "status": status})
    return rows


def _f1(gold: list[dict[str, Any]], rows: list[dict[str, Any]], level: str) -> float:
    return float(score(gold, rows)[level]["f1"])


def choose_policy(answers: Sequence[Answer], gold: list[dict[str, Any]]) -> tuple[HybridPolicy, dict[str, Any]]:
    """The thresholds with the best F1 (metric steps on metrics F1, then status on full F1).

    Among equal scores the most cautious wins: the fewest figures handed to the model.
    """
    rules_only = HybridPolicy(fallback_min=NEVER, rule_confidence_below=0.0, override_min=NEVER, status_min=NEVER)
    best: tuple[float, tuple[float, ...], HybridPolicy] | None = None
    for fallback_min in FALLBACK_MIN:
        for below in RULE_CONFIDENCE_BELOW:
            for override_min in OVERRIDE_MIN if below > 0 else (NEVER,):
                policy = replace(
                    rules_only, fallback_min=fallback_min, rule_confidence_below=below, override_min=override_min
                )
                f1 = _f1(gold, hybrid_rows(answers, policy), "metrics")
                caution = (fallback_min, -below, override_min)
                if best is None or (f1, caution) > (best[0], best[1]):
                    best = (f1, caution, policy)
    assert best is not None
    policy = best[2]
    best_full: tuple[float, float, HybridPolicy] | None = None
    if any(a.status is not None for a in answers):
        for status_min in STATUS_MIN:
            candidate = replace(policy, status_min=status_min)
            f1 = _f1(gold, hybrid_rows(answers, candidate), "full")
            if best_full is None or (f1, status_min) > (best_full[0], best_full[1]):
                best_full = (f1, status_min, candidate)
        policy = best_full[2] if best_full else policy
    rules_rows = hybrid_rows(answers, rules_only)
    hybrid = hybrid_rows(answers, policy)
    report = {
        "figures": len(answers),
        "rules": {level: _f1(gold, rules_rows, level) for level in ("metrics", "full")},
        "hybrid": {level: _f1(gold, hybrid, level) for level in ("metrics", "full")},
        "model": {
            "metrics": _f1(
                gold,
                [dict(r, metric=a.metric.label) if a.metric else r for r, a in zip(rules_rows, answers, strict=True)],
                "metrics",
            )
        },
        "policy": asdict(policy),
    }
    return policy, report


def fold_of(index: int, folds: int) -> int:
    return index % folds


def cross_validate(data: Dataset, rules: RuleSet, folds: int, train: Any) -> tuple[list[Answer], list[dict[str, Any]]]:
    """Out-of-fold answers over every training file; ``train(examples)`` returns a pipeline."""
    files = sorted(data.files)
    answers: list[Answer] = []
    gold: list[dict[str, Any]] = []
    for k in range(folds):
        held = [Path(f) for i, f in enumerate(files) if fold_of(i, folds) == k]
        if not held:
            continue
        held_texts = {str(text_for(f)) for f in held}
        nlp = train([e for e in data.examples if e.source not in held_texts])
        with tempfile.TemporaryDirectory() as tmp:
            nlp.to_disk(tmp)
            model = FigureModel.load(tmp)
            fold_answers, fold_gold = answers_for(held, rules, model)
        answers.extend(fold_answers)
        gold.extend(fold_gold)
        log.info("fold %d/%d: %d files, %d figures", k + 1, folds, len(held), len(fold_answers))
    return answers, gold
