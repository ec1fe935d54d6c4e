"""The text a classifier sees for one figure: its sentence around the number, number masked.

The figure itself becomes the placeholder token ``NUM`` followed by its normalised unit, and every
other run of digits in the window becomes ``0``: the model learns from the words around a number,
never from its value. A first token names the document's type (a work summary's 收入 is union
funds, a town government's is not). Training (``dataset``) and prediction (``figures.hybrid``)
both build their texts here, so they cannot drift apart.
"""

from __future__ import annotations

import regex

from extract.figures.extractor import SENTENCE_BREAKS

NUMBER = "NUM"
NO_UNIT = "NOUNIT"
# Window sizes in characters, chosen by out-of-fold accuracy on the training gold (bench/MODEL.md):
# the cue of a metric stands just before the number, within its clause (新建基层工会23家); wider
# windows bring in the neighbouring figures' cues as noise, which a bag of words cannot tell
# apart by distance. After the number only the next word or two count (…万元的, 23家企业).
LEFT_CHARS = 14
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


def figure_context(text: str, start: int, end: int, unit: str, doc_type: str | None = None) -> str:
    """The classifier's input for the figure at ``text[start:end]`` (normalised text offsets).

    >>> figure_context("一、组建。全年新发展会员1860人,新建基层工会23家企业。", 24, 27, "家", "work_summary")
    'DocSummary 会员0人,新建基层工会 NUM 家 企业'
    """
    left_start = max(_back_to(text, start), start - LEFT_CHARS)
    right_end = min(_forward_to(text, end), end + RIGHT_CHARS)
    left = _clean(text[left_start:start])
    right = _clean(text[end:right_end])
    head = DOC_TYPE_TOKENS.get(doc_type or "", "") if USE_DOC_TYPE else ""
    return " ".join(p for p in (head, left, NUMBER, unit or NO_UNIT, right) if p)
