"""Rejecting numbers that are not figures: dates, ordinals, names, thresholds, codes."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

import regex

from extract.patterns import Pattern, Scanner, phrases
from schemas.rules import NonFigures


# Not frozen, like Candidate: one is made per number.
@dataclass(slots=True)
class NonFigureSpan:
    start: int
    end: int
    rule_id: str
    reason: str


class NonFigureFinder:
    """Marks every span of a text that a non-figure rule claims; a number inside one is rejected."""

    def __init__(self, rules: NonFigures) -> None:
        self.rules: list[tuple[str, str, Scanner | Pattern]] = []
        for rule in rules.rules:
            if rule.kind == "phrase":
                # A plain alternation of words: the standard library's engine scans it ~4x faster.
                self.rules.append((rule.id, rule.reason, phrases(rule.patterns)))
                continue
            # Each pattern on its own: one alternation of them all hides the first character
            # each needs, and the engine then tries every pattern at every position (3x slower).
            # Most need a word most texts lack (岁, 届, 以上): such a text is not scanned.
            self.rules.extend((rule.id, rule.reason, Scanner(body, regex.MULTILINE)) for body in rule.patterns)

    def spans(self, text: str) -> SpanIndex:
        found = []
        for rule_id, reason, pattern in self.rules:
            for hit in pattern.finditer(text):
                if hit.end() > hit.start():
                    found.append(NonFigureSpan(hit.start(), hit.end(), rule_id, reason))
        return SpanIndex(found)


class SpanIndex:
    """Spans sorted by start, asked "which span holds position p?"."""

    def __init__(self, spans: list[NonFigureSpan]) -> None:
        self.spans = sorted(spans, key=lambda s: (s.start, -s.end))
        self.starts = [s.start for s in self.spans]
        # reach[i]: the furthest end of spans[0..i]; no span at or before i holds a place past it
        self.reach = list(itertools.accumulate((s.end for s in self.spans), max))

    def at(self, pos: int) -> NonFigureSpan | None:
        # Spans are short (a name, a date): look back over the few that start before pos, and
        # only while one of them can still reach it.
        i = bisect.bisect_right(self.starts, pos)
        spans, reach = self.spans, self.reach
        for j in range(i - 1, max(0, i - 40) - 1, -1):
            if reach[j] <= pos:
                return None
            if pos < spans[j].end:
                return spans[j]
        return None
