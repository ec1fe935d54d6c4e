"""Where the sentence or clause around a place starts and ends, found by regex in C.

The rule stages and the model's context window ask this for every number; a backwards regex
search replaces a character-by-character Python loop.

No stretch reaches further than :data:`REACH` characters from the number. A text without
breaks (a long table flattened to one line, 20,000 numbers in 0.5 MB) would otherwise give every
number the whole text as its sentence: time and memory growing with numbers × text length.
"""

from __future__ import annotations

from functools import lru_cache

import regex

#: the furthest any stretch reaches from the place it is asked for, on each side
REACH = 400


@lru_cache(maxsize=32)
def _break_pattern(breaks: str, backwards: bool) -> regex.Pattern[str]:
    return regex.compile(f"[{''.join(regex.escape(ch) for ch in breaks)}]", regex.REVERSE if backwards else 0)


def back_to(text: str, pos: int, breaks: str, within: int = REACH) -> int:
    """Where the stretch ending at ``pos`` starts: just after the last of ``breaks`` before it,
    looking at most ``within`` characters back.

    >>> back_to("一。二，三", 5, "。"), back_to("一。二，三", 5, "。，"), back_to("一二", 2, "。")
    (2, 4, 0)
    >>> back_to("一二三", 3, "。", within=1)
    2
    """
    low = max(0, pos - within)
    hit = _break_pattern(breaks, True).search(text, low, pos)
    return hit.end() if hit else low


def forward_to(text: str, pos: int, breaks: str, within: int = REACH) -> int:
    """Where the stretch starting at ``pos`` ends: at the first of ``breaks`` from it on, looking
    at most ``within`` characters ahead.

    >>> forward_to("一。二，三", 0, "。"), forward_to("一。二，三", 2, "。，"), forward_to("一二", 0, "。")
    (1, 3, 2)
    >>> forward_to("一二三", 0, "。", within=1)
    1
    """
    high = min(len(text), pos + within)
    hit = _break_pattern(breaks, False).search(text, pos, high)
    return hit.start() if hit else high


def sentence_span(text: str, start: int, end: int, breaks: str, soft: str, within: int = REACH) -> tuple[int, int]:
    """The sentence around ``text[start:end]``: up to ``breaks`` on each side; on a side where none
    comes within ``within`` characters, up to the nearest of ``soft`` (a clause) instead.

    >>> text = "一一一一，二二二二，三三三三"
    >>> sentence_span(text, 7, 8, "。", "，", within=40), sentence_span(text, 7, 8, "。", "，", within=4)
    ((0, 14), (5, 9))
    """
    s = back_to(text, start, breaks, within)
    if s == start - within and s > 0:
        s = back_to(text, start, soft, within)
    e = forward_to(text, end, breaks, within)
    if e == end + within and e < len(text):
        e = forward_to(text, end, soft, within)
    return s, e
