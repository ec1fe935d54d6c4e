"""The model extractor: a trained spaCy pipeline that decides a figure's metric and status.

An optional stage (STYLE 11): nothing in the rules-only pipeline imports this package, and a
missing model is reported when it is asked for, never at import time.

- ``context``: the text a classifier sees for one figure (the number replaced by a placeholder);
- ``dataset``: training examples from gold JSONL aligned to spans of their documents;
- ``nlp``: the spaCy pipeline definition (``spacy.blank("zh")`` with the jieba segmenter);
- ``train``: training with a fixed seed, and the out-of-fold measurement that sets thresholds;
- ``predict``: ``FigureModel``, the trained pipeline loaded from a path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SHIPPED_MODEL = Path(__file__).resolve().parent / "trained"


def dict_hash(jieba_dict: str) -> str:
    """The jieba user dictionary's fingerprint a model records (its tokenizer cuts with it)."""
    return hashlib.sha256(jieba_dict.encode("utf-8")).hexdigest()


__all__ = ["SHIPPED_MODEL", "dict_hash"]
