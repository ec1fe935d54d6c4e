"""Assigning a metric to a figure from the cue words around it (rules/patterns/*.yaml)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import regex

from extract.figures.candidates import Candidate
from schemas.rules import MetricRule, Taxonomy

# How the score of a cue is made (lower is better): characters between cue and number, less a
# bonus for the rule's priority and the cue's length; a cue after the number costs a little more.
PRIORITY_WEIGHT = 2.0
CUE_LENGTH_WEIGHT = 0.5
CUE_LENGTH_CAP = 8
AFTER_PENALTY = 2.0
# A cue in another clause (across a comma or colon) speaks less for the number than one in its own.
CLAUSE_PENALTY = 4.0
CLAUSE_MARKS = ",，:：;；"


@dataclass(frozen=True, slots=True)
class MetricMatch:
    rule_id: str
    metric: str
    cue: str
    cue_start: int
    cue_end: int
    distance: int
    score: float


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: MetricRule
    cues: regex.Pattern[str]
    context: regex.Pattern[str] | None
    block: regex.Pattern[str] | None
    accepted: frozenset[str]


def _phrases(words: list[str]) -> regex.Pattern[str]:
    return regex.compile("|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True)))


class MetricAssigner:
    """Scores every metric rule against a candidate and its sentence; the best match wins."""

    def __init__(self, rules: tuple[MetricRule, ...], taxonomy: Taxonomy) -> None:
        self.compiled = []
        for rule in rules:
            metric = taxonomy.metrics[rule.metric]
            cues = (
                regex.compile("|".join(f"(?:{c})" for c in rule.cues)) if rule.kind == "regex" else _phrases(rule.cues)
            )
            self.compiled.append(
                _Compiled(
                    rule=rule,
                    cues=cues,
                    context=_phrases(rule.context) if rule.context else None,
                    block=_phrases(rule.block) if rule.block else None,
                    accepted=frozenset({metric.unit_class, *metric.also}),
                )
            )

    def matches(
        self,
        cand: Candidate,
        text: str,
        sent_start: int,
        sent_end: int,
        unit_classes: dict[str, tuple[str, ...]],
        others: tuple[tuple[int, int], ...] = (),
    ) -> list[MetricMatch]:
        """Every rule that claims ``cand``, best first.

        ``others`` are the spans of the other numbers in the sentence: one standing between a cue
        and this number counts as a single character ("会员由3.05万人增加到3.42万人").
        """
        found: list[MetricMatch] = []
        gaps = _Gaps(others)
        left = text[sent_start : cand.start]
        right = text[cand.end : sent_end]
        sentence = text[sent_start:sent_end]
        for c in self.compiled:
            rule = c.rule
            if not self._unit_fits(c, cand):
                continue
            if c.context is not None and not c.context.search(sentence):
                continue
            best: MetricMatch | None = None
            if rule.side in ("before", "either"):
                for hit in c.cues.finditer(left, overlapped=True):
                    distance = gaps(sent_start + hit.end(), cand.start)
                    if distance > rule.window or (c.block and c.block.search(left, hit.end())):
                        continue
                    clauses = sum(left.count(m, hit.end()) for m in CLAUSE_MARKS)
                    score = self._score(rule, hit.group(), distance, after=False) + CLAUSE_PENALTY * clauses
                    if best is None or score < best.score:
                        best = MetricMatch(
                            rule.id,
                            rule.metric,
                            hit.group(),
                            sent_start + hit.start(),
                            sent_start + hit.end(),
                            distance,
                            score,
                        )
            if rule.side in ("after", "either"):
                for hit in c.cues.finditer(right, overlapped=True):
                    distance = gaps(cand.end, cand.end + hit.start())
                    if distance > rule.window or (c.block and c.block.search(right, 0, hit.start())):
                        continue
                    clauses = sum(right.count(m, 0, hit.start()) for m in CLAUSE_MARKS)
                    score = self._score(rule, hit.group(), distance, after=True) + CLAUSE_PENALTY * clauses
                    if best is None or score < best.score:
                        best = MetricMatch(
                            rule.id,
                            rule.metric,
                            hit.group(),
                            cand.end + hit.start(),
                            cand.end + hit.end(),
                            distance,
                            score,
                        )
            if best is not None:
                found.append(best)
        return sorted(found, key=lambda m: m.score)

    def cues_in(self, cand: Candidate, text: str, start: int, end: int) -> list[MetricMatch]:
        """The statistics named in ``text[start:end]`` whose unit fits ``cand``, in text order: the list
        "A和B分别为…" distributes over. A cue inside a longer one (集体合同 in 工资专项集体合同) is not
        a statistic of its own."""
        hits = [
            MetricMatch(c.rule.id, c.rule.metric, hit.group(), hit.start(), hit.end(), 0, 0.0)
            for c in self.compiled
            if c.rule.side != "after" and self._unit_fits(c, cand)
            for hit in c.cues.finditer(text, start, end, overlapped=True)
        ]
        outer = [
            h
            for h in hits
            if not any(o.cue_start <= h.cue_start and h.cue_end <= o.cue_end and len(o.cue) > len(h.cue) for o in hits)
        ]
        first: dict[str, MetricMatch] = {}
        for h in sorted(outer, key=lambda m: m.cue_start):
            first.setdefault(h.metric, h)
        return sorted(first.values(), key=lambda m: m.cue_start)

    @staticmethod
    def _unit_fits(c: _Compiled, cand: Candidate) -> bool:
        if not cand.unit:
            return True  # the measure word was lost: the cue alone decides
        if c.rule.units:
            return cand.unit in c.rule.units
        return bool(c.accepted.intersection(cand.unit_classes))

    @staticmethod
    def _score(rule: MetricRule, cue: str, distance: int, after: bool) -> float:
        return (
            distance
            - PRIORITY_WEIGHT * rule.priority
            - CUE_LENGTH_WEIGHT * min(len(cue), CUE_LENGTH_CAP)
            + (AFTER_PENALTY if after else 0.0)
        )


class _Gaps:
    """Characters between two places, each other number inside counted as one; O(log n) a call,
    so a sentence listing hundreds of numbers stays linear.

    >>> _Gaps(((2, 6),))(0, 10)
    7
    """

    def __init__(self, others: tuple[tuple[int, int], ...]) -> None:
        self.spans = sorted(others)
        self.starts = [s for s, _ in self.spans]
        self.saved = [0]  # saved[i]: characters the first i spans give back
        for s, e in self.spans:
            self.saved.append(self.saved[-1] + (e - s) - 1)

    def __call__(self, start: int, end: int) -> int:
        lo = bisect.bisect_left(self.starts, start)
        hi = bisect.bisect_right(self.starts, end)
        while hi > lo and self.spans[hi - 1][1] > end:  # a span that runs past ``end`` is not inside
            hi -= 1
        return (end - start) - (self.saved[hi] - self.saved[lo]) if hi > lo else end - start
