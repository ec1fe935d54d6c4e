"""Figure extractors that use the trained model: ``model`` alone, and ``hybrid`` (rules first).

Both take their figures from the rule extractor (the rules find the numbers and reject the
non-figures); they differ in who decides the metric and the status:

- ``model``: the model decides every figure's metric (and status, when it has that component);
- ``hybrid``: the rules decide, and the model decides only where the rules have no metric
  (``rules:fallback``) or only a weak one (confidence below a threshold), and only where the
  model itself is confident.

A figure the model decided says so in its ``extractor`` column (``model:metric``,
``model:status``, ``hybrid:metric`` where it overrode a weak rule) and carries the model's
probability in ``confidence``. The model only ever chooses among metrics whose unit class fits
the figure's unit, so its figures validate like the rules' own.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from extract.figures.extractor import Decision, Extraction, RuleExtractor, _figure_id
from extract.model.context import figure_context
from extract.model.predict import FigureModel
from extract.rules import RuleSet
from extract.text.documents import PreparedDocument
from schemas.figures import Figure

log = logging.getLogger(__name__)

EXTRACTORS = ("rules", "model", "hybrid")
FALLBACK = "rules:fallback"


@dataclass(frozen=True)
class HybridPolicy:
    """When the model's answer replaces the rules' in ``hybrid`` mode.

    The defaults are the values the training command measured out of fold on the training gold
    (``zongjie.json`` in the model folder overrides them): the model is right often enough to
    fill a gap only when it is fairly sure, and a rule is wrong often enough to be overridden
    only when its cue is far from the number or the figure has no measure word.
    """

    # A rules:fallback figure (metric "other") takes the model's metric at this probability.
    fallback_min: float = 0.5
    # A rule's metric at a confidence below this is open to the model ...
    rule_confidence_below: float = 0.8
    # ... which overrides it only at this probability.
    override_min: float = 0.8
    # Status: where the rules found no cue, the model's non-default status at this probability
    # (1.01: never, unless the training measurement showed that it helps).
    status_min: float = 1.01

    @classmethod
    def from_meta(cls, meta: dict[str, object]) -> HybridPolicy:
        values = meta.get("policy") or {}
        assert isinstance(values, dict)
        known = {k: float(v) for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class ModelExtractor:
    """``extractor(doc)`` → the rules' figures with the model's metric (``hybrid=False``: for all)."""

    def __init__(
        self,
        rules: RuleSet,
        model: FigureModel,
        hybrid: bool = True,
        policy: HybridPolicy | None = None,
        rule_extractor: RuleExtractor | None = None,
    ) -> None:
        self.rules = rules
        self.model = model
        self.hybrid = hybrid
        self.name = "hybrid" if hybrid else "model"
        self.policy = policy or HybridPolicy.from_meta(model.meta)
        self.rule_extractor = rule_extractor or RuleExtractor(rules)
        self.validation_context = self.rule_extractor.validation_context
        self.has_status = "status" in model.components
        unit_classes = self.rule_extractor.unit_classes
        labels = set(model.labels("metric"))
        # The metrics each unit may take (a figure without a unit may take any).
        self.allowed: dict[str, frozenset[str]] = {}
        for unit, classes in unit_classes.items():
            fits = {
                m
                for m, spec in rules.taxonomy.metrics.items()
                if m == "other" or {spec.unit_class, *spec.also}.intersection(classes)
            }
            self.allowed[unit] = frozenset(fits & labels) | {"other"}

    def __call__(self, doc: PreparedDocument) -> Extraction:
        extraction = self.rule_extractor(doc)
        figures = extraction.figures
        if not self.hybrid:
            figures = _one_per_span(figures)
        metric_todo = [i for i, f in enumerate(figures) if self._metric_open(f)]
        status_todo = [i for i, f in enumerate(figures) if self.has_status and self._status_open(f)]
        if not metric_todo and not status_todo:
            return extraction
        index = doc.text.index
        text = doc.text.text
        contexts: dict[int, str] = {}
        spans: dict[int, tuple[int, int]] = {}  # in the normalised text, as the decisions have them
        for i in sorted(set(metric_todo) | set(status_todo)):
            f = figures[i]
            start = bisect_left(index, f.start)
            end = bisect_left(index, f.end - 1) + 1
            spans[i] = (start, end)
            contexts[i] = figure_context(text, start, end, f.unit)
        metric_pred = dict(
            zip(
                metric_todo,
                self.model.predict(
                    [contexts[i] for i in metric_todo],
                    "metric",
                    [self.allowed.get(figures[i].unit) for i in metric_todo],
                ),
                strict=True,
            )
        )
        status_pred = dict(
            zip(status_todo, self.model.predict([contexts[i] for i in status_todo], "status"), strict=True)
        )
        out = []
        for i, fig in enumerate(figures):
            update: dict[str, object] = {}
            deciders = []
            m = metric_pred.get(i)
            if m is not None and self._take_metric(fig, m.label, m.confidence):
                update["metric"] = m.label
                update["confidence"] = round(m.confidence, 3)
                deciders.append("hybrid:metric" if self.hybrid and fig.extractor != FALLBACK else "model:metric")
            s = status_pred.get(i)
            if s is not None and self._take_status(fig, s.label, s.confidence):
                update["status"] = s.label
                deciders.append("model:status")
            if update:
                update["extractor"] = "+".join(deciders)
                fig = self._replace(fig, update)
                _note(extraction.decisions, spans[i], update)
            out.append(fig)
        return Extraction(out, extraction.rejected, extraction.decisions)

    def _metric_open(self, fig: Figure) -> bool:
        if not self.hybrid:
            return True
        return fig.extractor == FALLBACK or fig.confidence < self.policy.rule_confidence_below

    def _status_open(self, fig: Figure) -> bool:
        return not self.hybrid or self.policy.status_min <= 1.0

    def _take_metric(self, fig: Figure, label: str, p: float) -> bool:
        if not self.hybrid:
            return True
        if label == fig.metric:
            return False
        if fig.extractor == FALLBACK:
            return label != "other" and p >= self.policy.fallback_min
        return p >= self.policy.override_min

    def _take_status(self, fig: Figure, label: str, p: float) -> bool:
        if not self.hybrid:
            return True
        return label != fig.status and p >= self.policy.status_min

    def _replace(self, fig: Figure, update: dict[str, object]) -> Figure:
        data = fig.model_dump() | update
        data["figure_id"] = _figure_id(fig.doc_id, fig.start, fig.end, str(data["metric"]))
        try:
            return Figure.model_validate(data, context=self.validation_context)
        except ValidationError as exc:  # the unit mask makes this rare; keep the rules' figure
            log.debug("model's %s for %r failed validation: %s", update, fig.surface, exc.errors()[0]["msg"])
            return fig


def _one_per_span(figures: Sequence[Figure]) -> list[Figure]:
    """The model gives one metric per number: the rules' shared-value rows collapse to one."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for f in figures:
        key = (f.doc_id, f.start, f.end)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _note(decisions: list[Decision], span: tuple[int, int], update: dict[str, object]) -> None:
    """Add the model's decision to the figure's ``Decision`` (for ``zongjie explain``)."""
    what = ", ".join(f"{k} {v}" for k, v in update.items() if k in ("metric", "status", "confidence"))
    for d in decisions:
        if d.kept and (d.start, d.end) == span:
            d.reason += f"; {update['extractor']}: {what}"
            break


def model_extractor(rules: RuleSet, name: str, model_path: Path | str | None = None) -> ModelExtractor:
    """The ``model`` or ``hybrid`` extractor with the model at ``model_path`` (default: shipped).

    Raises ``ModelNotFound`` when there is no trained model there.
    """
    if name not in ("model", "hybrid"):
        raise ValueError(f"unknown extractor {name!r}: choose one of {', '.join(EXTRACTORS)}")
    return ModelExtractor(rules, FigureModel.load(model_path), hybrid=name == "hybrid")
