"""The text a classifier sees for one figure: its sentence around the number, number masked.

The figure itself becomes the placeholder token ``NUM`` followed by its normalised unit, and every
other run of digits in the window becomes ``0``: the model learns from the words around a number,
never from its value. Training (``dataset``) and prediction (``figures.hybrid``) both build their
texts here, so they cannot drift apart.
"""

from __future__ import annotations

import regex

from extract.figures.extractor import SENTENCE_BREAKS

NUMBER = "NUM"
NO_UNIT = "NOUNIT"
# Window sizes in characters. Cues for a metric stand before the number, mostly within the
# clause or the one before it (全年受理劳动争议案件27件，调解成功24件); a few follow it
# (签订…合同, 覆盖职工…). Longer windows bring in the neighbouring figures' cues as noise.
LEFT_CHARS = 36
RIGHT_CHARS = 12

_DIGITS = regex.compile(r"\d+(?:\.\d+)?")
_SPACES = regex.compile(r"\s+")


def _back_to(text: str, pos: int) -> int:
    while pos > 0 and text[pos - 1] not in SENTENCE_BREAKS:
        pos -= 1
    return pos


def _forward_to(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] not in SENTENCE_BREAKS:
        pos += 1
    return pos


def _clean(part: str) -> str:
    return _SPACES.sub(" ", _DIGITS.sub("0", part)).strip()


def figure_context(text: str, start: int, end: int, unit: str) -> str:
    """The classifier's input for the figure at ``text[start:end]`` (normalised text offsets).

    >>> figure_context("一、组建。全年新建基层工会23家,新发展会员1860人。", 13, 16, "家")
    '全年新建基层工会 NUM 家 ,新发展会员0人'
    """
    left_start = max(_back_to(text, start), start - LEFT_CHARS)
    right_end = min(_forward_to(text, end), end + RIGHT_CHARS)
    left = _clean(text[left_start:start])
    right = _clean(text[end:right_end])
    return " ".join(p for p in (left, NUMBER, unit or NO_UNIT, right) if p)
