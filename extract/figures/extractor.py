"""The rule extractor: candidates → non-figure rejection → metric, status, qualifier → Figure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import regex
from pydantic import ValidationError

from extract.figures.candidates import Candidate, CandidateFinder
from extract.figures.metric import MetricAssigner, MetricMatch
from extract.figures.nonfigures import NonFigureFinder
from extract.figures.status import StatusAssigner
from extract.rules import RuleSet
from extract.text.documents import PreparedDocument
from schemas.figures import Figure, Rejected

SENTENCE_BREAKS = "。;；!！?？\n"
CLAUSE_BREAKS = SENTENCE_BREAKS + ",，:：、"
# A number with no measure word is kept only where it stands apart (space, punctuation, line end):
# glued to a word it is a code or a name (4050就业, 329国道).
_BARE_FOLLOW = regex.compile(r"(?:[ \u00a0\t]|[,，。;；、)）]|$)", regex.MULTILINE)
_HAN_BEFORE = regex.compile(r"\p{Han}\s?$")


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


@dataclass
class Extraction:
    figures: list[Figure]
    rejected: list[Rejected]
    decisions: list[Decision]


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
        self.subset = regex.compile("|".join(regex.escape(w) for w in q.subset_words))
        self.scope = regex.compile("|".join(regex.escape(w) for w in sorted(q.scope_words, key=len, reverse=True)))
        self.shared_value = regex.compile("|".join(regex.escape(w) for w in q.shared_value_words))
        self.placeholder = regex.compile("|".join(f"(?:{p})" for p in rules.units.placeholders))
        self.refinements = [(r.id, r.from_metric, r.to_metric, _phrases(r.cues)) for r in rules.refinements]
        self.narrowing = {(r.from_metric, r.to_metric) for r in rules.refinements}

    def __call__(self, doc: PreparedDocument) -> Extraction:
        text = doc.text.text
        blocked = self.nonfigures.spans(text)
        sections = self.status.plan_sections(text)
        default_status = "plan" if doc.meta.doc_type == "plan" else "actual"
        out = Extraction([], [], [])
        previous: dict[int, Figure] = {}  # the last figure kept in each sentence, by sentence start
        for cand in self.finder(text):
            surface_norm = text[cand.start : cand.end]
            span = blocked.at(cand.num_start)
            reason = None
            if cand.time:
                reason = f"date or period (unit {cand.unit})"
            elif span is not None:
                reason = f"{span.reason} ({span.rule_id}: {text[span.start:span.end]!r})"
            elif cand.bare and not self._bare_ok(text, cand):
                reason = "number without a measure word, glued to a word (a code or name)"
            if reason:
                out.decisions.append(Decision(surface_norm, cand.start, cand.end, False, reason))
                continue
            sent_start = _back_to(text, cand.start, SENTENCE_BREAKS)
            for figure_or_rejected, decision in self._figures(doc, cand, sections, default_status,
                                                              previous.get(sent_start)):
                if isinstance(figure_or_rejected, Figure):
                    out.figures.append(figure_or_rejected)
                    previous[sent_start] = figure_or_rejected
                else:
                    out.rejected.append(figure_or_rejected)
                out.decisions.append(decision)
        return out

    def _bare_ok(self, text: str, cand: Candidate) -> bool:
        if cand.value is None:
            return False
        return bool(_BARE_FOLLOW.match(text, cand.end)) and bool(_HAN_BEFORE.search(text, 0, cand.start))

    def _figures(self, doc: PreparedDocument, cand: Candidate, sections: list[tuple[int, int, str]],
                 default_status: str, parent: Figure | None) -> list[tuple[Figure | Rejected, Decision]]:
        text = doc.text.text
        sent_start = _back_to(text, cand.start, SENTENCE_BREAKS)
        sent_end = _forward_to(text, cand.end, SENTENCE_BREAKS)
        matches = self.metrics.matches(cand, text, sent_start, sent_end, self.unit_classes)
        chosen = self._shared(matches, text, cand) if matches else []
        if not chosen:
            chosen = [matches[0]] if matches else [None]
        status = self.status(text, cand.start, cand.end, sections, default_status)
        results = []
        clause_start = _back_to(text, cand.start, CLAUSE_BREAKS.replace("、", ""))
        for match in chosen:
            metric = match.metric if match else "other"
            extractor = f"rules:{match.rule_id}" if match else "rules:fallback"
            inherited = self._inherit(text, clause_start, cand, metric if match else None, parent)
            if inherited:
                metric, extractor = inherited, f"{extractor}+subset-of-parent"
            refined = self._refine(text, min(clause_start, match.cue_start) if match else clause_start,
                                   cand.start, metric)
            if refined:
                metric, extractor = refined[1], f"{extractor}+{refined[0]}"
            confidence = _confidence(match, cand)
            flags = self._flags(cand, metric)
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
                "qualifier": self._qualifier(text, cand, sent_start, clause_start, match),
                "subject": _subject(text, sent_start, cand, match),
                "sentence": doc.original.__getitem__(slice(*doc.text.span(sent_start, sent_end))).strip(),
                "extractor": extractor,
                "confidence": confidence,
                "flags": flags,
            }
            decision = Decision(text[cand.start:cand.end], cand.start, cand.end, True,
                                f"kept as {metric} ({status.status})", matches, status.cue)
            try:
                results.append((Figure.model_validate(candidate, context=self.validation_context), decision))
            except ValidationError as exc:
                decision.kept = False
                decision.reason = f"failed validation: {exc.errors()[0]['msg']}"
                results.append((Rejected(doc_id=doc.meta.doc_id, start=ostart, end=oend,
                                         surface=candidate["surface"], candidate=_plain(candidate),
                                         errors=str(exc.errors(include_url=False))), decision))
        return results

    def _inherit(self, text: str, clause_start: int, cand: Candidate, own: str | None,
                 parent: Figure | None) -> str | None:
        """A 其中 sub-count takes its parent's metric when it counts the same kind of thing: it has
        no metric of its own, or the general metric its parent's narrows (会员 under 新发展会员),
        and a unit of the parent's class."""
        if parent is None or parent.metric == "other" or own == parent.metric:
            return None
        if not self.subset.match(text, clause_start) and not self.subset.match(text.lstrip(), clause_start):
            return None
        if not set(cand.unit_classes) & set(self.unit_classes.get(parent.unit, ())):
            return None
        if own is None or (own, parent.metric) in self.narrowing:
            return parent.metric
        return None

    def _refine(self, text: str, start: int, end: int, metric: str) -> tuple[str, str] | None:
        for rule_id, source, target, cues in self.refinements:
            if metric == source and cues.search(text, start, end):
                return rule_id, target
        return None

    def _shared(self, matches: list[MetricMatch], text: str, cand: Candidate) -> list[MetricMatch]:
        """One number stated for several statistics ("建会率和入会率均达95%"): one row per statistic."""
        best = matches[0]
        between = text[best.cue_end : cand.start]
        if not self.shared_value.search(between):
            return []
        seen = {best.metric}
        chosen = [best]
        clause_start = _back_to(text, cand.start, CLAUSE_BREAKS.replace("、", ""))
        for m in matches[1:]:
            if m.metric not in seen and m.cue_start >= clause_start and m.cue_end <= cand.start:
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
            counted = {"person", "org", "document", "item", "event", "case", "household", "vote", "person_time"}
            if cand.value != cand.value.to_integral_value() and counted.intersection(cand.unit_classes) \
                    and "money" not in cand.unit_classes and cand.unit not in ("%",):
                flags.append("fractional_count")
            if cand.unit == "%" and cand.value > 100 and metric != "other":
                flags.append("rate_over_100")
        return tuple(flags)

    def _qualifier(self, text: str, cand: Candidate, sent_start: int, clause_start: int,
                   match: MetricMatch | None) -> str | None:
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
            end = (match.cue_start - scope_start) if match and match.cue_start - scope_start > subset.end() else len(left)
            return left[subset.start() : end].strip(" ,，") or None
        scope = self.scope.search(left)
        return scope.group() if scope else None


def _phrases(words: list[str]) -> regex.Pattern[str]:
    return regex.compile("|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True)))


def _back_to(text: str, pos: int, breaks: str) -> int:
    while pos > 0 and text[pos - 1] not in breaks:
        pos -= 1
    return pos


def _forward_to(text: str, pos: int, breaks: str) -> int:
    n = len(text)
    while pos < n and text[pos] not in breaks:
        pos += 1
    return pos


def _subject(text: str, sent_start: int, cand: Candidate, match: MetricMatch | None) -> str | None:
    """The phrase that says what is counted: the cue's clause up to the number."""
    if match is None:
        clause_start = _back_to(text, cand.start, CLAUSE_BREAKS)
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
    return {k: (str(v) if v is not None and not isinstance(v, (str, int, float, bool, list, tuple)) else v)
            for k, v in candidate.items()}
