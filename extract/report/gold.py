"""``export-gold``: reviewed figures as gold JSONL in the ``../shared/spec/ANNOTATION.md`` format.

One ``<stem>.gold.jsonl`` per input file (the parts of a compilation, ``stem#N``, share their
file's gold, as the shared seed does), one line per figure in text order:
``doc, surface, value, unit, metric, status`` and, where they apply, ``approx``, ``value_max``,
``qualifier``. By default only documents a reviewer has touched are written.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from extract.doc_ids import doc_order
from extract.report.corrections import apply_corrections, export_corrected, figure_rows, read_corrections
from extract.store import Store

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def gold_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """One figure row as a gold line; optional fields only where they say something.

    >>> gold_line({"doc_id": "s#1", "surface": "90%以上", "value": 90.0, "unit": "%", "metric": "cb.coverage_rate",
    ...            "status": "actual", "approx": True, "value_max": None, "qualifier": "建会企业"})
    {'doc': 's#1', 'surface': '90%以上', 'value': 90, 'unit': '%', 'metric': 'cb.coverage_rate', 'status': 'actual', \
'approx': True, 'qualifier': '建会企业'}
    """
    line: dict[str, Any] = {
        "doc": row["doc_id"],
        "surface": row["surface"],
        "value": _number(row.get("value")),
        "unit": row.get("unit") or "",
        "metric": row["metric"],
        "status": row["status"],
    }
    if row.get("approx") is True or row.get("approx") == 1:
        line["approx"] = True
    if _number(row.get("value_max")) is not None:
        line["value_max"] = _number(row.get("value_max"))
    qualifier = row.get("qualifier")
    if isinstance(qualifier, str) and qualifier:
        line["qualifier"] = qualifier
    return line


def _number(v: Any) -> int | float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    return int(f) if f.is_integer() else f


def gold_file_name(doc_id: str) -> str:
    """The gold file of a document: its input file's stem (``stem#N`` → ``stem``).

    >>> gold_file_name("seed-town-union-summaries#3"), gold_file_name("../a/b")
    ('seed-town-union-summaries.gold.jsonl', '.._a_b.gold.jsonl')
    """
    stem = _UNSAFE.sub("_", doc_id.split("#", 1)[0]) or "document"
    if stem.startswith("."):
        stem = "_" + stem[1:] if stem in (".", "..") else stem
    return f"{stem}.gold.jsonl"


def gold_by_file(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Kept figure rows → gold lines grouped by gold file, each file in (doc, offset) order."""
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("review") == "reject":
            continue
        grouped[gold_file_name(str(row["doc_id"]))].append(row)
    return {
        name: [gold_line(r) for r in sorted(items, key=lambda r: (doc_order(str(r["doc_id"])), int(r["start"])))]
        for name, items in sorted(grouped.items())
    }


def export_gold(directory: Path, out: Path | None = None, *, all_documents: bool = False) -> list[Path]:
    """Write gold JSONL for the reviewed documents of the store in ``directory`` (or every document).

    Also writes ``figures_corrected.csv``/``.parquet`` (the figures table with corrections applied).
    Returns the gold files written.
    """
    out = Path(out or Path(directory) / "gold")
    with Store(directory, read_only=True) as store:
        corrections = read_corrections(store.con)
        applied = apply_corrections(figure_rows(store.con), corrections)
        export_corrected(store, Path(directory))
    reviewed = {(c.sha256, c.doc_id) for c in corrections}
    rows = [r for r in applied.rows if all_documents or (str(r.get("sha256")), str(r["doc_id"])) in reviewed]
    files = gold_by_file(rows)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, lines in files.items():
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    if applied.orphans:
        log.warning("%d corrections were not applied: their figures are gone from the store", len(applied.orphans))
    return written
