"""Figure extractors that use the trained model: ``model`` alone, and ``hybrid`` (rules first).

Both take their figures from the rule extractor (the rules find the numbers and reject the
non-figures); they differ in who decides the metric and the status:

- ``model``: the model decides every figure's metric (and status, when it has that component);
- ``hybrid``: the rules decide, and the model decides only where the rules have no metric
  (``rules:fallback``) or only a weak one (confidence below a threshold), and for status only
  on those same figures (their context is segmented already) where the rules found no status
  cue, in each case only where the model itself is confident enough.

A figure the model decided says so in its ``extractor`` column (``model:metric`` where the rules
had none, ``hybrid:metric`` where it overrode a weak rule, ``model:status``) and carries the
model's probability in ``confidence``. The model only ever chooses among metrics whose unit
class fits the figure's unit, so its figures validate like the rules' own.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from extract.figures.extractor import Decision, Extraction, RuleExtractor, _figure_id
from extract.model import dict_hash
from extract.model.context import figure_context
from extract.model.predict import FigureModel, Prediction
from extract.rules import RuleSet
from extract.segment import Segmenter
from extract.text.documents import PreparedDocument
from schemas.figures import Figure

log = logging.getLogger(__name__)

EXTRACTORS = ("rules", "model", "hybrid")
FALLBACK = "rules:fallback"
NEVER = 1.01  # a probability threshold no prediction reaches


@dataclass(frozen=True)
class HybridPolicy:
    """When the model's answer replaces the rules' in ``hybrid`` mode.

    The values in use are those ``zongjie train`` measured out of fold on the training gold and
    wrote to the model's ``zongjie.json`` (the thresholds that gave the best metrics F1 there,
    the most cautious among equals). These defaults apply to a model trained without that
    measurement, and are deliberately cautious: fill a gap only when fairly sure, override no rule.
    """

    # A rules:fallback figure (metric "other") takes the model's metric at this probability.
    fallback_min: float = 0.6
    # A rule's metric at a confidence below this is open to the model (0: never) ...
    rule_confidence_below: float = 0.0
    # ... which overrides it only at this probability.
    override_min: float = NEVER
    # A figure whose status no rule cue decided takes the model's status at this probability.
    status_min: float = NEVER

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> HybridPolicy:
        values = meta.get("policy") or {}
        known = {f.name: float(values[f.name]) for f in fields(cls) if f.name in values}
        return cls(**known)

    def metric_open(self, fig: Figure) -> bool:
        return fig.extractor == FALLBACK or fig.confidence < self.rule_confidence_below

    def takes_metric(self, fig: Figure, answer: Prediction) -> bool:
        if answer.label == fig.metric:
            return False
        if fig.extractor == FALLBACK:
            return answer.label != "other" and answer.confidence >= self.fallback_min
        return fig.confidence < self.rule_confidence_below and answer.confidence >= self.override_min

    def takes_status(self, fig: Figure, answer: Prediction, cue: str | None) -> bool:
        return cue is None and answer.label != fig.status and answer.confidence >= self.status_min


# Not frozen, like Candidate: one is made per number.
@dataclass(slots=True)
class Answer:
    """The model's view of one of the rules' figures."""

    figure: Figure
    span: tuple[int, int]  # in the document's normalised text, as the rules' decisions have it
    metric: Prediction | None
    status: Prediction | None
    status_cue: str | None  # the rules' status cue, if one decided the status


@dataclass(slots=True)
class _Open:
    """A figure open to the model, in a batch of documents' figures."""

    item: int  # which document of the batch
    figure: Figure
    span: tuple[int, int]
    context: str
    metric: bool  # open for its metric
    status: bool  # open for its status


class ModelExtractor:
    """``extractor(doc)`` → the rules' figures with the model's decisions (``hybrid=False``: all)."""

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
        trained_under = model.meta.get("jieba_dict_sha256")
        if trained_under and trained_under != dict_hash(rules.jieba_dict):
            log.warning(
                "the model at %s was trained under another jieba user dictionary: retrain it (make model)", model.path
            )
        labels = set(model.labels("metric"))
        # The metrics each unit may take (a figure without a unit may take any).
        self.allowed: dict[str, frozenset[str]] = {}
        for unit, classes in self.rule_extractor.unit_classes.items():
            fits = {
                m
                for m, spec in rules.taxonomy.metrics.items()
                if m == "other" or {spec.unit_class, *spec.also}.intersection(classes)
            }
            self.allowed[unit] = frozenset(fits & labels) | {"other"}

    def __call__(self, doc: PreparedDocument) -> Extraction:
        return self.decide(doc, self.rule_extractor(doc))

    def first(self, doc: PreparedDocument) -> Extraction:
        return self.rule_extractor(doc)

    def rest(self, staged: Sequence[tuple[PreparedDocument, Extraction]]) -> list[Extraction]:
        return self.decide_many(staged)

    def decide(self, doc: PreparedDocument, extraction: Extraction) -> Extraction:
        """The model's step over the rules' ``extraction`` of ``doc``: all the time it adds to theirs."""
        return self.decide_many([(doc, extraction)])[0]

    def decide_many(self, items: Sequence[tuple[PreparedDocument, Extraction]]) -> list[Extraction]:
        """``decide`` for many documents, with one call of the model per component for them all (a
        call costs ~140 µs however few figures it classifies, and most documents open only a few)."""
        opened = [self._open(extraction) for _, extraction in items]
        answers = self._answers_many([(doc, ex, *o) for (doc, ex), o in zip(items, opened, strict=True)])
        return [
            self._apply(extraction, figures, got)
            for (_, extraction), (figures, _, _), got in zip(items, opened, answers, strict=True)
        ]

    def _open(self, extraction: Extraction) -> tuple[list[Figure], list[bool], list[bool]]:
        """The figures the model looks at, and which of them are open for their metric, their status."""
        if self.hybrid:
            figures = extraction.figures
            metric_open = [self.policy.metric_open(f) for f in figures]
            # status only where the metric is open too: the context is segmented already
            status_open = [is_open and self.has_status and self.policy.status_min < NEVER for is_open in metric_open]
        else:
            figures = _one_per_span(extraction.figures)
            metric_open = [True] * len(figures)
            status_open = [self.has_status] * len(figures)
        return figures, metric_open, status_open

    def _apply(self, extraction: Extraction, figures: list[Figure], answers: list[Answer]) -> Extraction:
        if not answers and figures is extraction.figures:
            return extraction
        by_figure = {id(a.figure): a for a in answers}
        out = []
        for fig in figures:
            answer = by_figure.get(id(fig))
            if answer is None:  # not open to the model
                out.append(fig)
                continue
            update: dict[str, object] = {}
            deciders = []
            if answer.metric is not None and (not self.hybrid or self.policy.takes_metric(fig, answer.metric)):
                update["metric"] = answer.metric.label
                update["confidence"] = round(answer.metric.confidence, 3)
                deciders.append("hybrid:metric" if self.hybrid and fig.extractor != FALLBACK else "model:metric")
            if answer.status is not None and (
                not self.hybrid or self.policy.takes_status(fig, answer.status, answer.status_cue)
            ):
                update["status"] = answer.status.label
                deciders.append("model:status")
            if update:
                update["extractor"] = "+".join(deciders)
                fig = self._replace(fig, update)
                _note(extraction.decisions, answer.span, update)
            out.append(fig)
        return Extraction(out, extraction.rejected, extraction.decisions)

    def answers(
        self,
        doc: PreparedDocument,
        extraction: Extraction,
        figures: Sequence[Figure] | None = None,
        metric_open: Sequence[bool] | None = None,
        status_open: Sequence[bool] | None = None,
    ) -> list[Answer]:
        """The model's answers for the open ``figures`` (default: all the rules' figures, every component)."""
        figures = extraction.figures if figures is None else figures
        metric_open = metric_open if metric_open is not None else [True] * len(figures)
        status_open = status_open if status_open is not None else [self.has_status] * len(figures)
        return self._answers_many([(doc, extraction, figures, metric_open, status_open)])[0]

    def _answers_many(
        self,
        items: Sequence[tuple[PreparedDocument, Extraction, Sequence[Figure], Sequence[bool], Sequence[bool]]],
    ) -> list[list[Answer]]:
        """Each item's answers; only the open figures are classified, in one batch per component."""
        opened: list[_Open] = []
        for k, (doc, _, figures, metric_open, status_open) in enumerate(items):
            index, text = doc.text.index, doc.text.text
            for fig, wants_metric, wants_status in zip(figures, metric_open, status_open, strict=True):
                if wants_metric or wants_status:
                    span = (bisect_left(index, fig.start), bisect_left(index, fig.end - 1) + 1)
                    context = figure_context(text, *span, fig.unit, doc.meta.doc_type, rule_answer(fig))
                    opened.append(_Open(k, fig, span, context, wants_metric, wants_status))
        for_metric = [o for o in opened if o.metric]
        for_status = [o for o in opened if o.status]
        # one call per component with work to do
        metric = (
            self.model.predict(
                [o.context for o in for_metric], "metric", [self.allowed.get(o.figure.unit) for o in for_metric]
            )
            if for_metric
            else []
        )
        status = self.model.predict([o.context for o in for_status], "status") if for_status else []
        by_metric = {id(o): p for o, p in zip(for_metric, metric, strict=True)}
        by_status = {id(o): p for o, p in zip(for_status, status, strict=True)}
        # the rules' status cues, of the documents with a figure open for its status
        cues = {
            k: {(d.start, d.end): d.status_cue for d in items[k][1].decisions if d.kept}
            for k in {o.item for o in for_status}
        }
        out: list[list[Answer]] = [[] for _ in items]
        for o in opened:
            cue = cues[o.item].get(o.span) if o.item in cues else None
            out[o.item].append(Answer(o.figure, o.span, by_metric.get(id(o)), by_status.get(id(o)), cue))
        return out

    def _replace(self, fig: Figure, update: dict[str, object]) -> Figure:
        data = fig.model_dump() | update
        data["figure_id"] = _figure_id(fig.doc_id, fig.start, fig.end, str(data["metric"]))
        try:
            return Figure.model_validate(data, context=self.validation_context)
        except ValidationError as exc:  # the unit mask makes this rare; keep the rules' figure
            log.debug("model's %s for %r failed validation: %s", update, fig.surface, exc.errors()[0]["msg"])
            return fig


def rule_answer(fig: Figure) -> tuple[str | None, float]:
    """What the rules said about a figure, as the model's context shows it: (metric, confidence),
    metric None where no rule matched (``rules:fallback``)."""
    return (None if fig.extractor == FALLBACK else fig.metric, fig.confidence)


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


def model_extractor(
    rules: RuleSet, name: str, model_path: Path | str | None = None, segmenter: Segmenter | None = None
) -> ModelExtractor:
    """The ``model`` or ``hybrid`` extractor with the model at ``model_path`` (default: shipped).

    ``segmenter``: the pipeline's own, shared with the model's tokenizer. Raises ``ModelNotFound``
    when there is no trained model there.
    """
    if name not in ("model", "hybrid"):
        raise ValueError(f"unknown extractor {name!r}: choose one of {', '.join(EXTRACTORS)}")
    return ModelExtractor(rules, FigureModel.load(model_path, segmenter), hybrid=name == "hybrid")
