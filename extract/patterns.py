"""Compiling a pattern for the engine that runs it fastest where both engines mean the same.

The rules are written for ``regex`` (``\\p{Han}``, variable-width lookbehind, overlapped search),
but a call of ``regex`` costs about 1 µs more than one of the standard library's ``re`` (it
builds a matching state and releases the GIL every time), and a plain alternation of words scans
about 3x slower in it. The per-number rules ask some twenty short questions a figure ("is there a
plan cue before it in this clause?"), so for those ``compile_short`` gives ``re`` wherever the
two engines agree on every string: the pattern compiles in ``re`` without a warning, and uses none
of the shorthand classes (``\\d \\s \\w \\b`` and their negations) whose Unicode tables differ
between the two (``regex`` follows a newer Unicode than the interpreter; ``\\s`` differs on
U+001C-U+001F). Anything else, and every whole-document scan led by a character class (where
``regex``'s search for the first character is the faster one), stays with ``regex``.

Whole-text scans are spared instead: ``required_words`` reads from a pattern the words every match
contains (岁 for an age, 以上/以下 for a threshold), and a ``Scanner`` does not scan a text that
lacks them. Most texts lack most of them, and a word is found in a text far faster than a pattern.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import regex

Pattern = re.Pattern[str] | regex.Pattern[str]

# The flags both engines read the same way (same values in both).
_SHARED_FLAGS = int(re.MULTILINE | re.DOTALL)  # an int: ~ of a RegexFlag keeps only re's own flags
# An escape: a backslash and the character after it (an escaped backslash is one pair).
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNICODE_SHORTHANDS = frozenset("dDsSwWbB")
# An inline flag group, (?i) or (?i:…): case folding differs between the engines, and the rest are rare.
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+[:)]")


def compile_short(pattern: str, flags: int = 0) -> Pattern:
    """``pattern`` compiled with ``re`` where that means the same as ``regex``, else with ``regex``.

    For patterns asked about short spans or one place at a time; never call the result with a
    ``regex``-only argument (``overlapped=``, ``partial=``).

    >>> isinstance(compile_short("今年|明年"), re.Pattern)
    True
    >>> isinstance(compile_short(r"\\p{Han}"), re.Pattern), isinstance(compile_short(r"\\d+"), re.Pattern)
    (False, False)
    """
    if same_in_re(pattern, flags):
        return re.compile(pattern, flags)
    return regex.compile(pattern, flags)


def same_in_re(pattern: str, flags: int = 0) -> bool:
    """Whether ``re`` reads ``pattern`` (under ``flags``) exactly as ``regex`` does."""
    if any(m.group(1) in _UNICODE_SHORTHANDS for m in _ESCAPE.finditer(pattern)):
        return False
    return _same_syntax(pattern, flags)


def _same_syntax(pattern: str, flags: int) -> bool:
    """Whether ``re`` parses ``pattern`` into the tree ``regex`` does, its shorthand classes aside."""
    if flags & ~_SHARED_FLAGS:
        return False
    if _INLINE_FLAGS.search(_ESCAPE.sub("e", pattern)):
        return False
    with warnings.catch_warnings():
        # re warns where regex's set syntax would differ ("possible nested set")
        warnings.simplefilter("error")
        try:
            re.compile(pattern, flags)
        except (re.error, FutureWarning, DeprecationWarning):
            return False
    return True


def words(alternatives: Iterable[str]) -> Pattern:
    """An alternation of literal words, in the order given (the first that matches at a place wins)."""
    return compile_short("|".join(re.escape(w) for w in alternatives))


def phrases(alternatives: Iterable[str]) -> Pattern:
    """An alternation of literal words, the longest first (the longest at a place wins)."""
    return words(_longest_first(alternatives))


def overlapping_phrases(alternatives: Iterable[str]) -> regex.Pattern[str]:
    """``phrases`` for ``regex``: for a search with ``overlapped=True``, which ``re`` lacks."""
    return regex.compile("|".join(regex.escape(w) for w in _longest_first(alternatives)))


def _longest_first(alternatives: Iterable[str]) -> list[str]:
    return sorted(alternatives, key=len, reverse=True)


# -- words a match cannot do without ------------------------------------------------------------

# A requirement: a set of words, one of which every match of a pattern contains.
Requirement = frozenset[str]
_MAX_WORDS = 16  # more alternatives than this cost more to look for than the scan they could save
_MAX_CHARS = 32  # the largest character class taken as alternatives
# A Scanner looks for at most this many requirements of at most this many words: looking for
# more costs more than the scans it could save.
_CHECKED_REQUIREMENTS = 2
_CHECKED_WORDS = 8
# An escape, with regex's Unicode property classes told apart (\p{Han}, \P{…}).
_CLASS_ESCAPE = re.compile(r"\\(?:([pP])\{[^}]*\}|.)", re.DOTALL)


def required_words(pattern: str, flags: int = 0) -> tuple[Requirement, ...]:
    """Sets of words, one of each of which any match of ``pattern`` contains, the likeliest to be
    missing from a text first; () when unknown.

    A text lacking every word of one set has no match, and need not be scanned. Read with the
    standard library's parser, so only for patterns it parses as ``regex`` does; a Unicode class
    (``\\d``, ``\\s``, ``\\p{Han}``) is read as an unknown character, which requires nothing.
    Anything else gets ().

    >>> required_words(r"\\d+\\s*周?岁")
    (frozenset({'岁'}),)
    >>> sorted(required_words("(?:人数)?[0-9]+(?:以上|以下)")[0])
    ['以上', '以下']
    >>> required_words(r"[\\p{Han}]{2,12}?(?:总工会|工会委员会|工会)"), required_words("(?i)abc")
    ((frozenset({'工会'}),), ())
    """
    # \p{…} read as \d: a class the reader takes as unknown, in a set or out of one
    readable = _CLASS_ESCAPE.sub(lambda m: r"\d" if m.group(1) else m.group(0), pattern)
    if not _same_syntax(readable, flags):
        return ()
    try:
        # the standard library's own parser: no public API
        from re import _constants, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(readable, flags)
        return tuple(sorted(set(_Reader(_constants).sequence(list(parsed))), key=_missing_first))
    except Exception:  # an unreadable tree only costs the shortcut, never a match
        return ()


class Scanner:
    """A pattern for whole texts that does not scan a text lacking the words every match needs."""

    __slots__ = ("needs", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = regex.compile(pattern, flags)
        needs = [r for r in required_words(pattern, flags) if len(r) <= _CHECKED_WORDS][:_CHECKED_REQUIREMENTS]
        self.needs = tuple(tuple(sorted(words)) for words in needs)  # looked for in the same order every run

    def may_match(self, text: str) -> bool:
        # loops, not all(any(…)): two generators a pattern a text cost more than the checks
        for words in self.needs:
            for word in words:
                if word in text:
                    break
            else:
                return False
        return True

    def finditer(self, text: str) -> Iterator[regex.Match[str]]:
        return self.pattern.finditer(text) if self.may_match(text) else iter(())


class _Reader:
    """Walks the parsed tree: each node's requirements (a sequence: all of its parts')."""

    def __init__(self, c: Any) -> None:
        self.c = c

    def sequence(self, items: list[tuple[Any, Any]]) -> list[Requirement]:
        found: list[Requirement] = []
        run: set[str] = {""}  # the words a run of fixed single characters spells
        for op, av in items:
            chars = self._chars(op, av)
            if chars is not None and len(run) * len(chars) <= _MAX_WORDS:
                run = {w + ch for w in run for ch in chars}
                continue
            if run != {""}:
                found.append(_minimal(run))
            run = {""}
            if chars is not None:
                found.append(frozenset(chars))
            else:
                found.extend(self._node(op, av))
        if run != {""}:
            found.append(_minimal(run))
        return found

    def _chars(self, op: Any, av: Any) -> set[str] | None:
        """The characters a node matching exactly one fixed character may be, else None."""
        c = self.c
        if op is c.LITERAL:
            return {chr(av)}
        if op is c.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is c.LITERAL:
                    chars.add(chr(a))
                elif o is c.RANGE and a[1] - a[0] < _MAX_CHARS:
                    chars.update(map(chr, range(a[0], a[1] + 1)))
                else:  # a negated set, a category
                    return None
            return chars if len(chars) <= _MAX_CHARS else None
        return None

    def _node(self, op: Any, av: Any) -> list[Requirement]:
        c = self.c
        if op is c.SUBPATTERN:
            return self.sequence(list(av[3]))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _, body = av
            return self.sequence(list(body)) if low >= 1 else []
        if op is c.ATOMIC_GROUP:
            return self.sequence(list(av))
        if op is c.BRANCH:
            words: set[str] = set()
            for branch in av[1]:
                best = _best(self.sequence(list(branch)))
                if best is None:
                    return []
                words |= best
            return [_minimal(words)] if len(words) <= _MAX_WORDS else []
        return []  # a place (^, lookaround), any character, a back reference: nothing required


def _minimal(words: set[str]) -> Requirement:
    """The words none of the others is part of: a text with 工会委员会 has 工会."""
    return frozenset(w for w in words if not any(o != w and o in w for o in words))


def _best(requirements: list[Requirement]) -> Requirement | None:
    return min(requirements, key=_missing_first, default=None)


def _missing_first(requirement: Requirement) -> tuple[int, int, list[str]]:
    """Likeliest to be missing from a text: the longest shortest word, then the fewest words."""
    return (-min(map(len, requirement)), len(requirement), sorted(requirement))
