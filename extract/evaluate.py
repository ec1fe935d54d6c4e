"""Scoring extracted figures against gold annotations (../shared/spec/ANNOTATION.md).

The same three levels as the team's reference scorer, each a multiset match:
figures (doc, value, unit class), metrics (+ metric), full (+ status), and each again with the
document reduced to its file. A gold row with an empty unit matches any unit.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LEVELS = ("figures", "metrics", "full")
# The scorer's unit classes: person words compare alike, 人次 apart, money, percent; others as themselves.
UNIT_CLASS = {
    "人": "person",
    "名": "person",
    "位": "person",
    "个人": "person",
    "人次": "person_time",
    "元": "money",
    "美元": "usd",
    "%": "percent",
    "％": "percent",
}

Row = Mapping[str, Any]
Key = tuple[Any, ...]


def unit_class(unit: object) -> str:
    text = "" if unit is None or unit != unit else str(unit).strip()  # NaN from pandas counts as empty
    return UNIT_CLASS.get(text, text)


def norm_value(value: object) -> float | None:
    """The value as the reference scorer compares it.

    >>> norm_value("3697"), norm_value(None), norm_value(1036253000000.4)
    (3697.0, None, 1036253000000)
    """
    if value is None or value == "":
        return None
    number = float(value)  # type: ignore[arg-type]
    if number != number:
        return None
    return round(number, 4) if abs(number) < 1e6 else round(number)


def _key(row: Row, level: str, by_file: bool, with_unit: bool = True) -> Key:
    doc = str(row.get("doc") or row.get("doc_id") or "")
    if by_file:
        doc = doc.split("#", 1)[0]
    key: Key = (doc, norm_value(row.get("value")))
    if with_unit:
        key += (unit_class(row.get("unit")),)
    if level in ("metrics", "full"):
        key += (str(row.get("metric") or "").strip(),)
    if level == "full":
        status = row.get("status")
        key += ((str(status).strip() if status and status == status else "actual"),)
    return key


def _match(gold: list[Row], pred: list[Row], level: str, by_file: bool) -> tuple[int, int, int]:
    exact = Counter(_key(r, level, by_file) for r in gold if unit_class(r.get("unit")))
    loose = Counter(_key(r, level, by_file, False) for r in gold if not unit_class(r.get("unit")))
    predicted = Counter(_key(r, level, by_file) for r in pred)
    hit = exact & predicted
    rest: Counter[Key] = Counter()
    for key, n in (predicted - hit).items():
        rest[key[:2] + key[3:]] += n
    matched = sum(hit.values()) + sum((loose & rest).values())
    return matched, sum(exact.values()) + sum(loose.values()), sum(predicted.values())


def prf(matched: int, n_gold: int, n_pred: int) -> dict[str, float | int]:
    p = matched / max(1, n_pred)
    r = matched / max(1, n_gold)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "matched": matched,
        "gold": n_gold,
        "predicted": n_pred,
    }


def score(gold: Iterable[Row], pred: Iterable[Row]) -> dict[str, dict[str, float | int]]:
    """P/R/F1 at every level.

    >>> g = [{"doc": "d", "value": 31, "unit": "份", "metric": "cb.contracts", "status": "actual"}]
    >>> p = [{"doc_id": "d", "value": 31.0, "unit": "份", "metric": "cb.contracts", "status": "plan"}]
    >>> s = score(g, p); s["metrics"]["f1"], s["full"]["f1"]
    (1.0, 0.0)
    """
    gold, pred = list(gold), list(pred)
    out = {}
    for by_file in (False, True):
        for level in LEVELS:
            out[level + ("_by_file" if by_file else "")] = prf(*_match(gold, pred, level, by_file))
    return out


def score_by_metric(gold: Iterable[Row], pred: Iterable[Row]) -> dict[str, dict[str, float | int]]:
    """P/R/F1 at the metrics level for each metric id (gold or predicted)."""
    gold, pred = list(gold), list(pred)
    metrics = sorted({str(r.get("metric")) for r in gold} | {str(r.get("metric")) for r in pred})
    return {
        m: prf(
            *_match(
                [r for r in gold if r.get("metric") == m],
                [r for r in pred if r.get("metric") == m],
                "metrics",
                False,
            )
        )
        for m in metrics
    }


def read_gold(path: Path, predicted_docs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One ``.gold.jsonl`` file, or every one below a folder.

    Gold names a document by its file's stem. A folder extracted whole gives a file in a subfolder
    the id ``sub/stem`` (:mod:`extract.doc_ids`): a gold row of ``sub/x.gold.jsonl`` takes that id
    when it is among ``predicted_docs`` (the ids of the predictions scored against it).
    """
    files = sorted(path.rglob("*.gold.jsonl")) if path.is_dir() else [path]
    predicted = {d.split("#", 1)[0] for d in predicted_docs}
    rows = []
    for f in files:
        folder = f.parent.relative_to(path).as_posix() if path.is_dir() else "."
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                placed = f"{folder}/{row.get('doc')}"
                if folder != "." and placed.split("#", 1)[0] in predicted:
                    row["doc"] = placed
                rows.append(row)
    return rows


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """``figures.csv`` / ``.parquet`` / ``.jsonl``, or an output folder holding one."""
    if path.is_dir():
        for name in ("figures.parquet", "figures.csv"):
            if (path / name).exists():
                return read_predictions(path / name)
        raise FileNotFoundError(f"no figures.parquet or figures.csv in {path}")
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def format_scores(scores: Mapping[str, Mapping[str, float | int]]) -> str:
    """The reference scorer's lines, so results can be quoted side by side."""
    return "\n".join(
        f"{name:18} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}"
        f"  ({s['matched']} of {s['gold']} gold, {s['predicted']} predicted)"
        for name, s in scores.items()
    )
