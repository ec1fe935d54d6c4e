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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.util import compounding, fix_random_seed, minibatch

from extract.model import dict_hash
from extract.model.dataset import Example
from extract.model.nlp import COMPONENTS, make_nlp
from extract.model.predict import META_FILE
from extract.rules import RuleSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """How a model is trained; the defaults are the tuned ones (bench/MODEL.md).

    ``architecture``: ``bow`` beat ``ensemble`` (bag of words + CNN) and ``cnn`` out of fold on
    our few hundred figures per metric, and trains and predicts several times faster.
    """

    seed: int = 0
    epochs: int = 30
    dropout: float = 0.2  # used by the CNN layers only; the bag of words has none
    batch_start: float = 8.0
    batch_end: float = 32.0
    components: tuple[str, ...] = COMPONENTS
    architecture: str = "bow"


# Labels every model has, whatever its gold holds: exclusive classes need at least two.
ALWAYS = {"metric": ("other",), "status": ("actual", "plan", "prior")}


def labels_of(examples: Sequence[Example], component: str) -> list[str]:
    return sorted({getattr(e, component) for e in examples} | set(ALWAYS.get(component, ())))


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


def train_model(
    gold_roots: Sequence[Path | str],
    out_dir: Path | str,
    rules: RuleSet | None = None,
    settings: TrainSettings | None = None,
    folds: int = 5,
) -> dict[str, Any]:
    """Train on every gold file under ``gold_roots`` (``heldout/`` skipped) and save to ``out_dir``.

    With ``folds`` > 1 the hybrid's thresholds are first measured out of fold (``measure``) and
    saved beside the pipeline; with 0 or 1 the cautious defaults of ``HybridPolicy`` apply.
    Returns a summary: examples, unaligned gold rows, the out-of-fold scores, seconds taken.
    """
    from extract.figures.hybrid import HybridPolicy
    from extract.model.dataset import build_dataset
    from extract.model.measure import choose_policy, cross_validate
    from extract.rules import load_rules

    started = time.perf_counter()
    settings = settings or TrainSettings()
    rules = rules or load_rules()
    data = build_dataset(gold_roots, rules)
    if not data.examples:
        raise ValueError(f"no gold figures found under {', '.join(map(str, gold_roots))}")
    meta: dict[str, Any] = {
        "seed": settings.seed,
        "settings": asdict(settings),
        "gold_files": [_shown(f) for f in sorted(data.files)],
        "examples": len(data.examples),
        "unaligned": len(data.unaligned),
        "labels": {c: labels_of(data.examples, c) for c in settings.components},
        # the tokenizer cuts with the rules' jieba dictionary: a model trained under another one
        # still runs, with a warning (figures.hybrid)
        "jieba_dict_sha256": dict_hash(rules.jieba_dict),
    }
    policy = HybridPolicy()
    if folds > 1 and len(data.files) >= folds:
        answers, gold = cross_validate(data, rules, folds, lambda examples: train_nlp(examples, settings))
        policy, meta["out_of_fold"] = choose_policy(answers, gold)
        meta["out_of_fold"]["folds"] = folds
    meta["policy"] = asdict(policy)
    nlp = train_nlp(data.examples, settings)
    save_model(nlp, out_dir, meta)
    summary = dict(meta, seconds=round(time.perf_counter() - started, 1), out=str(out_dir))
    log.info("model saved to %s in %.0fs", out_dir, summary["seconds"])
    return summary


def _shown(path: str) -> str:
    """A gold path as the manifest shows it: relative to the working folder where possible."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name
