"""The rule extractor: candidates → non-figure rejection → metric, status, qualifier → Figure."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import regex
from pydantic import ValidationError

from extract.figures.candidates import Candidate, CandidateFinder
from extract.figures.cells import cell_unit, column_year, not_a_cell_figure, table_cell, table_context
from extract.figures.metric import MetricAssigner, MetricMatch
from extract.figures.nonfigures import NonFigureFinder, SpanIndex
from extract.figures.status import StatusAssigner, StatusDecision
from extract.numbers import normal_decimal
from extract.patterns import compile_short, phrases, words
from extract.rules import RuleSet
from extract.text.bounds import back_to, forward_to, sentence_span
from extract.text.documents import PreparedDocument
from schemas.figures import Figure, Rejected

SENTENCE_BREAKS = "。;；!！?？\n"
CLAUSE_BREAKS = SENTENCE_BREAKS + ",，:：、"
# where a sentence longer than the bounds' reach is cut instead: a clause, or a table's cell
LONG_SENTENCE_BREAKS = CLAUSE_BREAKS + " \t|\u3000"
_CLAUSE_NOT_LIST = CLAUSE_BREAKS.replace("、", "")  # a clause, whose list items (、) stay in it
# A number with no measure word is kept only where it stands apart (space, punctuation, line end):
# glued to a word it is a code or a name (4050就业, 329国道).
_BARE_FOLLOW = compile_short(r"(?:[ \u00a0\t]|[,，。;；、)）]|$)", re.MULTILINE)
_HAN_BEFORE = regex.compile(r"\p{Han}\s?$")
# Unit classes of things counted whole: a fraction of one is flagged.
_COUNTED = frozenset({"person", "org", "document", "item", "event", "case", "household", "vote", "person_time"})


@dataclass
class Decision:
    """What happened to one candidate, for ``zongjie explain`` and for debugging rules."""

    surface: str
    start: int
    end: int
    kept: bool
    reason: str
    metric_matches: list[MetricMatch] = field(default_factory=list)
    status_cue: str | None = None


@dataclass(slots=True)
class _Place:
    """A number past the non-figure checks: its sentence, status, and the metric rules that claim it
    (``chosen``: the statistics it is a figure of, None for no rule)."""

    cand: Candidate
    sent_start: int
    sent_end: int
    status: StatusDecision
    table: tuple[str, str, int, int] | None
    matches: list[MetricMatch]
    chosen: Sequence[MetricMatch | None]


@dataclass
class Extraction:
    figures: list[Figure]
    rejected: list[Rejected]
    decisions: list[Decision]


class Extractor(Protocol):
    """What the pipeline runs on each prepared document: ``extractor(doc)``, or in two stages,
    ``first`` one document at a time, then ``rest`` over the results of many documents at once
    (where a model classifies their figures in one batch)."""

    name: str

    def __call__(self, doc: PreparedDocument) -> Extraction: ...

    def first(self, doc: PreparedDocument) -> Extraction: ...

    def rest(self, staged: Sequence[tuple[PreparedDocument, Extraction]]) -> list[Extraction]: ...


class RuleExtractor:
    """Holds the compiled figure rules; ``extractor(doc)`` extracts the figures of one document."""

    name = "rules"

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.finder = CandidateFinder(rules.units)
        self.nonfigures = NonFigureFinder(rules.nonfigures)
        self.metrics = MetricAssigner(rules.metric_rules, rules.taxonomy)
        self.status = StatusAssigner(rules.status)
        self.unit_classes = {u.unit: tuple(u.classes) for u in rules.units.units}
        self.validation_context = {"taxonomy": rules.taxonomy, "unit_classes": self.unit_classes}
        q = rules.qualifiers
        self.candidate_marker = regex.compile(q.candidate_marker, regex.MULTILINE)
        self.subset = words(q.subset_words)
        self.scope = phrases(q.scope_words)
        self.shared_value = words(q.shared_value_words)
        self.respectively = words(q.respectively_words)
        self.placeholder = self.finder.placeholder
        self.refinements = [(r.id, r.from_metric, r.to_metric, phrases(r.cues)) for r in rules.refinements]
        self.narrowing = {(r.from_metric, r.to_metric) for r in rules.refinements}

    def __call__(self, doc: PreparedDocument) -> Extraction:
        text = doc.text.text
        blocked = self.nonfigures.spans(text)
        sections = self.status.plan_sections(text)
        default_status = "plan" if doc.meta.doc_type == "plan" else "actual"
        candidates = self.finder(text)
        spans = tuple((c.start, c.end) for c in candidates)
        # One kind of work at a time over all of a document's numbers (place and score them, then
        # decide, then validate): interleaved, each step's code and data left the CPU's caches
        # between numbers, and validating a figure took twice as long (README, Performance).
        steps = [self._place(text, cand, blocked, spans, sections, default_status) for cand in candidates]
        out = self._decide(doc, steps, one_by_one=False) or self._decide(doc, steps, one_by_one=True)
        assert out is not None  # decided one by one, no figure is left for the end to reject
        return out

    def _place(
        self,
        text: str,
        cand: Candidate,
        blocked: SpanIndex,
        spans: tuple[tuple[int, int], ...],
        sections: list[tuple[int, int, str]],
        default_status: str,
    ) -> Decision | _Place:
        """Why ``cand`` is no figure, or its sentence, status and the metric rules that claim it."""
        span = blocked.at(cand.num_start)
        reason = None
        if cand.time:
            reason = f"date or period (unit {cand.unit})"
        elif span is not None:
            reason = f"{span.reason} ({span.rule_id}: {text[span.start : span.end]!r})"
        elif cand.bare and not self._bare_ok(text, cand):
            reason = "number without a measure word, glued to a word (a code or name)"
        elif cand.bare:
            reason = not_a_cell_figure(text, cand)
        if reason:
            return Decision(text[cand.start : cand.end], cand.start, cand.end, False, reason)
        sent_start, sent_end = sentence_span(text, cand.start, cand.end, SENTENCE_BREAKS, LONG_SENTENCE_BREAKS)
        status = self.status(text, cand.start, cand.end, sections, default_status)
        table = table_context(text, cand)
        if table is not None:
            return _Place(cand, sent_start, sent_end, status, table, [], [])
        matches = self.metrics.matches(cand, text, sent_start, sent_end, spans)
        chosen = self._respectively(text, cand, sent_start, spans) or (
            self._shared(matches, text, cand) if matches else []
        )
        return _Place(cand, sent_start, sent_end, status, None, matches, chosen or [matches[0] if matches else None])

    def _decide(
        self,
        doc: PreparedDocument,
        steps: list[Decision | _Place],
        one_by_one: bool,
    ) -> Extraction | None:
        """The figures of the numbers placed. A 其中 sub-count looks at the last figure of its
        sentence, so a figure failing validation changes what follows it: validated all at the
        end (``one_by_one=False``), any failure gives None, and the caller decides one by one."""
        out = Extraction([], [], [])
        previous: dict[int, tuple[str, str]] = {}  # the (metric, unit) of the last figure kept in each sentence
        drafts: list[tuple[dict[str, Any], Decision, Figure | None]] = []  # with the figure, if validated
        for step in steps:
            if isinstance(step, Decision):
                out.decisions.append(step)
                continue
            for fields, decision in self._figures(doc, step, previous.get(step.sent_start)):
                out.decisions.append(decision)
                record = self._validate(doc, fields, decision) if one_by_one else None
                if isinstance(record, Rejected):
                    out.rejected.append(record)
                    continue
                drafts.append((fields, decision, record))
                previous[step.sent_start] = (fields["metric"], fields["unit"])
        for fields, decision, figure in drafts:
            record = figure or self._validate(doc, fields, decision)
            if isinstance(record, Rejected):
                return None
            out.figures.append(record)
        return out

    def first(self, doc: PreparedDocument) -> Extraction:
        return self(doc)

    def rest(self, staged: Sequence[tuple[PreparedDocument, Extraction]]) -> list[Extraction]:
        return [extraction for _, extraction in staged]  # the rules decide everything in ``first``

    def _bare_ok(self, text: str, cand: Candidate) -> bool:
        if cand.value is None:
            return False
        if table_cell(text, cand) is not None:
            return True
        return bool(_BARE_FOLLOW.match(text, cand.end)) and bool(_HAN_BEFORE.search(text, 0, cand.start))

    def _figures(
        self,
        doc: PreparedDocument,
        place: _Place,
        parent: tuple[str, str] | None,
    ) -> list[tuple[dict[str, Any], Decision]]:
        text = doc.text.text
        cand, sent_start, matches = place.cand, place.sent_start, place.matches
        if place.table is not None:
            return self._table_figures(doc, cand, place.table, place.status)
        status = place.status
        results = []
        clause_start = back_to(text, cand.start, _CLAUSE_NOT_LIST)
        for match in place.chosen:
            metric = match.metric if match else "other"
            extractor = f"rules:{match.rule_id}" if match else "rules:fallback"
            inherited = self._inherit(text, clause_start, cand, metric if match else None, parent)
            if inherited:
                metric, extractor = inherited, f"{extractor}+subset-of-parent"
            refined = self._refine(
                text, min(clause_start, match.cue_start) if match else clause_start, cand.start, metric
            )
            if refined:
                metric, extractor = refined[1], f"{extractor}+{refined[0]}"
            results.append(
                self._build(
                    doc,
                    cand,
                    match,
                    matches,
                    metric,
                    extractor,
                    status,
                    qualifier=self._qualifier(text, cand, sent_start, clause_start, match),
                    subject=_subject(text, sent_start, cand, match),
                    sentence_span=(sent_start, place.sent_end),
                )
            )
        return results

    def _table_figures(
        self,
        doc: PreparedDocument,
        cand: Candidate,
        table: tuple[str, str, int, int],
        status: StatusDecision,
    ) -> list[tuple[dict[str, Any], Decision]]:
        """A number in a table cell: its column header and row label stand in for the sentence."""
        header, row_label, line_start, line_end = table
        text = doc.text.text
        if cand.bare and cand.value is not None and cand.start > line_start and text[cand.start - 1] in "-−":
            # a signed cell (比上年增减 -9.91): the sign is the figure's
            cand = replace(cand, start=cand.start - 1, value=-cand.value)
        if cand.bare and cand.value is not None:  # a bare cell takes its table's unit: (万人), 单位：元
            found = cell_unit(self.finder, text, cand, line_start, line_end, header)
            if found is not None:
                multiplier, unit, classes = found
                cand = replace(cand, value=normal_decimal(cand.value * multiplier), unit=unit, unit_classes=classes)
        if status.status == "actual":  # a column of an earlier year than the table's latest: a baseline
            years = column_year(text, cand, line_start, line_end)
            if years is not None and years[0] < years[1]:
                status = StatusDecision("prior", f"column {years[0]} (latest {years[1]})")
        context = f"{row_label}，{header}"
        shifted = replace(
            cand,
            start=len(context),
            end=len(context) + cand.end - cand.start,
            num_start=len(context),
            num_end=len(context) + cand.num_end - cand.num_start,
        )
        synthetic = context + text[cand.start : cand.end]
        matches = self.metrics.matches(shifted, synthetic, 0, len(synthetic))
        match = matches[0] if matches else None
        metric = match.metric if match else "other"
        extractor = f"rules:{match.rule_id}+table-header" if match else "rules:fallback"
        return [
            self._build(
                doc,
                cand,
                None,
                matches,
                metric,
                extractor,
                status,
                qualifier=row_label or None,
                subject=header or None,
                sentence_span=(line_start, line_end),
                confidence_from=match,
            )
        ]

    def _build(
        self,
        doc: PreparedDocument,
        cand: Candidate,
        match: MetricMatch | None,
        matches: list[MetricMatch],
        metric: str,
        extractor: str,
        status: StatusDecision,
        qualifier: str | None,
        subject: str | None,
        sentence_span: tuple[int, int],
        confidence_from: MetricMatch | None = None,
    ) -> tuple[dict[str, Any], Decision]:
        """One figure's fields, not validated yet, and its decision."""
        text = doc.text.text
        ostart, oend = doc.text.span(cand.start, cand.end)
        candidate = {
            "figure_id": _figure_id(doc.meta.doc_id, ostart, oend, metric),
            "doc_id": doc.meta.doc_id,
            "start": ostart,
            "end": oend,
            "surface": doc.original[ostart:oend],
            "value": cand.value,
            "unit": cand.unit,
            "unit_class": cand.unit_classes[0] if cand.unit_classes else "",
            "metric": metric,
            "status": status.status,
            "approx": cand.approx,
            "value_max": cand.value_max,
            "qualifier": qualifier,
            "subject": subject,
            "sentence": doc.original[slice(*doc.text.span(*sentence_span))].strip(),
            "extractor": extractor,
            "confidence": _confidence(confidence_from or match, cand),
            "flags": self._flags(cand, metric),
        }
        decision = Decision(
            text[cand.start : cand.end],
            cand.start,
            cand.end,
            True,
            f"kept as {metric} ({status.status})",
            matches,
            status.cue,
        )
        return candidate, decision

    def _validate(self, doc: PreparedDocument, fields: dict[str, Any], decision: Decision) -> Figure | Rejected:
        """The figure of ``fields``; a failure goes to the rejected table with its errors."""
        try:
            return Figure.model_validate(fields, context=self.validation_context)
        except ValidationError as exc:
            decision.kept = False
            decision.reason = f"failed validation: {exc.errors()[0]['msg']}"
            return Rejected(
                doc_id=doc.meta.doc_id,
                start=fields["start"],
                end=fields["end"],
                surface=fields["surface"],
                candidate=_plain(fields),
                errors=str(exc.errors(include_url=False)),
            )

    def _inherit(
        self, text: str, clause_start: int, cand: Candidate, own: str | None, parent: tuple[str, str] | None
    ) -> str | None:
        """A 其中 sub-count takes its parent's metric (``parent``: the metric and unit of the figure
        before it) when it counts the same kind of thing: it has no metric of its own, or the
        general metric its parent's narrows (会员 under 新发展会员), and a unit of the parent's class."""
        if parent is None:
            return None
        parent_metric, parent_unit = parent
        if parent_metric == "other" or own == parent_metric:
            return None
        while clause_start < cand.start and text[clause_start].isspace():
            clause_start += 1
        if not self.subset.match(text, clause_start):
            return None
        if not set(cand.unit_classes) & set(self.unit_classes.get(parent_unit, ())):
            return None
        if own is None or (own, parent_metric) in self.narrowing:
            return parent_metric
        return None

    def _refine(self, text: str, start: int, end: int, metric: str) -> tuple[str, str] | None:
        for rule_id, source, target, cues in self.refinements:
            if metric == source and cues.search(text, start, end):
                return rule_id, target
        return None

    def _respectively(
        self, text: str, cand: Candidate, sent_start: int, spans: tuple[tuple[int, int], ...]
    ) -> list[MetricMatch]:
        """A和B分别为X、Y: the k-th number after 分别 takes the k-th statistic named before it."""
        if self.respectively.search(text, sent_start, cand.start) is None:  # the common case, told cheaply
            return []
        last_start, last_end = [hit.span() for hit in self.respectively.finditer(text[sent_start : cand.start])][-1]
        word_start, word_end = sent_start + last_start, sent_start + last_end
        k = bisect.bisect_left(spans, (cand.start,)) - bisect.bisect_left(spans, (word_end,))
        clause_start = back_to(text, word_start, SENTENCE_BREAKS + ";；")
        named = self.metrics.cues_in(cand, text, clause_start, word_start)
        return [named[k]] if len(named) >= 2 and k < len(named) else []

    def _shared(self, matches: list[MetricMatch], text: str, cand: Candidate) -> list[MetricMatch]:
        """One number stated for several statistics ("建会率和入会率均达95%"): one row per statistic."""
        best = matches[0]
        between = text[best.cue_end : cand.start] if best.cue_end <= cand.start else text[cand.end : best.cue_start]
        if not self.shared_value.search(between):
            return []
        seen = {best.metric}
        chosen = [best]
        clause_start = back_to(text, cand.start, _CLAUSE_NOT_LIST)
        after = best.cue_start >= cand.end
        clause_end = forward_to(text, cand.end, SENTENCE_BREAKS)
        for m in matches[1:]:
            same_side = (
                (cand.end <= m.cue_start < clause_end)
                if after
                else (m.cue_start >= clause_start and m.cue_end <= cand.start)
            )
            if m.metric not in seen and same_side:
                seen.add(m.metric)
                chosen.append(m)
        return sorted(chosen, key=lambda m: m.cue_start) if len(chosen) > 1 else []

    def _flags(self, cand: Candidate, metric: str) -> tuple[str, ...]:
        flags = []
        if cand.placeholder:
            flags.append("placeholder")
        if not cand.unit:
            flags.append("no_unit")
        if cand.value is not None:
            if (
                not _COUNTED.isdisjoint(cand.unit_classes)
                and "money" not in cand.unit_classes
                and cand.unit != "%"
                and cand.value != cand.value.to_integral_value()
            ):
                flags.append("fractional_count")
            if cand.unit == "%" and cand.value > 100 and metric != "other":
                flags.append("rate_over_100")
        return tuple(flags)

    def _qualifier(
        self, text: str, cand: Candidate, sent_start: int, clause_start: int, match: MetricMatch | None
    ) -> str | None:
        # A qualifier narrows its own clause (and the cue's, when the cue stands earlier).
        scope_start = min(clause_start, match.cue_start) if match else clause_start
        left = text[scope_start : cand.start]
        if match and match.metric.startswith("votes."):
            line_start = text.rfind("\n", 0, cand.start) + 1
            markers = list(self.candidate_marker.finditer(text, line_start, cand.start))
            if markers:
                name = markers[-1].group("name")
                return f"候选人{markers[-1].group('n')}" if self.placeholder.fullmatch(name) else name
        subset = None
        for hit in self.subset.finditer(left):
            subset = hit
        if subset:
            end = (
                (match.cue_start - scope_start) if match and match.cue_start - scope_start > subset.end() else len(left)
            )
            return left[subset.start() : end].strip(" ,，") or None
        scope = self.scope.search(left)
        return scope.group() if scope else None


def _subject(text: str, sent_start: int, cand: Candidate, match: MetricMatch | None) -> str | None:
    """The phrase that says what is counted: the cue's clause up to the number."""
    if match is None:
        clause_start = back_to(text, cand.start, CLAUSE_BREAKS)
        phrase = text[clause_start : cand.start].strip()
        return phrase[-20:] or None
    if match.cue_end <= cand.start:
        return text[match.cue_start : cand.start].strip() or None
    return text[match.cue_start : match.cue_end]


def _confidence(match: MetricMatch | None, cand: Candidate) -> float:
    if match is None:
        base = 0.5
    else:
        base = 0.95 - 0.02 * match.distance
    if not cand.unit:
        base -= 0.2
    return round(max(0.2, min(0.99, base)), 3)


def _figure_id(doc_id: str, start: int, end: int, metric: str) -> str:
    return hashlib.sha1(f"{doc_id}|{start}|{end}|{metric}".encode()).hexdigest()[:16]


def _plain(candidate: dict[str, object]) -> dict[str, object]:
    return {
        k: (str(v) if v is not None and not isinstance(v, (str, int, float, bool, list, tuple)) else v)
        for k, v in candidate.items()
    }
