"""Normalisation for matching, with a map back to offsets in the original text.

Every character of the normalised text knows the index of the original character it came
from, so a span found in the normalised text maps back to ``original[start:end]``.
Edits are either one-to-one replacements or deletions; nothing is inserted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import regex

# Full-width ASCII (U+FF01..U+FF5E) maps one-to-one onto ASCII; U+3000 is the ideographic space.
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# Spaces a copy-paste left inside a number ("201 4年": one side a lone digit) or a word ("工 作").
# Two groups of digits ("475 460平方米") are two numbers whose words were lost: left alone.
_STRAY_SPACE = regex.compile(
    r"(?<=(?<!\d)\d)[ \u00a0]+(?=\d)|(?<=\d)[ \u00a0]+(?=\d(?!\d))|(?<=\p{Han})[ \u00a0](?=\p{Han})"
)
# A Chinese full stop used as a decimal point: "92。3%".
_STOP_AS_POINT = regex.compile(r"(?<=\d)。(?=\d+(?:%|万|亿))")


@dataclass(frozen=True, slots=True)
class MappedText:
    """A text derived from an original, with ``index[i]`` the original offset of ``text[i]``.

    ``index`` has one extra entry at the end: the original offset just past the last character.
    """

    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of ``text`` to the half-open span of the original it covers.

        >>> m = normalise("２０１ ４年")
        >>> m.text
        '2014年'
        >>> m.span(0, 4)
        (0, 5)
        """
        if end <= start:
            pos = self.index[start]
            return pos, pos
        return self.index[start], self.index[end - 1] + 1

    def offset(self, pos: int) -> int:
        return self.index[pos]

    def slice(self, start: int, end: int) -> MappedText:
        """The part ``text[start:end]`` with its map."""
        return MappedText(
            self.text[start:end],
            (*self.index[start:end], self.index[end] if end < len(self.text) else self.index[-1]),
        )


def identity(text: str, base: int = 0) -> MappedText:
    return MappedText(text, tuple(range(base, base + len(text) + 1)))


def _delete(m: MappedText, pattern: regex.Pattern[str]) -> MappedText:
    keep_text: list[str] = []
    keep_index: list[int] = []
    last = 0
    for hit in pattern.finditer(m.text):
        keep_text.append(m.text[last : hit.start()])
        keep_index.extend(m.index[last : hit.start()])
        last = hit.end()
    if last == 0:
        return m
    keep_text.append(m.text[last:])
    keep_index.extend(m.index[last:])
    return MappedText("".join(keep_text), tuple(keep_index))


def _replace_chars(m: MappedText, pattern: regex.Pattern[str], char: str) -> MappedText:
    text = pattern.sub(char, m.text)
    assert len(text) == len(m.text)
    return MappedText(text, m.index)


def normalise(original: str, to_simplified: Mapping[int, str] | None = None) -> MappedText:
    """Normalise ``original`` for matching.

    - full-width digits, letters and punctuation become ASCII;
    - Traditional characters become Simplified (character by character, via ``to_simplified``,
      a ``str.translate`` table, so the length never changes);
    - stray spaces inside numbers and between Han characters are removed;
    - a Chinese full stop between digits before % / 万 / 亿 becomes a decimal point.

    >>> normalise("签订合同３１份，达到92。3%").text
    '签订合同31份,达到92.3%'
    >>> normalise("工會會員", {ord("會"): "会", ord("員"): "员"}).text
    '工会会员'
    """
    text = original.translate(_FULL_WIDTH)
    if to_simplified:
        text = text.translate(to_simplified)
    mapped = MappedText(text, tuple(range(len(original) + 1)))
    mapped = _replace_chars(mapped, _STOP_AS_POINT, ".")
    return _delete(mapped, _STRAY_SPACE)
