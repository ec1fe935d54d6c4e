"""Assigning a metric to a figure from the cue words around it (rules/patterns/*.yaml)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import ahocorasick
import regex

from extract.figures.candidates import Candidate
from extract.patterns import Pattern, compile_short, overlapping_phrases, phrases
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
_CLAUSE_MARK = compile_short(f"[{CLAUSE_MARKS}]")


# Not frozen, like Candidate: one is made per number.
@dataclass(slots=True)
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
    context: Pattern | None
    block: Pattern | None
    accepted: frozenset[str]


# sentences whose cue hits are kept while a text's numbers are scored
SENTENCES_REMEMBERED = 8


class MetricAssigner:
    """Scores every metric rule against a candidate and its sentence; the best match wins."""

    def __init__(self, rules: tuple[MetricRule, ...], taxonomy: Taxonomy) -> None:
        self.compiled = []
        for rule in rules:
            metric = taxonomy.metrics[rule.metric]
            cues = (
                regex.compile("|".join(f"(?:{c})" for c in rule.cues))
                if rule.kind == "regex"
                else overlapping_phrases(rule.cues)
            )
            self.compiled.append(
                _Compiled(
                    rule=rule,
                    cues=cues,
                    context=phrases(rule.context) if rule.context else None,
                    block=phrases(rule.block) if rule.block else None,
                    accepted=frozenset({metric.unit_class, *metric.also}),
                )
            )
        self._fits: dict[tuple[str, tuple[str, ...]], frozenset[int]] = {}
        # Every phrase cue in one Aho-Corasick automaton, with the rules it is a cue of: one pass
        # in C over a sentence finds every cue of every phrase rule.
        owners: dict[str, list[int]] = {}
        for i, c in enumerate(self.compiled):
            if c.rule.kind != "regex":
                for phrase in set(c.rule.cues):
                    owners.setdefault(phrase, []).append(i)
        self._automaton = ahocorasick.Automaton()
        for phrase, rule_ids in owners.items():
            self._automaton.add_word(phrase, (len(phrase), phrase, tuple(sorted(rule_ids))))
        self._automaton.make_automaton()
        self._regex_rules = tuple(i for i, c in enumerate(self.compiled) if c.rule.kind == "regex")
        self._memo_text: str | None = None
        self._memo: dict[tuple[int, int], _Sentence] = {}

    def matches(
        self,
        cand: Candidate,
        text: str,
        sent_start: int,
        sent_end: int,
        spans: tuple[tuple[int, int], ...] = (),
    ) -> list[MetricMatch]:
        """Every rule that claims ``cand``, best first.

        ``spans`` are the text's numbers, in text order: another number standing between a cue and
        this one counts as a single character ("会员由3.05万人增加到3.42万人").
        """
        found: list[MetricMatch] = []
        sentence = self._sentence(text, sent_start, sent_end)
        gaps = sentence.gaps
        if gaps is None:
            # Numbers come in text order: the sentence's are one slice of them (no scan of all).
            # The candidate's own span never lies between it and a cue, so one count serves all.
            lo, hi = bisect.bisect_left(spans, (sent_start,)), bisect.bisect_left(spans, (sent_end + 1,))
            gaps = sentence.gaps = _Gaps(tuple(s for s in spans[lo:hi] if s[1] <= sent_end))
        left = text[sent_start : cand.start]
        right = text[cand.end : sent_end]
        cut, resume = cand.start - sent_start, cand.end - sent_start  # the number, in sentence offsets
        fitting = self._fitting(cand)
        for i in sentence.rules:
            if i not in fitting:
                continue
            hits = sentence.hits(i)
            if not hits:
                continue
            c = self.compiled[i]
            rule = c.rule
            best: MetricMatch | None = None
            if rule.side in ("before", "either"):
                for start, end, cue in hits:
                    if end > cut:
                        if start >= cut:
                            break
                        # the longest cue here runs into the number: a shorter one may end before it
                        short = c.cues.match(left, start)
                        if short is None:
                            continue
                        end, cue = short.end(), short.group()
                    distance = gaps(sent_start + end, cand.start)
                    if distance > rule.window or (c.block and c.block.search(left, end)):
                        continue
                    clauses = len(_CLAUSE_MARK.findall(left, end))
                    score = self._score(rule, cue, distance, after=False) + CLAUSE_PENALTY * clauses
                    if best is None or score < best.score:
                        best = MetricMatch(
                            rule.id, rule.metric, cue, sent_start + start, sent_start + end, distance, score
                        )
            if rule.side in ("after", "either"):
                for start, end, cue in hits:
                    if start < resume:
                        continue
                    start, end = start - resume, end - resume  # in ``right``
                    distance = gaps(cand.end, cand.end + start)
                    if distance > rule.window or (c.block and c.block.search(right, 0, start)):
                        continue
                    clauses = len(_CLAUSE_MARK.findall(right, 0, start))
                    score = self._score(rule, cue, distance, after=True) + CLAUSE_PENALTY * clauses
                    if best is None or score < best.score:
                        best = MetricMatch(rule.id, rule.metric, cue, cand.end + start, cand.end + end, distance, score)
            if best is not None:
                found.append(best)
        return sorted(found, key=lambda m: m.score)

    def _sentence(self, text: str, start: int, end: int) -> _Sentence:
        """The cue hits of ``text[start:end]``, found once per sentence: every number of a sentence
        is scored against the same hits. Numbers come in text order, so only the last few sentences
        of the text last seen are remembered (all of them grew with the text: 2 GB for one of
        40,000 numbers)."""
        if self._memo_text is not text:
            self._memo_text, self._memo = text, {}
        known = self._memo.get((start, end))
        if known is None:
            if len(self._memo) >= SENTENCES_REMEMBERED:
                del self._memo[next(iter(self._memo))]  # the oldest (dicts keep insertion order)
            known = self._memo[(start, end)] = _Sentence(self, text[start:end])
        return known

    def _fitting(self, cand: Candidate) -> frozenset[int]:
        """The rules whose units admit ``cand``'s unit (by index into ``compiled``)."""
        key = (cand.unit, cand.unit_classes)
        fitting = self._fits.get(key)
        if fitting is None:
            fitting = self._fits[key] = frozenset(i for i, c in enumerate(self.compiled) if self._unit_fits(c, cand))
        return fitting

    def cues_in(self, cand: Candidate, text: str, start: int, end: int) -> list[MetricMatch]:
        """The statistics named in ``text[start:end]`` whose unit fits ``cand``, in text order: the list
        "A和B分别为…" distributes over. A cue inside a longer one (集体合同 in 工资专项集体合同) is not
        a statistic of its own."""
        hits = [
            MetricMatch(c.rule.id, c.rule.metric, hit.group(), hit.start(), hit.end(), 0, 0.0)
            for i, c in enumerate(self.compiled)
            if c.rule.side != "after" and i in self._fitting(cand)
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


class _Sentence:
    """One sentence's cue hits by rule: ``(start, end, cue)`` in sentence offsets, overlapped.

    A phrase rule has, at each place, its longest phrase there (what its own alternation, longest
    first, would match). Regex cues and context words cost a scan each, so they are looked at only
    for a rule some number of the sentence fits.
    """

    __slots__ = ("_assigner", "_checked", "_phrase_hits", "_text", "gaps", "rules")

    def __init__(self, assigner: MetricAssigner, sentence: str) -> None:
        self._assigner = assigner
        self._text = sentence
        longest: dict[tuple[int, int], tuple[int, str]] = {}  # (rule, start) -> (length, phrase)
        for last, (length, phrase, rule_ids) in assigner._automaton.iter(sentence):
            start = last - length + 1
            for i in rule_ids:
                known = longest.get((i, start))
                if known is None or known[0] < length:
                    longest[(i, start)] = (length, phrase)
        self._phrase_hits: dict[int, list[tuple[int, int, str]]] = {}
        for (i, start), (length, phrase) in sorted(longest.items()):
            self._phrase_hits.setdefault(i, []).append((start, start + length, phrase))
        self._checked: dict[int, list[tuple[int, int, str]]] = {}
        self.gaps: _Gaps | None = None  # set by the first number asked about
        # the rules that may have hits, in rule order (ties in score keep it)
        self.rules = sorted({*self._phrase_hits, *assigner._regex_rules})

    def hits(self, i: int) -> list[tuple[int, int, str]]:
        """Rule ``i``'s hits, or none when the sentence lacks the rule's context words."""
        found = self._checked.get(i)
        if found is None:
            c = self._assigner.compiled[i]
            found = self._phrase_hits.get(i)
            if found is None:  # a regex rule
                found = [(h.start(), h.end(), h.group()) for h in c.cues.finditer(self._text, overlapped=True)]
            if found and c.context is not None and not c.context.search(self._text):
                found = []
            self._checked[i] = found
        return found


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
