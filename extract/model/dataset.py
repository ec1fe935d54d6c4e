"""Training examples from gold annotations: each gold row aligned to a span of its document.

Gold rows give doc, surface, value, unit, metric and status, but no offsets. A row is aligned by
running the rules' candidate finder on the same (prepared, split) document and taking the next
candidate with the row's value and unit class, in occurrence order; a row no candidate fits is
searched by its surface in the document's text. What cannot be aligned either way is returned,
never dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from extract.figures.candidates import Candidate, CandidateFinder
from extract.figures.extractor import RuleExtractor
from extract.ingest import read_path
from extract.model.context import figure_context
from extract.rules import RuleSet
from extract.text.documents import DocumentPreparer, PreparedDocument
from extract.text.normalise import normalise

log = logging.getLogger(__name__)

GOLD_SUFFIX = ".gold.jsonl"
# Folders whose gold is only ever scored, never trained on.
SKIPPED_FOLDERS = frozenset({"heldout", "real"})  # real: third-party pages, texts kept apart


@dataclass(frozen=True, slots=True)
class Example:
    """One aligned gold figure: the classifier's text and its two labels."""

    doc_id: str
    source: str  # the .txt the figure is in: cross-validation folds never split a file
    text: str
    metric: str
    status: str
    start: int  # span in the document's normalised text
    end: int
    aligned: str  # "candidate" or "surface"


@dataclass
class Dataset:
    examples: list[Example] = field(default_factory=list)
    unaligned: list[dict[str, object]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def gold_files(root: Path | str) -> list[Path]:
    """Every ``*.gold.jsonl`` under ``root`` with its ``.txt`` beside it, skipping ``heldout/``.

    ``root`` may also be one gold file. Sorted, so a dataset is built in the same order on every
    machine.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
        for name in files:
            if name.endswith(GOLD_SUFFIX):
                gold = Path(folder) / name
                if text_for(gold).is_file():
                    found.append(gold)
                else:
                    log.warning("%s: no .txt beside it, skipped", gold)
    return sorted(found)


def text_for(gold: Path) -> Path:
    return gold.with_name(gold.name[: -len(GOLD_SUFFIX)] + ".txt")


def read_gold(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


class Aligner:
    """Aligns gold rows to spans, with the rules' candidate finder and unit classes."""

    def __init__(self, rules: RuleSet) -> None:
        self.preparer = DocumentPreparer(rules)
        self.finder = CandidateFinder(rules.units)
        self.rule_extractor = RuleExtractor(rules)
        self.classes = {u.unit: set(u.classes) for u in rules.units.units}
        self.shared_words = tuple(rules.qualifiers.shared_value_words)

    def file(self, gold: Path) -> tuple[list[Example], list[dict[str, object]]]:
        """The examples of one gold file, and its rows that found no span."""
        txt = text_for(gold)
        raws = read_path(txt).documents
        docs: dict[str, PreparedDocument] = {}
        for raw in raws:
            for doc in self.preparer(raw, stem=txt.stem):
                docs[doc.meta.doc_id] = doc
        by_doc: dict[str, list[dict[str, object]]] = {}
        for row in read_gold(gold):
            by_doc.setdefault(str(row["doc"]), []).append(row)
        examples: list[Example] = []
        unaligned: list[dict[str, object]] = []
        for doc_id, rows in by_doc.items():
            doc = docs.get(doc_id)
            ruled: dict[tuple[int, int], list[tuple[str | None, float]]] = {}
            if doc is None:
                # The split disagrees with the gold's part numbers: align in the whole file instead.
                log.warning("%s: no part %s after splitting; aligned against the whole file", gold, doc_id)
                text = normalise(raws[0].text).text if raws else ""
            else:
                text = doc.text.text
                ruled = self.rule_answers(doc)
            doc_type = doc.meta.doc_type if doc is not None else None
            found, missed = self.rows(doc_id, str(txt), text, rows, doc_type, ruled)
            examples.extend(found)
            unaligned.extend(missed)
        return examples, unaligned

    def rule_answers(self, doc: PreparedDocument) -> dict[tuple[int, int], list[tuple[str | None, float]]]:
        """The rules' (metric, confidence) at each span of the normalised text, in their order.

        Spans are mapped from the figures' original offsets as the hybrid maps them.
        """
        from extract.figures.hybrid import rule_answer

        index = doc.text.index
        out: dict[tuple[int, int], list[tuple[str | None, float]]] = {}
        for f in self.rule_extractor(doc).figures:
            span = (bisect_left(index, f.start), bisect_left(index, f.end - 1) + 1)
            out.setdefault(span, []).append(rule_answer(f))
        return out

    def rows(
        self,
        doc_id: str,
        source: str,
        text: str,
        rows: list[dict[str, object]],
        doc_type: str | None = None,
        ruled: dict[tuple[int, int], list[tuple[str | None, float]]] | None = None,
    ) -> tuple[list[Example], list[dict[str, object]]]:
        """Examples for one document's gold ``rows``; ``ruled``: the rules' answers by span."""
        ruled = ruled or {}
        taken: dict[tuple[int, int], int] = {}  # gold rows already given each span
        cands = self.finder(text)
        used: set[int] = set()
        pos = 0  # where the previous row was found: rows follow the text's order
        last: tuple[int, str] | None = None  # (candidate index, surface) of the previous row
        examples, missed = [], []
        for row in rows:
            surface = normalise(str(row.get("surface") or "")).text
            value = _decimal(row.get("value"))
            unit = str(row.get("unit") or "")
            span: tuple[int, int, str] | None = None
            aligned = "candidate"
            if last is not None and last[1] == surface and self._shared(text, cands[last[0]]):
                i = last[0]  # one number stated for several statistics: the same span again
            else:
                i = self._find(text, cands, used, pos, value, unit, surface)
            if i is not None:
                used.add(i)
                c = cands[i]
                span = (c.start, c.end, c.unit or unit)
                last = (i, surface)
                pos = c.start
            else:
                aligned = "surface"
                at = text.find(surface, pos) if surface else -1
                if at < 0 and surface:
                    at = text.find(surface)
                if at >= 0:
                    span = (at, at + len(surface), unit)
                    pos = at
                last = None
            if span is None:
                missed.append(row)
                continue
            start, end, unit_used = span
            answers = ruled.get((start, end), [])
            k = taken.get((start, end), 0)
            taken[(start, end)] = k + 1
            rule = answers[min(k, len(answers) - 1)] if answers else None
            examples.append(
                Example(
                    doc_id=doc_id,
                    source=source,
                    text=figure_context(text, start, end, unit_used, doc_type, rule),
                    metric=str(row.get("metric") or "other"),
                    status=str(row.get("status") or "actual"),
                    start=start,
                    end=end,
                    aligned=aligned,
                )
            )
        return examples, missed

    def _shared(self, text: str, cand: Candidate) -> bool:
        clause_start = max(text.rfind(ch, 0, cand.start) for ch in "。;；,，\n") + 1
        return any(w in text[clause_start : cand.start] for w in self.shared_words)

    def _find(
        self,
        text: str,
        cands: list[Candidate],
        used: set[int],
        pos: int,
        value: Decimal | None,
        unit: str,
        surface: str,
    ) -> int | None:
        """The first unused candidate at or after ``pos`` that fits, else the first anywhere.

        Among the next few that fit, one written exactly as the gold surface wins.
        """
        order = [i for i, c in enumerate(cands) if c.start >= pos] + [i for i, c in enumerate(cands) if c.start < pos]
        fits = [i for i in order if i not in used and self._fits(cands[i], value, unit)]
        if not fits:
            return None
        exact = [i for i in fits[:3] if text[cands[i].start : cands[i].end] == surface]
        return exact[0] if exact else fits[0]

    def _fits(self, cand: Candidate, value: Decimal | None, unit: str) -> bool:
        if value is None:
            if not cand.placeholder:
                return False
        elif cand.value is None or cand.value.normalize() != value:
            return False
        if not unit or not cand.unit:
            return True
        return cand.unit == unit or bool(self.classes.get(cand.unit, set()) & self.classes.get(unit, set()))


def build_dataset(roots: Iterable[Path | str], rules: RuleSet) -> Dataset:
    """Examples from every gold file under ``roots`` (``heldout/`` folders skipped)."""
    aligner = Aligner(rules)
    data = Dataset()
    for root in roots:
        for gold in gold_files(root):
            found, missed = aligner.file(gold)
            data.examples.extend(found)
            data.unaligned.extend(missed)
            data.files.append(str(gold))
    if data.unaligned:
        log.warning("%d gold rows found no span in their document", len(data.unaligned))
    return data
