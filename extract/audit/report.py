"""Reading an output folder for the audit, writing its tables back, and findings as readable text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from extract.tables import write_table
from schemas.findings import SEVERITY_ORDER


class AuditInputError(Exception):
    """The folder holds no documents or figures table."""


def read_table(directory: Path, name: str) -> pd.DataFrame:
    """``name.parquet`` from ``directory``, else ``name.csv`` (UTF-8, with or without BOM)."""
    parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    if csv.is_file():
        return pd.read_csv(csv, encoding="utf-8-sig", dtype={"flags": str, "qualifier": str})
    raise AuditInputError(f"{directory}: no {name}.parquet or {name}.csv (run `zongjie extract` first)")


def read_inputs(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``documents`` and ``figures`` tables of an output folder."""
    return read_table(directory, "documents"), read_table(directory, "figures")


def write_outputs(frames: dict[str, pd.DataFrame], directory: Path) -> list[Path]:
    """Every frame as ``name.csv`` (UTF-8 with BOM) and ``name.parquet``; the CSV paths written."""
    written = []
    for name, frame in frames.items():
        write_table(frame, directory, name)
        written.append(directory / f"{name}.csv")
    return written


def _split(value: Any) -> list[str]:
    if not isinstance(value, str) or not value:
        return []
    return value.split(";")


def finding_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A findings row with its ';'-joined columns as lists, for JSON."""
    out = dict(row)
    for key in ("figure_ids", "figure_docs", "surfaces"):
        out[key] = _split(row.get(key))
    out["spans"] = [[int(x) for x in span.split(":")] for span in _split(row.get("spans"))]
    if isinstance(out.get("record_id"), float):
        out["record_id"] = None
    return out


def format_finding(row: dict[str, Any]) -> str:
    """One finding as a few readable lines: what, where, the arithmetic, the messages, the figures."""
    d = finding_dict(row)
    figures = []
    for i, surface in enumerate(d["surfaces"]):
        start, end = d["spans"][i]
        doc = d["figure_docs"][i] if i < len(d["figure_docs"]) else d["doc_id"]
        where = f"[{start}:{end}]" + ("" if doc == d["doc_id"] else f" in {doc}")
        figures.append(f"{surface} {where}")
    lines = [
        f"{d['severity'].upper():<8}{d['doc_id']}  {d['rule']}",
        f"  {d['arithmetic']}",
        f"  {d['message_zh']}",
        f"  {d['message_en']}",
        f"  figures: {' · '.join(figures)}",
    ]
    return "\n".join(lines)


def format_json(row: dict[str, Any]) -> str:
    return json.dumps(finding_dict(row), ensure_ascii=False)


def select(findings: pd.DataFrame, min_severity: str) -> list[dict[str, Any]]:
    """The findings at ``min_severity`` or worse, as row dicts."""
    limit = SEVERITY_ORDER[min_severity]
    return [r for r in findings.to_dict("records") if SEVERITY_ORDER[str(r["severity"])] <= limit]


def summary(frames: dict[str, pd.DataFrame]) -> str:
    """One line: findings by severity and by rule, records built, records that failed."""
    findings = frames["findings"]
    by_severity = Counter(findings["severity"]) if len(findings) else Counter()
    by_rule = Counter(findings["rule"]) if len(findings) else Counter()
    records = sum(len(frames[t]) for t in frames if t not in ("findings", "record_errors"))
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(by_rule.items()))
    return (
        f"{len(findings)} findings: {by_severity['error']} error, {by_severity['warning']} warning, "
        f"{by_severity['info']} info" + (f" ({rules})" if rules else "") + f"; {records} records, "
        f"{len(frames['record_errors'])} record errors"
    )
