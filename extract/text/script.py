"""Which script a text is written in, and the Traditional → Simplified table.

The table comes from OpenCC's character dictionary (opencc-python-reimplemented ships it), used
character by character so that conversion never changes the length of the text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from typing import Literal

Script = Literal["simplified", "traditional", "mixed", "none"]
_HAN = re.compile("[\u4e00-\u9fff]")


def _read_dictionary(name: str) -> dict[str, str]:
    text = (files("opencc") / "dictionary" / name).read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ", 1)[0]
        if len(source) == 1 and len(target) == 1 and source != target:
            table[source] = target
    return table


@lru_cache(maxsize=1)
def to_simplified_table() -> dict[int, str]:
    """A ``str.translate`` table from Traditional to Simplified characters.

    >>> "工會會員".translate(to_simplified_table())
    '工会会员'
    """
    return {ord(k): v for k, v in _read_dictionary("TSCharacters.txt").items()}


@lru_cache(maxsize=1)
def _traditional_only() -> frozenset[str]:
    return frozenset(map(chr, to_simplified_table()))


@lru_cache(maxsize=1)
def _simplified_only() -> frozenset[str]:
    return frozenset(_read_dictionary("STCharacters.txt"))


def detect_script(text: str) -> Script:
    """Tell Simplified from Traditional by counting characters that exist in only one script.

    >>> detect_script("工會會員大會"), detect_script("工会会员大会"), detect_script("2014")
    ('traditional', 'simplified', 'none')
    """
    if _traditional_only().isdisjoint(text):
        # the common case, told in one pass in C: no traditional character at all
        return "simplified" if _HAN.search(text) else "none"
    traditional_chars = to_simplified_table()
    simplified_chars = _simplified_only()
    trad = sum(map(traditional_chars.__contains__, map(ord, text)))
    simp = sum(map(simplified_chars.__contains__, text))
    if trad == 0 and simp == 0:
        return "simplified" if _HAN.search(text) else "none"
    if trad >= 4 * max(simp, 1) or (simp == 0 and trad > 0):
        return "traditional"
    if simp >= 4 * max(trad, 1) or trad == 0:
        return "simplified"
    return "mixed"
