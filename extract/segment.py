"""Word segmentation: the only module that imports jieba.

It builds its own ``jieba.Tokenizer`` (never jieba's global one) with the union-domain user
dictionary from ``rules/jieba_user.dict``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jieba
import jieba.posseg

log = logging.getLogger(__name__)
# jieba logs its dictionary loading at INFO on its own logger; keep it quiet unless asked.
jieba.setLogLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int


class Segmenter:
    """A jieba tokenizer with the user dictionary loaded once."""

    def __init__(self, user_dict: str) -> None:
        self.tokenizer = jieba.Tokenizer()
        # jieba reads user dictionaries from files only.
        with tempfile.NamedTemporaryFile("w", suffix=".dict", encoding="utf-8", delete=False) as f:
            # jieba would read a comment line as a word
            f.write("\n".join(line for line in user_dict.splitlines() if not line.startswith("#")) + "\n")
            path = Path(f.name)
        try:
            self.tokenizer.load_userdict(str(path))
        finally:
            path.unlink(missing_ok=True)
        self.tagger = _tagger(self.tokenizer)

    def tokens(self, text: str) -> list[Token]:
        """Tokens with their offsets in ``text``.

        >>> seg = Segmenter("工资集体协商 100 n\\n")
        >>> [t.text for t in seg.tokens("开展工资集体协商")]
        ['开展', '工资集体协商']
        """
        return [Token(w, s, e) for w, s, e in self.tokenizer.tokenize(text, HMM=True)]

    def cut(self, text: str, hmm: bool = True) -> list[str]:
        return self.tokenizer.lcut(text, HMM=hmm)

    def knows(self, word: str) -> bool:
        """Whether jieba's own dictionary already has ``word`` (with its real part of speech)."""
        self.tokenizer.check_initialized()
        return bool(self.tokenizer.FREQ.get(word))

    def tag(self, text: str) -> list[tuple[str, str]]:
        """Words with their part-of-speech flags (jieba's ICTCLAS-style tags: n, ns, v, p, …)."""
        return [(p.word, p.flag) for p in self.tagger.lcut(text, HMM=True)]


def _tagger(tokenizer: jieba.Tokenizer) -> jieba.posseg.POSTokenizer:
    """A part-of-speech tagger over ``tokenizer``.

    ``POSTokenizer(tokenizer)`` would parse the main dictionary's tags again (1 s in every worker),
    though ``jieba.posseg`` already holds them for its own tagger over the same file. A copy, because
    a tagger adds the user dictionary's tags to its table.
    """
    shared = jieba.posseg.dt
    if tokenizer.dictionary != shared.tokenizer.dictionary:
        return jieba.posseg.POSTokenizer(tokenizer)
    tagger = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
    tagger.tokenizer = tokenizer
    tagger.word_tag_tab = dict(shared.word_tag_tab)
    return tagger
