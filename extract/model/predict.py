"""The trained pipeline, loaded from a path, as a classifier of figure contexts."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from extract.model import SHIPPED_MODEL

if TYPE_CHECKING:
    from extract.segment import Segmenter

log = logging.getLogger(__name__)

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
        docs = [self.nlp.make_doc(t) for t in texts]
        scores = numpy.asarray(pipe.predict(docs))
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
