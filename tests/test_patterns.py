"""Which engine compiles a rule's pattern, and the words a pattern cannot match without: both are
shortcuts that must change no answer. Checked on every pattern the rules build, over the team's
corpus (and the seed when ``../shared`` is there)."""

from __future__ import annotations

import re

import pytest
import regex

from extract.figures.extractor import RuleExtractor
from extract.patterns import Scanner, compile_short, required_words, same_in_re
from extract.pipeline import Pipeline
from extract.rules import RuleSet

from .conftest import CORPUS, SEED


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = []
    for path in [*sorted(CORPUS.rglob("*.txt")), *([SEED] if SEED.exists() else [])]:
        try:
            found.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:  # the formats corpus holds other encodings
            continue
    assert len(found) > 80
    return found


@pytest.fixture(scope="module")
def extractor(rules: RuleSet) -> RuleExtractor:
    return RuleExtractor(rules)


def _short_patterns(extractor: RuleExtractor) -> list[re.Pattern[str]]:
    """Every pattern of the rule stages that went to the standard library's engine."""
    holders = [extractor, extractor.finder, extractor.status, *extractor.metrics.compiled]
    found = [v for h in holders for v in (getattr(h, a) for a in dir(h) if not a.startswith("__"))]
    found += [cues for *_, cues in extractor.refinements]
    return [p for p in found if isinstance(p, re.Pattern)]


def test_the_word_lists_of_the_rule_stages_go_to_re(extractor: RuleExtractor) -> None:
    short = _short_patterns(extractor)
    assert len(short) >= 15
    assert not isinstance(extractor.status.plan, re.Pattern)  # searched overlapped
    assert all(not isinstance(c.cues, re.Pattern) for c in extractor.metrics.compiled)


def test_patterns_in_re_find_what_regex_finds(extractor: RuleExtractor, texts: list[str]) -> None:
    for pattern in _short_patterns(extractor):
        twin = regex.compile(pattern.pattern, pattern.flags & (re.MULTILINE | re.DOTALL))
        for text in texts:
            assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in twin.finditer(text)], pattern
            # asked about short stretches, as the stages ask (a place, a clause)
            for pos in range(0, len(text), 97):
                assert _span(pattern.search(text, pos, pos + 30)) == _span(twin.search(text, pos, pos + 30))
                assert _span(pattern.match(text, pos)) == _span(twin.match(text, pos))


def _span(m: re.Match[str] | regex.Match[str] | None) -> tuple[int, int] | None:
    return m.span() if m else None


@pytest.mark.parametrize(
    ("pattern", "flags", "same"),
    [
        ("今年|明年|下一步", 0, True),
        ("[,，:：;；]", 0, True),
        ("^第.{1,3}章", re.MULTILINE, True),
        (r"\\d", 0, True),  # an escaped backslash, then a letter
        (r"\s+", 0, False),  # U+001C-U+001F are spaces to re, not to regex
        (r"[\d.]+", 0, False),  # regex knows digits of a newer Unicode
        (r"\w", 0, False),
        (r"\bx", 0, False),
        (r"\p{Han}", 0, False),  # regex only
        ("(?<=按[^。]{0,30})每人", 0, False),  # variable-width lookbehind
        ("[[:alpha:]]", 0, False),  # a POSIX class in regex, a set of ":alph" in re
        ("(?i)abc", 0, False),  # case folding differs between the engines
        ("a(?i:b)", 0, False),
        ("ab", re.IGNORECASE, False),
        ("ab", regex.REVERSE, False),
    ],
)
def test_same_in_re(pattern: str, flags: int, same: bool) -> None:
    assert same_in_re(pattern, flags) is same
    assert isinstance(compile_short(pattern, flags), re.Pattern) is same


@pytest.mark.parametrize(
    ("pattern", "first"),
    [
        (r"\d+\s*周?岁", {"岁"}),
        ("(?:人数)?[0-9]+(?:以上|以下)", {"以上", "以下"}),
        ("[^a]b", {"b"}),
        ("(?:x)?y", {"y"}),
        ("第[一二三]届", {"第一届", "第二届", "第三届"}),
        ("(?:前|后)[0-9]+", {"前", "后"}),  # before the ten digits
        ("a|", None),  # the empty branch needs nothing
        ("a{0,2}", None),
        ("(?=工会)x?", None),  # a lookahead's words may lie outside the match
        ("(?i)abc", None),  # inline flags: not read
        (r"\p{Han}年", {"年"}),  # a Unicode class requires nothing
        (r"[a\p{Han}]", None),  # nor a set holding one
        (r"\\p{Han}", {"\\p{Han}"}),  # an escaped backslash: literal words
        ("(?<=按[^。]{0,30})每人", None),  # not read by re (variable-width lookbehind): unknown
    ],
)
def test_required_words(pattern: str, first: set[str] | None) -> None:
    found = required_words(pattern, regex.MULTILINE)
    assert (set(found[0]) if found else None) == first


def _scanners(pipeline: Pipeline) -> list[Scanner]:
    """Every whole-text pattern of the pipeline that checks a text for words first."""
    extractor = pipeline.extractor
    found = [p for *_, p in extractor.nonfigures.rules if isinstance(p, Scanner)]
    found += extractor.status.sections
    found += [p for *_, p in pipeline.prepare.furniture.rules]
    found.append(pipeline.prepare.describer.org)
    return found


def test_every_match_of_a_scanned_pattern_holds_its_required_words(pipeline: Pipeline, texts: list[str]) -> None:
    scanners = _scanners(pipeline)
    assert sum(1 for s in scanners if s.needs) > 40
    checked = 0
    for scanner in scanners:
        for text in texts:
            for m in scanner.pattern.finditer(text):
                checked += 1
                assert all(any(w in m.group() for w in words) for words in scanner.needs), (m.group(), scanner.needs)
    assert checked > 1000


def test_a_scanner_finds_what_its_pattern_finds(pipeline: Pipeline, texts: list[str]) -> None:
    skipped = 0
    for scanner in _scanners(pipeline):
        for text in texts:
            skipped += not scanner.may_match(text)
            assert [m.span() for m in scanner.finditer(text)] == [m.span() for m in scanner.pattern.finditer(text)]
    assert skipped > 1000  # the check does spare scans
