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
_CLAUSE_MARK = regex.compile(f"[{CLAUSE_MARKS}]")


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
        self._fits: dict[tuple[str, tuple[str, ...]], frozenset[int]] = {}
        # Every phrase cue by its first two characters (one-character cues by their one), longest
        # first, for one pass over a sentence.
        self._by_start: dict[str, tuple[tuple[str, int], ...]] = {}
        self._by_first: dict[str, tuple[tuple[str, int], ...]] = {}
        self._regex_rules = [i for i, c in enumerate(self.compiled) if c.rule.kind == "regex"]
        for i, c in enumerate(self.compiled):
            if c.rule.kind != "regex":
                for phrase in set(c.rule.cues):
                    index = self._by_start if len(phrase) > 1 else self._by_first
                    index[phrase[:2]] = (*index.get(phrase[:2], ()), (phrase, i))
        for index in (self._by_start, self._by_first):
            for key, phrases in index.items():
                index[key] = tuple(sorted(phrases, key=lambda pair: (-len(pair[0]), pair[1])))
        firsts = {key[0] for key in self._by_start} | set(self._by_first)
        self._cue_starts = regex.compile(f"[{''.join(regex.escape(ch) for ch in sorted(firsts))}]")
        self._memo_text: str | None = None
        self._memo: dict[tuple[int, int], list[tuple[int, list[tuple[int, int, str]]]]] = {}

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
        cut, resume = cand.start - sent_start, cand.end - sent_start  # the number, in sentence offsets
        fitting = self._fitting(cand)
        for i, hits in self._sentence_hits(text, sent_start, sent_end):
            if i not in fitting:
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

    def _sentence_hits(self, text: str, start: int, end: int) -> list[tuple[int, list[tuple[int, int, str]]]]:
        """Each rule's cue hits in ``text[start:end]`` (sentence offsets, overlapped), for the rules
        whose context words the sentence has.

        Every number of a sentence is scored against the same hits, so they are found once per
        sentence (remembered for the text last seen) rather than once per number and rule.
        """
        if self._memo_text is not text:
            self._memo_text, self._memo = text, {}
        known = self._memo.get((start, end))
        if known is not None:
            return known
        sentence = text[start:end]
        hits: dict[int, list[tuple[int, int, str]]] = {}
        # Phrase cues: each place a cue may start, then every rule's longest phrase there (what
        # the rule's own alternation, longest first, would match at that place).
        for place in self._cue_starts.finditer(sentence):
            p = place.start()
            taken = set()
            for phrase, i in self._by_start.get(sentence[p : p + 2], ()) + self._by_first.get(sentence[p], ()):
                if i not in taken and sentence.startswith(phrase, p):
                    taken.add(i)
                    hits.setdefault(i, []).append((p, p + len(phrase), phrase))
        for i in self._regex_rules:
            found_here = [
                (h.start(), h.end(), h.group()) for h in self.compiled[i].cues.finditer(sentence, overlapped=True)
            ]
            if found_here:
                hits[i] = found_here
        found = [
            (i, hits[i])
            for i in sorted(hits)
            if self.compiled[i].context is None or self.compiled[i].context.search(sentence)
        ]
        self._memo[(start, end)] = found
        return found

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
