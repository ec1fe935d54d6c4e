"""Training the pipeline of ``nlp.py`` on gold examples, reproducibly.

Everything random is seeded from one number (``spacy.util.fix_random_seed`` for numpy, thinc and
Python's ``random``, and a private ``random.Random`` for the shuffles), examples are built in a
sorted order, and the CPU ops are deterministic: the same gold and seed give the same weights.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.util import compounding, fix_random_seed, minibatch

from extract.model.dataset import Example
from extract.model.nlp import COMPONENTS, make_nlp
from extract.model.predict import META_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    epochs: int = 30
    dropout: float = 0.2
    batch_start: float = 8.0
    batch_end: float = 32.0
    components: tuple[str, ...] = COMPONENTS
    architecture: str = "ensemble"


def labels_of(examples: Sequence[Example], component: str) -> list[str]:
    labels = {getattr(e, component) for e in examples}
    if component == "metric":
        labels.add("other")
    return sorted(labels)


def _cats(label: str, labels: list[str]) -> dict[str, float]:
    return {name: float(name == label) for name in labels}


def train_nlp(examples: Sequence[Example], settings: TrainSettings | None = None) -> Language:
    """A new pipeline trained on ``examples``; one component per name in ``settings.components``."""
    settings = settings or TrainSettings()
    fix_random_seed(settings.seed)
    rng = random.Random(settings.seed)
    labels = {c: labels_of(examples, c) for c in settings.components}
    nlp = make_nlp(labels, settings.architecture)
    data: dict[str, list[SpacyExample]] = {}
    for component in settings.components:
        data[component] = [
            SpacyExample.from_dict(nlp.make_doc(e.text), {"cats": _cats(getattr(e, component), labels[component])})
            for e in examples
        ]
    everything = [eg for component in settings.components for eg in data[component]]
    optimizer = nlp.initialize(lambda: everything)
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        losses: dict[str, float] = {}
        for component in settings.components:
            pipe = nlp.get_pipe(component)
            batch_data = list(data[component])
            rng.shuffle(batch_data)
            for batch in minibatch(batch_data, size=compounding(settings.batch_start, settings.batch_end, 1.001)):
                pipe.update(batch, drop=settings.dropout, sgd=optimizer, losses=losses)
        log.debug("epoch %d losses %s", epoch, losses)
    log.info("trained on %d examples in %.1fs", len(examples), time.perf_counter() - started)
    return nlp


def save_model(nlp: Language, out_dir: Path | str, meta: dict[str, Any]) -> Path:
    """Write the pipeline and ``zongjie.json`` (policy, training facts) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nlp.meta["name"] = "zongjie_figures"
    nlp.meta["version"] = "0.1.0"
    nlp.meta["description"] = "Metric and status of reported figures in Chinese union summaries"
    nlp.to_disk(out)
    (out / META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return out
