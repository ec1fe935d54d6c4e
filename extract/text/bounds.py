"""Where the sentence or clause around a place starts and ends, found by regex in C.

The rule stages and the model's context window ask this for every number; a backwards regex
search replaces a character-by-character Python loop.
"""

from __future__ import annotations

from functools import lru_cache

import regex


@lru_cache(maxsize=32)
def _break_pattern(breaks: str, backwards: bool) -> regex.Pattern[str]:
    return regex.compile(f"[{''.join(regex.escape(ch) for ch in breaks)}]", regex.REVERSE if backwards else 0)


def back_to(text: str, pos: int, breaks: str, within: int | None = None) -> int:
    """Where the stretch ending at ``pos`` starts: just after the last of ``breaks`` before it,
    looking at most ``within`` characters back.

    >>> back_to("一。二，三", 5, "。"), back_to("一。二，三", 5, "。，"), back_to("一二", 2, "。")
    (2, 4, 0)
    >>> back_to("一二三", 3, "。", within=1)
    2
    """
    low = 0 if within is None else max(0, pos - within)
    hit = _break_pattern(breaks, True).search(text, low, pos)
    return hit.end() if hit else low


def forward_to(text: str, pos: int, breaks: str, within: int | None = None) -> int:
    """Where the stretch starting at ``pos`` ends: at the first of ``breaks`` from it on, looking
    at most ``within`` characters ahead.

    >>> forward_to("一。二，三", 0, "。"), forward_to("一。二，三", 2, "。，"), forward_to("一二", 0, "。")
    (1, 3, 2)
    >>> forward_to("一二三", 0, "。", within=1)
    1
    """
    high = len(text) if within is None else min(len(text), pos + within)
    hit = _break_pattern(breaks, False).search(text, pos, high)
    return hit.start() if hit else high
