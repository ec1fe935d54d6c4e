"""Whether a figure is actual, a plan for a later period, or a prior-period baseline."""

from __future__ import annotations

from dataclasses import dataclass

import regex

from extract.patterns import Scanner, overlapping_phrases, phrases
from extract.text.bounds import back_to
from schemas.rules import StatusRules


# Not frozen, like Candidate: one is made per number.
@dataclass(slots=True)
class StatusDecision:
    status: str
    cue: str | None  # the word or section heading that decided it


class StatusAssigner:
    def __init__(self, rules: StatusRules) -> None:
        self.rules = rules
        self.plan = overlapping_phrases(rules.plan_cues)
        self.plan_exceptions = phrases(rules.plan_cue_exceptions) if rules.plan_cue_exceptions else None
        self.blockers = phrases(rules.plan_blockers)
        self.nominal = phrases(rules.nominal_plan_cues) if rules.nominal_plan_cues else None
        self.prior = phrases(rules.prior_cues)
        self.change = phrases(rules.change_words)
        self.current = phrases(rules.current_cues) if rules.current_cues else None
        self.sections = [Scanner(p, regex.MULTILINE) for p in rules.plan_sections]
        self.heading = regex.compile(rules.section_heading, regex.MULTILINE)
        self.breaks = set(rules.clause_breaks)
        self.break_chars = "".join(sorted(self.breaks))

    def plan_sections(self, text: str) -> list[tuple[int, int, str]]:
        """Spans of ``text`` under a heading about later periods (下一步工作, 明年工作思路…)."""
        spans = []
        for pattern in self.sections:
            for hit in pattern.finditer(text):
                nxt = self.heading.search(text, hit.end())
                spans.append((hit.start(), nxt.start() if nxt else len(text), hit.group().strip()))
        return spans

    def __call__(
        self, text: str, start: int, end: int, sections: list[tuple[int, int, str]], default: str = "actual"
    ) -> StatusDecision:
        clause_start = back_to(text, start, self.break_chars)
        prior = self._prior(text, start) or self._prior_topic(text, clause_start, start)
        if prior:
            return StatusDecision("prior", prior)
        cue = self._plan_cue(text, clause_start, start) or self._nominal_plan_cue(text, clause_start, start)
        if cue:
            return StatusDecision("plan", cue)
        for s, e, heading in sections:
            if s <= start < e:
                return StatusDecision("plan", heading)
        return StatusDecision(default, None)

    def _nominal_plan_cue(self, text: str, clause_start: int, start: int) -> str | None:
        """A noun like 预算 makes a plan of the number it names, not of every number after it."""
        if self.nominal is None:
            return None
        last = None
        for hit in self.nominal.finditer(text, clause_start, start):
            last = hit
        if last is None or any(ch.isdigit() for ch in text[last.end() : start]):
            return None
        if self.plan_exceptions and any(
            m.start() <= last.start() < m.end() for m in self.plan_exceptions.finditer(text, clause_start, start)
        ):
            return None
        return last.group()

    def _plan_cue(self, text: str, clause_start: int, start: int) -> str | None:
        left = text[clause_start:start]
        skip = [m.span() for m in self.plan_exceptions.finditer(left)] if self.plan_exceptions else []
        last = None
        for hit in self.plan.finditer(left, overlapped=True):
            if any(s <= hit.start() < e for s, e in skip):
                continue
            last = hit
        if last is None or self.blockers.search(left, last.end()):
            return None
        return last.group()

    def _prior_topic(self, text: str, sent_start: int, start: int) -> str | None:
        """A prior cue that opens the sentence ("去年底，…入会率只有86%") governs all of it, unless
        a word of the current period or a change stands between."""
        while sent_start < start and text[sent_start].isspace():
            sent_start += 1
        head = self.prior.match(text, sent_start)
        if not head:
            return None
        between = text[head.end() : start]
        if self.change.search(between) or (self.current and self.current.search(between)):
            return None
        return head.group()

    def _prior(self, text: str, start: int) -> str | None:
        window_start = max(0, start - self.rules.prior_window - 4)
        left = text[window_start:start]
        best = None
        for hit in self.prior.finditer(left):
            between = left[hit.end() :]
            if len(between) > self.rules.prior_window or any(b in between for b in self.breaks):
                continue
            if self.change.search(between):
                continue
            best = hit.group()
        return best
