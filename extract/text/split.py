"""Splitting a compilation file (a web page holding several documents) into its parts."""

from __future__ import annotations

from dataclasses import dataclass

import regex

from extract.numbers import parse_number
from extract.text.normalise import MappedText
from schemas.rules import DocumentRules


@dataclass(frozen=True, slots=True)
class PartSpan:
    """Where one document stands in a normalised file text. ``number`` is None for a whole file."""

    number: int | None
    start: int
    end: int
    heading: str | None


class Splitter:
    def __init__(self, rules: DocumentRules) -> None:
        self.headings = [regex.compile(p, regex.MULTILINE) for p in rules.part_heading]
        self.collection = regex.compile(rules.collection_title)

    def find_headings(self, text: str) -> list[tuple[int, int, int, str]]:
        """(line start, line end, N, title) for every line that looks like a part heading."""
        found: dict[int, tuple[int, int, int, str]] = {}
        for pattern in self.headings:
            for hit in pattern.finditer(text):
                n = parse_number(hit.group("n"))
                if n is None or hit.start() in found:
                    continue
                found[hit.start()] = (hit.start(), hit.end(), int(n), hit.group("title").strip())
        return [found[k] for k in sorted(found)]

    def __call__(self, text: str) -> list[PartSpan]:
        """The parts of ``text``: numbered parts of a compilation, or one part for the whole.

        A file is a compilation when its headings number 1, 2, 3… in order (at least two); when
        it announces one (共N篇, 精选5篇) and has a heading, the run may start past 1 (a web page's
        excerpt that begins at 篇25); a lone heading 1 opens one when it names 篇, or when its
        title stands alone on a line above it (a template site's page title).
        """
        announced = self.collection.search(text[:500]) is not None
        headings = self._numbered_run(self.find_headings(text), announced)
        lone = len(headings) == 1 and headings[0][2] == 1 and _opens_alone(text, headings[0])
        if len(headings) >= 2 or (announced and headings) or lone:
            spans = []
            for i, (start, _end, n, title) in enumerate(headings):
                stop = headings[i + 1][0] if i + 1 < len(headings) else len(text)
                spans.append(PartSpan(n, start, stop, title or None))
            return spans
        return [PartSpan(None, 0, len(text), None)]

    @staticmethod
    def _numbered_run(
        headings: list[tuple[int, int, int, str]], from_any: bool = False
    ) -> list[tuple[int, int, int, str]]:
        """Keep the headings that count up from 1 without gaps (stray lines like "篇1" in prose drop
        out); with none numbered 1 and ``from_any``, those counting up from the first heading's."""
        first = 1 if not from_any or any(h[2] == 1 for h in headings) else (headings[0][2] if headings else 1)
        run: list[tuple[int, int, int, str]] = []
        for heading in headings:
            if heading[2] == first + len(run):
                run.append(heading)
        return run


def _opens_alone(text: str, heading: tuple[int, int, int, str]) -> bool:
    start, end, _, title = heading
    if regex.search(r"[，。；;！？,!?]", title):  # a line of prose that ends in 篇1, not a heading
        return False
    if "篇" in text[start:end]:
        return True
    return (
        bool(title) and regex.search(rf"(?m)^[ \t\u3000]*{regex.escape(title)}[ \t\u3000]*$", text[:start]) is not None
    )


def part_text(mapped: MappedText, span: PartSpan) -> MappedText:
    return mapped.slice(span.start, span.end)
