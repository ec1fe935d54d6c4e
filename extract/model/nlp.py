"""The spaCy pipeline: ``spacy.blank("zh")`` with the jieba segmenter and two text classifiers.

The tokenizer is the project's own jieba segmenter (``extract/segment.py``, with the union-domain
user dictionary), not spaCy's ``ChineseTokenizer``, which would load jieba's global dictionary a
second time in every process (about 50 MB and a second of loading) and cut words the rules'
dictionary keeps whole. A loaded pipeline shares the segmenter its extraction pipeline already has.

``metric`` and ``status`` are exclusive-class ``textcat`` components over a figure's context
(``context.py``): by default a bag of jieba words and word bigrams (``bow``); a small CNN over
word and character features (``cnn``) and the ensemble of both are there to compare. Sizes are
chosen for a few hundred training figures, two CPU cores and a shipped model well under 30 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import DummyTokenizer, get_words_and_spaces
from spacy.vocab import Vocab

from extract.segment import Segmenter

COMPONENTS = ("metric", "status")
TOKENIZER = "zongjie.Segmenter.v1"
TOKENIZER_CONFIG = {"nlp": {"tokenizer": {"@tokenizers": TOKENIZER}}}
CACHED_PIECES = 20_000  # pieces of context remembered with their words (the same few recur)


class SegmenterTokenizer(DummyTokenizer):
    """spaCy's tokenizer over the project's ``Segmenter``.

    A context (``context.py``) is pieces between spaces: the marker words (document type, the
    rules' answer, ``NUM``) are taken whole, and only the text pieces go through jieba, without
    its HMM for unknown words (a sixth faster on these short pieces), each cut once and
    remembered: segmenting is most of the model's time per figure (bench/MODEL.md).

    ``segmenter`` is set by whoever loads the pipeline (``FigureModel.load``); left unset, the
    packaged rules' segmenter is built on first use. Nothing of it is saved with the model: the
    user dictionary is rules data, and the model records its hash (``zongjie.json``).
    """

    def __init__(self, vocab: Vocab, segmenter: Segmenter | None = None) -> None:
        self.vocab = vocab
        self.segmenter = segmenter
        self._pieces: dict[str, list[str]] = {}

    def forget(self) -> None:
        """Drop the remembered pieces (a benchmark's cold start)."""
        self._pieces.clear()

    def words(self, piece: str) -> list[str]:
        """The words of one piece (no whitespace in it)."""
        words = self._pieces.get(piece)
        if words is None:
            words = [piece] if piece.isascii() and piece.isalnum() else self._cut(piece)
            if len(self._pieces) >= CACHED_PIECES:
                self._pieces.clear()
            self._pieces[piece] = words
        return words

    def words_of(self, texts: Sequence[str]) -> list[list[str]]:
        """The words of each text, as the ``Doc`` of ``self(text)`` has them (no spaces).

        The pieces not remembered yet go through jieba in one call, a line each: jieba cuts at
        every line break anyway, so each piece gets the words it gets alone, and the call's own
        overhead is paid once per batch instead of once per piece.
        """
        split = [text.split() for text in texts]
        new = {p for pieces in split for p in pieces if p not in self._pieces and not (p.isascii() and p.isalnum())}
        if new:
            if len(self._pieces) + len(new) > CACHED_PIECES:
                self._pieces.clear()
            pieces = list(new)
            words = self._cut("\n".join(pieces))
            breaks = [i for i, w in enumerate(words) if w == "\n"]
            for piece, start, end in zip(pieces, [-1, *breaks], [*breaks, len(words)], strict=True):
                self._pieces[piece] = words[start + 1 : end]
        return [[w for p in pieces for w in self.words(p)] for pieces in split]

    def _cut(self, text: str) -> list[str]:
        if self.segmenter is None:
            self.segmenter = default_segmenter()
        return self.segmenter.cut(text, hmm=False)

    def __call__(self, text: str) -> Doc:
        pieces = text.split(" ")
        if all(pieces) and not any(p.isspace() or not p.isprintable() for p in pieces):
            # single spaces between pieces, as context.py writes them: words and spaces directly
            words: list[str] = []
            spaces: list[bool] = []
            for piece in pieces:
                cut = self.words(piece)
                words.extend(cut)
                spaces.extend([False] * (len(cut) - 1) + [True])
            spaces[-1] = False
        else:
            words, spaces = get_words_and_spaces(self.words_of([text])[0], text)
        return Doc(self.vocab, words=words, spaces=spaces)


@lru_cache(maxsize=1)
def default_segmenter() -> Segmenter:
    """The packaged rules' segmenter, built once per process for tokenizers given none."""
    from extract.rules import load_rules

    return Segmenter(load_rules().jieba_dict)


@spacy.registry.tokenizers(TOKENIZER)
def create_tokenizer() -> Callable[[Language], SegmenterTokenizer]:
    def make(nlp: Language) -> SegmenterTokenizer:
        return SegmenterTokenizer(nlp.vocab)

    return make


# Hash table sizes. The bag of words has one weight per bucket and label: 2**14 buckets x ~60
# metric labels x 4 bytes ≈ 4 MB on disk, the largest part of the shipped model. Training time
# goes mostly into Adam updating every weight: 2**15 trained half as fast for no better accuracy
# out of fold, 2**13 lost a point (bench/MODEL.md).
BOW_BUCKETS = {"metric": 2**14, "status": 2**12}
EMBED_WIDTH = 64
EMBED_ROWS = [4000, 1000, 1000]  # NORM, PREFIX (first character), SUFFIX (last character)


def textcat_model(component: str, architecture: str = "bow") -> dict[str, Any]:
    """The ``model`` block of one component's config: ``bow``, ``cnn`` or their ``ensemble``."""
    bow = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 2,
        "no_output_layer": False,
        "length": BOW_BUCKETS[component],
    }
    if architecture == "bow":
        return bow
    tok2vec = {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {
            "@architectures": "spacy.MultiHashEmbed.v2",
            "width": EMBED_WIDTH,
            "attrs": ["NORM", "PREFIX", "SUFFIX"],
            "rows": EMBED_ROWS,
            "include_static_vectors": False,
        },
        "encode": {
            "@architectures": "spacy.MaxoutWindowEncoder.v2",
            "width": EMBED_WIDTH,
            "window_size": 1,
            "maxout_pieces": 3,
            "depth": 2,
        },
    }
    if architecture == "cnn":
        return {
            "@architectures": "spacy.TextCatCNN.v2",
            "tok2vec": tok2vec,
            "exclusive_classes": True,
            "nO": None,
        }
    return {"@architectures": "spacy.TextCatEnsemble.v2", "tok2vec": tok2vec, "linear_model": bow}


def make_nlp(labels: dict[str, list[str]], architecture: str = "bow", segmenter: Segmenter | None = None) -> Language:
    """A blank pipeline with one exclusive ``textcat`` per component in ``labels``.

    >>> nlp = make_nlp({"metric": ["org.unions", "other"], "status": ["actual", "plan"]})
    >>> nlp.pipe_names
    ['metric', 'status']
    """
    nlp = spacy.blank("zh", config=TOKENIZER_CONFIG)
    nlp.tokenizer.segmenter = segmenter
    for component in COMPONENTS:
        if component not in labels:
            continue
        nlp.add_pipe(
            "textcat",
            name=component,
            config={"model": textcat_model(component, architecture), "threshold": 0.0},
        )
        nlp.config["initialize"]["components"][component] = {"labels": sorted(labels[component])}
    return nlp
