"""Build the training documents and their gold from the annotated sources in ``src/``.

Written by the model's developer for training only (never scored as held-out): union summaries of
every doc_type and non-union work summaries, in wording of their own. In a source, every figure is
marked where it stands::

    全年新建基层工会[[23家|org.unions_new]]，明年力争再建[[20家|org.unions_new|plan]]。
    建会率和入会率均达到[[95%以上|org.union_rate+org.member_rate]]。

``surface|metric[|status]``: status defaults to ``actual``; ``a+b`` writes one gold row per metric
(one number stated for several statistics). Value, unit, approx and range come from the rules'
candidate finder reading the surface alone, so they follow ANNOTATION.md as the rules read it; a
surface it cannot read whole is an error. Document ids follow the pipeline's split, so a
compilation's parts get ``stem#N``. Run again after changing a source::

    .venv/bin/python corpus/train/make_train.py            # writes corpus/train/*.txt, *.gold.jsonl
    .venv/bin/python corpus/train/make_train.py --check    # exit 1 if the outputs are stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
MARK = re.compile(r"\[\[([^|\]]+)\|([^|\]]+)(?:\|([^|\]]+))?\]\]")
STATUSES = ("actual", "plan", "prior")


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


@lru_cache(maxsize=1)
def _stages():  # type: ignore[no-untyped-def]
    """The rules, candidate finder and document preparer, built once for every source."""
    from extract.figures.candidates import CandidateFinder
    from extract.rules import load_rules
    from extract.text.documents import DocumentPreparer

    rules = load_rules()
    return rules, CandidateFinder(rules.units), DocumentPreparer(rules)


def build(source: Path) -> tuple[str, list[dict[str, object]]]:
    """The plain text of one annotated source and its gold rows."""
    from extract.pipeline import raw_from_text

    rules, finder, preparer = _stages()
    annotated = source.read_text(encoding="utf-8")
    stem = source.name.removesuffix(".txt.in")
    pieces, marks, pos = [], [], 0
    length = 0
    for hit in MARK.finditer(annotated):
        pieces.append(annotated[pos : hit.start()])
        length += hit.start() - pos
        surface, metrics, status = hit.group(1), hit.group(2), hit.group(3) or "actual"
        if status not in STATUSES:
            raise SystemExit(f"{source.name}: {surface!r}: unknown status {status!r}")
        marks.append((length, surface, metrics.split("+"), status))
        pieces.append(surface)
        length += len(surface)
        pos = hit.end()
    pieces.append(annotated[pos:])
    text = "".join(pieces)
    if "[[" in text or "]]" in text:
        raise SystemExit(f"{source.name}: a malformed [[...]] mark is left in the text")
    docs = preparer(raw_from_text(text, stem), stem=stem)
    rows: list[dict[str, object]] = []
    taxonomy = rules.taxonomy.metrics
    for offset, surface, metrics, status in marks:
        doc_id = next((d.meta.doc_id for d in docs if d.meta.start <= offset < d.meta.end), stem)
        cands = [c for c in finder(surface) if c.start == 0 and c.end == len(surface)]
        if not cands:
            raise SystemExit(f"{source.name}: the candidate finder cannot read {surface!r} whole")
        c = cands[0]
        for metric in metrics:
            if metric not in taxonomy:
                raise SystemExit(f"{source.name}: {surface!r}: unknown metric {metric!r}")
            row: dict[str, object] = {
                "doc": doc_id,
                "surface": surface,
                "value": _number(c.value),
                "unit": c.unit,
                "metric": metric,
                "status": status,
            }
            if c.approx:
                row["approx"] = True
            if c.value_max is not None:
                row["value_max"] = _number(c.value_max)
            rows.append(row)
    return text, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--check", action="store_true", help="exit 1 when a committed output differs")
    a = ap.parse_args()
    stale = []
    for source in sorted(SRC.glob("*.txt.in")):
        text, rows = build(source)
        stem = source.name.removesuffix(".txt.in")
        gold = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        for path, content in ((a.out / f"{stem}.txt", text), (a.out / f"{stem}.gold.jsonl", gold)):
            if a.check:
                if not path.is_file() or path.read_text(encoding="utf-8") != content:
                    stale.append(path)
            else:
                path.write_text(content, encoding="utf-8")
    if stale:
        sys.exit("stale (run corpus/train/make_train.py): " + ", ".join(str(p) for p in stale))


if __name__ == "__main__":
    main()
