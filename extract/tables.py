"""Rows of the output tables, and writing them as CSV and Parquet."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.documents import DocumentMeta, ErrorRow
from schemas.figures import FIGURE_COLUMNS, Figure, Rejected

DOCUMENT_COLUMNS = tuple(DocumentMeta.model_fields)
REJECTED_COLUMNS = ("doc_id", "start", "end", "surface", "errors", "candidate")
ERROR_COLUMNS = ("path", "stage", "reason")

if TYPE_CHECKING:  # pandas is imported where a frame is made: the workers never make one (50 MB each)
    import pandas as pd


def document_row(meta: DocumentMeta) -> dict[str, Any]:
    row = meta.model_dump()
    row["report_date"] = meta.report_date.isoformat() if meta.report_date else None
    return row


def rejected_row(rej: Rejected) -> dict[str, Any]:
    row = rej.model_dump()
    row["candidate"] = json.dumps(rej.candidate, ensure_ascii=False, default=str)
    return row


def frame(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(columns))


def figures_frame(figures: Iterable[Figure]) -> pd.DataFrame:
    return frame((f.row() for f in figures), FIGURE_COLUMNS)


def errors_frame(errors: Iterable[ErrorRow]) -> pd.DataFrame:
    return frame((e.model_dump() for e in errors), ERROR_COLUMNS)


def write_table(df: pd.DataFrame, out_dir: Path, name: str, parquet: bool = True) -> None:
    """``name.csv`` (UTF-8 with BOM, so Excel opens Chinese correctly) and ``name.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{name}.csv.tmp"
    df.to_csv(tmp, index=False, encoding="utf-8-sig")
    tmp.replace(out_dir / f"{name}.csv")
    if parquet:
        tmp = out_dir / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False)
        tmp.replace(out_dir / f"{name}.parquet")
