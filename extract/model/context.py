"""The text a classifier sees for one figure: its sentence around the number, number masked.

The figure itself becomes the placeholder token ``NUM`` followed by its normalised unit, and every
other run of digits in the window becomes ``0``: the model learns from the words around a number,
never from its value. A first token names the document's type (a work summary's 收入 is union
funds, a town government's is not). Training (``dataset``) and prediction (``figures.hybrid``)
both build their texts here, so they cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache

import regex

from extract.figures.extractor import SENTENCE_BREAKS
from extract.text.bounds import back_to, forward_to

NUMBER = "NUM"
NO_UNIT = "NOUNIT"
# Window sizes in characters, chosen by out-of-fold accuracy on the training gold (bench/MODEL.md):
# the cue of a metric stands just before the number, within its clause (新建基层工会23家); wider
# windows bring in the neighbouring figures' cues as noise, which a bag of words cannot tell
# apart by distance. After the number only the next word or two count (…万元的, 23家企业).
# With the rules' answer among the words, 10 characters on the left score within 0.002 of 14 out of
# fold (hybrid metrics F1 0.8946 against 0.8966) and segment a third fewer: the model's time per
# figure is mostly jieba's.
LEFT_CHARS = 10
RIGHT_CHARS = 3
# One ASCII word per document type: jieba keeps it whole, and it cannot collide with Chinese.
DOC_TYPE_TOKENS = {
    "work_summary": "DocSummary",
    "funds_audit_report": "DocFunds",
    "election_report": "DocElection",
    "news_report": "DocNews",
    "plan": "DocPlan",
    "non_union_summary": "DocNonUnion",
    "other": "DocOther",
}
USE_DOC_TYPE = True
# The rules' own answer as two more words: the metric they chose and how sure they were, so the
# model learns where the rules go wrong, not only what the words say. A figure no rule matched
# (``rules:fallback``) gets no such words: there the model reads the text alone, and "no rule
# matched" (mostly ``other`` in the gold) does not outweigh what the words say (bench/MODEL.md).
USE_RULE = True
CONFIDENCE_WORDS = ((0.9, "ConfHigh"), (0.75, "ConfMid"), (0.0, "ConfLow"))

_DIGITS = regex.compile(r"\d+(?:\.\d+)?")
_SPACES = regex.compile(r"\s+")
_NOT_ALNUM = regex.compile(r"[^A-Za-z0-9]+")


def _clean(part: str) -> str:
    return _SPACES.sub(" ", _DIGITS.sub("0", part)).strip()


def rule_words(rule: tuple[str | None, float] | None) -> str:
    """The rules' answer as words: ``(metric, confidence)``; none where no rule matched.

    >>> rule_words(("org.unions_new", 0.93)), rule_words(("other", 0.7)), rule_words((None, 0.5))
    ('RuleOrgUnionsNew ConfHigh', 'RuleOther ConfLow', '')
    """
    if rule is None or rule[0] is None:
        return ""
    metric, confidence = rule
    level = next(name for floor, name in CONFIDENCE_WORDS if confidence >= floor)
    return f"{_rule_word(metric)} {level}"


@lru_cache(maxsize=1024)
def _rule_word(metric: str) -> str:
    return "Rule" + "".join(p.capitalize() for p in _NOT_ALNUM.split(metric) if p)


def figure_context(
    text: str,
    start: int,
    end: int,
    unit: str,
    doc_type: str | None = None,
    rule: tuple[str | None, float] | None = None,
) -> str:
    """The classifier's input for the figure at ``text[start:end]`` (normalised text offsets).

    ``rule``: the rules' metric for the figure (None: no rule matched) and their confidence;
    None for a figure the rules did not keep.

    >>> figure_context("一、组建。全年新发展会员1860人,新建基层工会23家企业。", 24, 27, "家", "work_summary",
    ...                ("org.unions_new", 0.95))
    'DocSummary RuleOrgUnionsNew ConfHigh 0人,新建基层工会 NUM 家 企业'
    """
    left_start = back_to(text, start, SENTENCE_BREAKS, LEFT_CHARS)
    right_end = forward_to(text, end, SENTENCE_BREAKS, RIGHT_CHARS)
    left = _clean(text[left_start:start])
    right = _clean(text[end:right_end])
    head = DOC_TYPE_TOKENS.get(doc_type or "", "") if USE_DOC_TYPE else ""
    ruled = rule_words(rule) if USE_RULE else ""
    return " ".join(p for p in (head, ruled, left, NUMBER, unit or NO_UNIT, right) if p)
