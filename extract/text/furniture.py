"""Page furniture (link lists, watermarks, page numbers, counters) blanked out of a text.

Blanking replaces each furniture character by a space (line breaks stay), so the text keeps its
length and its offset map: later stages never see furniture, the original keeps every byte.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import regex

from extract.patterns import Scanner
from extract.text.normalise import MappedText
from schemas.rules import Furniture


@dataclass(frozen=True, slots=True)
class FurnitureSpan:
    rule_id: str
    start: int  # in the text given, not the original
    end: int


class FurnitureRemover:
    """Compiled furniture rules; ``remover(text)`` gives the blanked text and what was blanked."""

    def __init__(self, rules: Furniture) -> None:
        # most texts lack the words a rule needs (推荐阅读, 浏览): those are not scanned
        self.rules = [(r.id, r.kind, Scanner(r.pattern, regex.MULTILINE)) for r in rules.rules]
        self.repeated_min = rules.repeated_line_min
        self.repeated_max_chars = rules.repeated_line_max_chars

    def find(self, text: str) -> list[FurnitureSpan]:
        spans: list[FurnitureSpan] = []
        for rule_id, kind, pattern in self.rules:
            for hit in pattern.finditer(text):
                if kind == "span":
                    spans.append(FurnitureSpan(rule_id, hit.start(), hit.end()))
                    continue
                line_start = text.rfind("\n", 0, hit.start()) + 1
                if kind == "block":
                    spans.append(FurnitureSpan(rule_id, line_start, len(text)))
                    break
                line_end = text.find("\n", hit.end())
                spans.append(FurnitureSpan(rule_id, line_start, len(text) if line_end < 0 else line_end))
        spans.extend(self._repeated_lines(text))
        return sorted(spans, key=lambda s: (s.start, s.end))

    def _repeated_lines(self, text: str) -> list[FurnitureSpan]:
        """Short lines repeated many times in one text are watermarks or running heads."""
        lines = text.split("\n")
        counts = Counter(line.strip() for line in lines if 0 < len(line.strip()) <= self.repeated_max_chars)
        repeated = {line for line, n in counts.items() if n >= self.repeated_min}
        if not repeated:
            return []
        spans = []
        pos = 0
        for line in lines:
            if line.strip() in repeated:
                spans.append(FurnitureSpan("repeated-line", pos, pos + len(line)))
            pos += len(line) + 1
        return spans

    def __call__(self, mapped: MappedText) -> tuple[MappedText, list[FurnitureSpan]]:
        spans = self.find(mapped.text)
        if not spans:
            return mapped, []
        chars = list(mapped.text)
        for span in spans:
            for i in range(span.start, span.end):
                if chars[i] != "\n":
                    chars[i] = " "
        return MappedText("".join(chars), mapped.index), spans
