"""The trained pipeline, loaded from a path, as a classifier of figure contexts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from extract.model import SHIPPED_MODEL

if TYPE_CHECKING:
    from extract.segment import Segmenter

log = logging.getLogger(__name__)

CACHED_IDS = 50_000  # words remembered with their ids
META_FILE = "zongjie.json"  # beside spaCy's own meta.json: thresholds and training facts


class ModelNotFound(FileNotFoundError):
    """No trained pipeline at the path given (or none shipped with the package)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    confidence: float  # the label's probability among the labels allowed for the figure


class FigureModel:
    """A trained pipeline; ``predict(texts, "metric", allowed)`` classifies figure contexts."""

    def __init__(self, nlp: Any, meta: dict[str, Any], path: Path | None = None) -> None:
        self.nlp = nlp
        self.meta = meta
        self.path = path
        self.components = tuple(nlp.pipe_names)
        self._masks: dict[tuple[str, frozenset[str]], numpy.ndarray] = {}
        words_of = getattr(nlp.tokenizer, "words_of", None)
        # spaCy's own forward pass where the fast one does not apply (another architecture or tokenizer)
        self._bow = {c: BowScores.of(nlp.get_pipe(c), words_of) if words_of else None for c in self.components}

    @classmethod
    def load(cls, path: Path | str | None = None, segmenter: Segmenter | None = None) -> FigureModel:
        """The pipeline saved at ``path``; the one shipped in the package when ``path`` is None.

        ``segmenter``: the extraction pipeline's own, shared by the model's tokenizer (by default
        one is built from the packaged rules on first use).
        """
        import spacy

        import extract.model.nlp  # noqa: F401  (registers the tokenizer the saved config names)

        path = Path(path) if path is not None else SHIPPED_MODEL
        if not (path / "config.cfg").is_file():
            raise ModelNotFound(f"no trained model at {path} (train one with `zongjie train`)")
        nlp = spacy.load(path)
        if segmenter is not None:
            nlp.tokenizer.segmenter = segmenter
        meta_path = path / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        return cls(nlp, meta, path)

    def _mask(self, component: str, labels: Sequence[str], keep: Collection[str]) -> numpy.ndarray:
        key = (component, keep if isinstance(keep, frozenset) else frozenset(keep))
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = numpy.array([label in keep for label in labels], dtype=bool)
        return mask

    def _all(self, component: str, labels: Sequence[str]) -> numpy.ndarray:
        return self._mask(component, labels, frozenset(labels))

    def labels(self, component: str) -> tuple[str, ...]:
        return tuple(self.nlp.get_pipe(component).labels)

    def predict(
        self, texts: Sequence[str], component: str, allowed: Sequence[Collection[str] | None] | None = None
    ) -> list[Prediction]:
        """The best label of ``component`` for each text, among ``allowed[i]`` when given."""
        if not texts:
            return []
        pipe = self.nlp.get_pipe(component)
        bow = self._bow.get(component)
        scores = bow(texts) if bow is not None else numpy.asarray(pipe.predict([self.nlp.make_doc(t) for t in texts]))
        labels = pipe.labels
        if allowed is not None:  # one matrix of masks; a mask that allows nothing leaves its row whole
            masks = numpy.stack(
                [
                    self._mask(component, labels, keep) if keep is not None else self._all(component, labels)
                    for keep in allowed
                ]
            )
            masks[~masks.any(axis=1)] = True
            scores = numpy.where(masks, scores, 0.0)
        best = scores.argmax(axis=1)
        totals = scores.sum(axis=1)
        top = scores[numpy.arange(len(best)), best]
        confidence = numpy.divide(top, totals, out=numpy.zeros_like(top), where=totals > 0)
        return [Prediction(labels[b], float(c)) for b, c in zip(best.tolist(), confidence.tolist(), strict=True)]


class BowScores:
    """The scores of a bag-of-words ``textcat`` (spaCy's ``TextCatBOW``) for many texts in one pass.

    spaCy's forward pass builds a ``Doc`` per text and counts its n-grams with a numpy ``unique``
    per text (``extract_ngrams``): for the dozen words of a figure's context that per-text overhead
    is most of the classifier's time. This computes the same keys for all texts at once (the words'
    ``ORTH`` ids, their n-gram hashes by thinc's own ``ops.ngrams``, the counts per text by one
    sort) and runs the component's own sparse layer and softmax on them. ``tests/test_model.py``
    checks the scores equal ``pipe.predict``'s on every context of the corpus.
    """

    def __init__(
        self, words_of: Callable[[Sequence[str]], list[list[str]]], ngram_size: int, linear: Any, ops: Any
    ) -> None:
        self.words_of = words_of
        self.ngram_size = ngram_size
        self.linear = linear
        self.ops = ops
        self._ids: dict[str, int] = {}  # word → its ORTH id (hashing a word costs six dict lookups)

    @classmethod
    def of(cls, pipe: Any, words_of: Callable[[Sequence[str]], list[list[str]]]) -> BowScores | None:
        """The fast pass for ``pipe`` if it is an exclusive-class ``TextCatBOW`` over ``ORTH``, else None."""
        from spacy.attrs import ORTH

        names = [node.name for node in pipe.model.walk()]
        if names[0] != "with_cpu(extract_ngrams>>resizable(sparse_linear))>>with_cpu(softmax_activation)":
            return None
        ngrams = next(node for node in pipe.model.walk() if node.name == "extract_ngrams")
        if ngrams.attrs["attr"] != ORTH:
            return None
        return cls(words_of, ngrams.attrs["ngram_size"], pipe.model.get_ref("output_layer"), pipe.model.ops)

    def __call__(self, texts: Sequence[str]) -> numpy.ndarray:
        words = [[self._ids.get(w) or self._id(w) for w in ws] for ws in self.words_of(texts)]
        sizes = numpy.fromiter((len(w) for w in words), dtype=numpy.int64, count=len(words))
        unigrams = numpy.fromiter((i for w in words for i in w), dtype=numpy.uint64, count=int(sizes.sum()))
        text_of = numpy.repeat(numpy.arange(len(words)), sizes)
        keys, owners = [unigrams], [text_of]
        for n in range(2, self.ngram_size + 1):
            grams = self.ops.ngrams(n, unigrams)  # over the whole batch: drop those across two texts
            within = text_of[: len(grams)] == text_of[n - 1 :]
            keys.append(grams[within])
            owners.append(text_of[: len(grams)][within])
        key, owner = numpy.concatenate(keys), numpy.concatenate(owners)
        order = numpy.lexsort((key, owner))  # by text, then key: numpy.unique's order within a text
        key, owner = key[order], owner[order]
        first = numpy.ones(len(key), dtype=bool)
        first[1:] = (key[1:] != key[:-1]) | (owner[1:] != owner[:-1])
        starts = numpy.flatnonzero(first)
        counts = numpy.diff(numpy.append(starts, len(key))).astype("f")
        lengths = numpy.bincount(owner[starts], minlength=len(texts)).astype("int32")
        scores = self.linear.predict((numpy.ascontiguousarray(key[starts]), counts, lengths))
        return numpy.asarray(self.ops.softmax(scores, inplace=False))

    def _id(self, word: str) -> int:
        from spacy.strings import get_string_id

        if len(self._ids) >= CACHED_IDS:
            self._ids.clear()
        self._ids[word] = get_string_id(word)
        return self._ids[word]
